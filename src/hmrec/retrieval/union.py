"""The union of candidate sources: one row per (customer, article), each source's score and rank kept."""

from __future__ import annotations

import polars as pl

from hmrec.schema import Col

N_SOURCES = "n_sources"
BEST_RANK = "best_rank"


def score_column(source: str) -> str:
    return f"{source}_score"


def rank_column(source: str) -> str:
    return f"{source}_rank"


def union(results: dict[str, pl.LazyFrame], cap: int) -> pl.LazyFrame:
    """``customer, article, <source>_score, <source>_rank..., n_sources, best_rank``, capped.

    A source's columns are null where it did not offer the pair; ``best_rank`` is the pair's
    best rank over the sources. ``results`` is in priority order: each customer keeps ``cap``
    rows, all of the first source's before the second's, and so on (within a source by its
    rank, then by how many sources offered the article, then by article index). So the union
    at any cap holds the first source's candidates at that cap, and more for every customer
    for whom it has fewer.
    """
    if not results:
        raise ValueError("union of no sources: give at least one candidate source")
    wide: pl.LazyFrame | None = None
    for name, frame in results.items():
        part = frame.select(
            Col.CUSTOMER,
            Col.ARTICLE,
            pl.col(Col.SCORE).alias(score_column(name)),
            pl.col(Col.RANK).alias(rank_column(name)),
        )
        wide = part if wide is None else wide.join(part, on=[Col.CUSTOMER, Col.ARTICLE], how="full", coalesce=True)
    ranks = [rank_column(name) for name in results]
    step = 1 << 16  # above any rank (UInt16)
    priority = pl.min_horizontal(pl.col(r).cast(pl.Int64) + i * step for i, r in enumerate(ranks))
    return (
        wide.with_columns(
            pl.sum_horizontal(pl.col(r).is_not_null() for r in ranks).cast(pl.UInt8).alias(N_SOURCES),
            pl.min_horizontal(ranks).alias(BEST_RANK),
            priority.alias("__priority"),
        )
        .sort([Col.CUSTOMER, "__priority", N_SOURCES, Col.ARTICLE], descending=[False, False, True, False])
        .with_columns(pl.int_range(pl.len()).over(Col.CUSTOMER).alias("__pos"))
        .filter(pl.col("__pos") < cap)
        .drop("__pos", "__priority")
    )
