"""The recommender contract and the helpers every recommender shares."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import polars as pl

from hmrec.data.lists import FALLBACK_RANK, fill_with, top_per_customer
from hmrec.data.week import WeekInput
from hmrec.features.lookup import packed
from hmrec.schema import Col, K

__all__ = ["FALLBACK_RANK", "FILL", "Recommender", "fill_with", "top_per_customer", "with_details"]


PAIR = "__pair"
FILL = "popular fill"
"""The ``sources`` of an article the popular fill added to a ranked list."""


@runtime_checkable
class Recommender(Protocol):
    """What the ``--model`` choices are.

    ``fit`` is given all a model may see of a week (``WeekInput``: the history before its cutoff,
    the customers it will serve, the catalogue); ``refresh`` takes a newer week to score from
    without fitting again (what a saved model does with new data);
    ``recommend`` returns, for each given customer, ``k`` distinct articles as ``customer,
    article, rank`` (see ``schema.RECOMMENDATION_SCHEMA``), rank 1 the most likely, and with
    ``details`` also ``score`` and ``sources`` (``with_details``). ``popular`` is the fill list:
    what a customer with too few articles of their own gets.
    """

    name: str
    popular: list[int]

    def fit(self, week: WeekInput) -> Recommender: ...

    def refresh(self, week: WeekInput) -> Recommender: ...

    def recommend(self, customers: pl.Series, k: int = K, details: bool = False) -> pl.DataFrame: ...


def with_details(recs: pl.DataFrame, scored: pl.DataFrame | None, name: str) -> pl.DataFrame:
    """``recs`` with ``score`` and ``sources``: those of ``scored`` (``customer, article, score,
    sources`` and any other column of it) where it holds the pair, ``popular fill`` for the rest; without ``scored``, no
    score and the model's ``name`` as the source."""
    if scored is None:
        return recs.with_columns(pl.lit(None, pl.Float64).alias(Col.SCORE), pl.lit(name).alias(Col.SOURCES))
    # joined on one integer per pair, the order of ``recs`` kept (a third of the time of a join
    # on the two columns at full size)
    pair = packed([Col.CUSTOMER, Col.ARTICLE]).alias(PAIR)
    details = scored.select(pair, pl.exclude(Col.CUSTOMER, Col.ARTICLE, Col.RANK, PAIR))  # score, sources, ...
    return (
        recs.with_columns(pair)
        .join(details, on=PAIR, how="left", maintain_order="left")
        .drop(PAIR)
        .with_columns(pl.col(Col.SOURCES).fill_null(FILL))
    )


def source_lists() -> pl.Expr:
    """The ``sources`` column as lists of names (inside, and in the serving files, it is the
    names joined by commas)."""
    return pl.col(Col.SOURCES).str.split(",").alias(Col.SOURCES)
