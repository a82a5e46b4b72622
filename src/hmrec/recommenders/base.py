"""The recommender contract and the helpers every recommender shares."""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

import polars as pl

from hmrec.schema import RECOMMENDATION_SCHEMA, Col, K


@runtime_checkable
class Recommender(Protocol):
    """What the CLI's ``--model`` choices are.

    ``fit`` sees only the history before ``cutoff``; ``recommend`` returns, for each given
    customer, ``k`` distinct articles as ``customer, article, rank`` (see
    ``schema.RECOMMENDATION_SCHEMA``), rank 1 the most likely.
    """

    name: str

    def fit(self, history: pl.LazyFrame, cutoff: date) -> Recommender: ...

    def recommend(self, customers: pl.Series, k: int = K) -> pl.DataFrame: ...


def top_per_customer(scored: pl.LazyFrame, k: int) -> pl.LazyFrame:
    """The ``k`` best ``(customer, article, score)`` rows per customer with a 1-based ``rank``.

    Scores are rounded to 7 significant digits first: float sums whose order depends on
    parallel joins differ in their last bits, and must not reorder a customer's list. Ties
    then break on the article index, so the result is deterministic.
    """
    return (
        scored.with_columns(pl.col(Col.SCORE).cast(pl.Float64).round_sig_figs(7))
        .sort([Col.CUSTOMER, Col.SCORE, Col.ARTICLE], descending=[False, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over(Col.CUSTOMER).alias(Col.RANK))
        .filter(pl.col(Col.RANK) <= k)
    )


FALLBACK_RANK = 1_000_000
"""Fallback articles rank after any of a customer's own."""


def fill_with(ranked: pl.LazyFrame | None, customers: pl.Series, fallback: list[int], k: int = K) -> pl.DataFrame:
    """Each of ``customers`` gets ``k`` distinct articles: its own ranked ones, then ``fallback``.

    ``ranked`` holds ``customer, article, rank`` (None: nothing of its own); rows for other
    customers are ignored. Raises when ``fallback`` is too short to fill ``k`` slots.
    """
    if len(set(fallback)) < k:
        raise ValueError(f"need at least {k} distinct fallback articles, got {len(set(fallback))}")
    who = pl.LazyFrame({Col.CUSTOMER: customers.cast(pl.UInt32)}).unique()
    fallback = fallback[: 2 * k]  # enough to fill any list: at most k are already taken
    own = None
    short = who  # the customers with fewer than k articles of their own: only they need the fallback
    if ranked is not None:
        own = ranked.join(who, on=Col.CUSTOMER, how="semi").select(
            pl.col(Col.CUSTOMER).cast(pl.UInt32), pl.col(Col.ARTICLE).cast(pl.UInt32), pl.col(Col.RANK).cast(pl.Int64)
        )
        full = own.group_by(Col.CUSTOMER).agg(pl.col(Col.ARTICLE).n_unique().alias("__n")).filter(pl.col("__n") >= k)
        short = who.join(full, on=Col.CUSTOMER, how="anti")
    extra = short.join(
        pl.LazyFrame(
            {
                Col.ARTICLE: pl.Series(fallback, dtype=pl.UInt32),
                Col.RANK: pl.Series(range(FALLBACK_RANK, FALLBACK_RANK + len(fallback)), dtype=pl.Int64),
            }
        ),
        how="cross",
    )
    parts = [extra] if own is None else [own, extra]
    return (
        pl.concat(parts)
        .sort(Col.CUSTOMER, Col.RANK)
        .unique([Col.CUSTOMER, Col.ARTICLE], keep="first", maintain_order=True)
        .with_columns(pl.int_range(1, pl.len() + 1).over(Col.CUSTOMER).alias(Col.RANK))
        .filter(pl.col(Col.RANK) <= k)
        .select(Col.CUSTOMER, Col.ARTICLE, pl.col(Col.RANK))
        .cast(RECOMMENDATION_SCHEMA)
        .collect()
    )
