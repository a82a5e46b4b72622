"""The candidate-source contract and what every source is given."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import polars as pl

from hmrec.data.lists import top_per_customer
from hmrec.data.week import WeekInput
from hmrec.schema import INDEX_DTYPE, Col

CANDIDATE_SCHEMA: dict[str, pl.DataType] = {
    Col.CUSTOMER: INDEX_DTYPE(),
    Col.ARTICLE: INDEX_DTYPE(),
    Col.SCORE: pl.Float32(),
    Col.RANK: pl.UInt16(),
}
"""What a source returns: one row per (customer, article), rank 1 its best."""


@runtime_checkable
class CandidateSource(Protocol):
    """A cheap rule proposing articles per customer. Settings in the constructor, data in the call."""

    name: str

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        """``customer, article, score, rank`` for the customers of ``data`` (see CANDIDATE_SCHEMA)."""
        ...


def ranked(scored: pl.LazyFrame, n: int) -> pl.LazyFrame:
    """The ``n`` best ``customer, article, score`` rows per customer, typed as CANDIDATE_SCHEMA."""
    return top_per_customer(scored, n).select(list(CANDIDATE_SCHEMA)).cast(CANDIDATE_SCHEMA)


def best(articles: pl.LazyFrame, n: int) -> pl.LazyFrame:
    """The ``n`` best of ``article, score`` (ties: lower article index), with their ``rank``."""
    top = articles.sort([Col.SCORE, Col.ARTICLE], descending=[True, False]).head(n)
    return top.with_columns((pl.int_range(pl.len()) + 1).alias(Col.RANK))


def for_everyone(data: WeekInput, top: pl.LazyFrame) -> pl.LazyFrame:
    """The same list (``article, score, rank`` from ``best``) for every customer served."""
    return data.customers.join(top, how="cross").select(list(CANDIDATE_SCHEMA)).cast(CANDIDATE_SCHEMA)
