"""Scoring candidates with a fitted ranker, a chunk of customers at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from hmrec.data.lists import top_in_groups
from hmrec.data.week import WeekInput
from hmrec.features.lookup import packed
from hmrec.ranking.data import CandidateConfig, candidate_features
from hmrec.ranking.model import EXPLAIN, FittedRanker
from hmrec.retrieval.union import rank_column
from hmrec.schema import INDEX_DTYPE, Col


def _sources(frame: pl.DataFrame, names: tuple[str, ...]) -> pl.Expr:
    present = [n for n in names if rank_column(n) in frame.columns]
    flags = [pl.when(pl.col(rank_column(n)).is_not_null()).then(pl.lit(n)) for n in present]
    return pl.concat_str(flags, separator=",", ignore_nulls=True).alias(Col.SOURCES)


def rank_chunk(
    ranker: FittedRanker, frame: pl.DataFrame, names: tuple[str, ...], k: int, explain: bool = False
) -> pl.DataFrame:
    """The ``k`` best candidates per customer of ``frame`` (from ``candidate_features``: sorted by
    customer and article): ``customer, article, score, rank, sources`` (and with ``explain``,
    each kept row's reasons, ``FittedRanker.reasons``).

    The frame's order is kept: each customer's rows are sorted among themselves
    (``top_in_groups``), and only the kept rows are gathered and given their sources."""
    if not frame.select(packed([Col.CUSTOMER, Col.ARTICLE])).to_series().is_sorted():
        frame = frame.sort(Col.CUSTOMER, Col.ARTICLE)  # not from candidate_features: its order
    # rounded as top_per_customer rounds: float sums whose order varies must not reorder a list
    scores = pl.Series(Col.SCORE, ranker.predict(frame), dtype=pl.Float64).round_sig_figs(7)
    rows, ranks = top_in_groups(frame[Col.CUSTOMER].to_numpy(), scores.to_numpy(), k)
    kept = frame.select(Col.CUSTOMER, Col.ARTICLE, *(rank_column(n) for n in names if rank_column(n) in frame.columns))
    kept = kept[rows]
    reasons = [ranker.reasons(frame[rows])] if explain else []
    return kept.select(
        Col.CUSTOMER,
        Col.ARTICLE,
        scores.gather(rows),
        pl.Series(Col.RANK, ranks, dtype=pl.Int64),
        _sources(kept, names),
        *reasons,
    )


CHUNK_ROWS = 2_500_000
"""At most this many candidate rows are built at once: a chunk holds ``chunk_size`` customers,
fewer when each has more than ``CHUNK_ROWS // chunk_size`` candidates (25,000 customers of 100
candidates). A row with its features costs about 1 KB while it is built (one shard of the xl shop,
98k customers: 4.48 GiB over the week's state with 5M rows a chunk, 2.56 with 2.5M, 1.38 with
1.25M; 200,000 customers at full size: 75.5 s at 5M and at 2.5M, 85.1 s at 1.25M, the same
lists)."""

SCORED_SCHEMA = {
    Col.CUSTOMER: INDEX_DTYPE,
    Col.ARTICLE: INDEX_DTYPE,
    Col.SCORE: pl.Float64,
    Col.RANK: pl.Int64,
    Col.SOURCES: pl.String,
}
"""What ``rank_customers`` returns."""


@dataclass(frozen=True)
class RankWork:
    """``rank_customers`` with a fitted ranker and its settings: an engine's work."""

    ranker: FittedRanker
    candidates: CandidateConfig
    k: int
    chunk_size: int
    explain: bool = False

    def __call__(
        self, week: WeekInput, customers: pl.Series, on_chunk: Callable[[int, int], None] | None = None
    ) -> pl.DataFrame:
        return rank_customers(
            self.ranker, week, customers, self.candidates, self.k, self.chunk_size, on_chunk, self.explain
        )


def rank_customers(
    ranker: FittedRanker,
    week: WeekInput,
    customers: pl.Series,
    candidates: CandidateConfig,
    k: int,
    chunk_size: int,
    on_chunk: Callable[[int, int], None] | None = None,
    explain: bool = False,
) -> pl.DataFrame:
    """Rank each customer's candidates, ``chunk_size`` customers at a time (at most
    ``CHUNK_ROWS // candidates.cap``: memory is bounded by the chunk's rows), and keep the ``k``
    best: ``customer, article, score, rank, sources`` (with ``explain``, ``explain`` too),
    sorted by customer then rank.

    ``week`` is the week with its global state computed (``Tables.week``); its history may hold
    only some customers' rows (a shard's). Customers with no purchase in it before the cutoff are
    skipped (they have no candidates of their own; the caller fills their lists).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk size must be at least 1, got {chunk_size}")
    known = (
        week.past()
        .select(Col.CUSTOMER)
        .unique()
        .join(pl.LazyFrame({Col.CUSTOMER: customers.cast(INDEX_DTYPE)}), on=Col.CUSTOMER, how="semi")
        .sort(Col.CUSTOMER)
        .collect()[Col.CUSTOMER]
    )
    ranker.prepare(len(known) * candidates.cap)  # compiled trees when there are many rows to score
    size = max(1, min(chunk_size, CHUNK_ROWS // candidates.cap))
    starts = range(0, len(known), size)
    schema = {**SCORED_SCHEMA, **({EXPLAIN: ranker.reasons(pl.DataFrame()).dtype} if explain else {})}
    parts = [pl.DataFrame(schema=schema)]
    for i, lo in enumerate(starts):
        frame = candidate_features(week.chunk(known.slice(lo, size)), candidates)
        parts.append(rank_chunk(ranker, frame, candidates.sources, k, explain))
        if on_chunk:
            on_chunk(i + 1, len(starts))
    return pl.concat(parts)
