"""The union of candidate sources: one row per (customer, article), each source's score and rank kept."""

from __future__ import annotations

import polars as pl

from hmrec.features.lookup import halves, joined32
from hmrec.retrieval.cut import LEVELS, Cut
from hmrec.schema import Col

MAX_SOURCES = 64
"""How many sources a union takes (its order key packs a source's position into 6 bits)."""
N_SOURCES = "n_sources"
BEST_RANK = "best_rank"
ORDER = "__order"
PAIR = "__pair"


def score_column(source: str) -> str:
    return f"{source}_score"


def rank_column(source: str) -> str:
    return f"{source}_rank"


def union(results: dict[str, pl.LazyFrame], cap: int, cut: Cut | None = None) -> pl.LazyFrame:
    """``customer, article, <source>_score, <source>_rank..., n_sources, best_rank``, capped.

    A source's columns are null where it did not offer the pair; ``best_rank`` is the pair's
    best rank over the sources. ``results`` is in priority order: each customer keeps ``cap``
    rows, all of the first source's before the second's, and so on (within a source by its
    rank, then by how many sources offered the article, then by article index). So the union
    at any cap holds the first source's candidates at that cap, and more for every customer
    for whom it has fewer. With a ``cut`` (``retrieval/cut.py``), each customer keeps the ``cap``
    rows of highest cut score instead (ties: the better best rank, then the article index).
    Rows come in no particular order.
    """
    if not results:
        raise ValueError("union of no sources: give at least one candidate source")
    wide = _one_row_per_pair(results)
    if len(results) > MAX_SOURCES:
        raise ValueError(f"the union takes at most {MAX_SOURCES} sources, got {len(results)}")
    ranks = [rank_column(name) for name in results]
    # One integer per row in the order described above (unique within a customer, so that its
    # rank picks the same rows as a sort would): the source's position and its rank (a UInt16),
    # then how many sources offered the article (fewer than 256), then the article (a UInt32).
    priority = pl.min_horizontal(pl.col(r).cast(pl.Int64) + (i << 16) for i, r in enumerate(ranks))
    order = priority * (1 << 40) + (255 - pl.col(N_SOURCES).cast(pl.Int64)) * (1 << 32) + pl.col(Col.ARTICLE)
    if cut is not None:  # the cut's score (16 bits), then the best rank (at most 10,000: 14 bits)
        level = cut.level({name: rank_column(name) for name in results})
        order = (LEVELS - level) * (1 << 46) + pl.col(BEST_RANK).cast(pl.Int64) * (1 << 32) + pl.col(Col.ARTICLE)
    # the key is computed over all rows first, and only ranked within each customer: inside the
    # window it would be evaluated customer by customer
    return (
        wide.with_columns(
            pl.sum_horizontal(pl.col(r).is_not_null() for r in ranks).cast(pl.UInt8).alias(N_SOURCES),
            pl.min_horizontal(ranks).alias(BEST_RANK),
        )
        .with_columns(order.alias(ORDER))
        # the key is unique within a customer: its ``cap`` smallest are those at most the
        # ``cap``-th smallest (a threshold per customer: 0.6 s against 0.8 s for a rank over
        # 13.5M rows at full size; the same rows, in the same order)
        .filter(pl.col(ORDER) <= pl.col(ORDER).bottom_k(cap).max().over(Col.CUSTOMER))
        .drop(ORDER)
    )


def _one_row_per_pair(results: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """``customer, article, <source>_score, <source>_rank...``: one row per pair any source
    offered, a source's columns null where it did not."""
    parts = [
        frame.select(
            Col.CUSTOMER,
            Col.ARTICLE,
            pl.col(Col.SCORE).alias(score_column(name)),
            pl.col(Col.RANK).alias(rank_column(name)),
        )
        for name, frame in results.items()
    ]
    # one row per pair: the sources stacked, then grouped (each source offers a pair at most
    # once, so each column's one value is its max): half the time of a chain of full joins;
    # grouped by one integer per pair (the customer's 32 bits, then the article's), unpacked
    # after: a third less time than by the two columns at full size
    columns = [c for name in results for c in (score_column(name), rank_column(name))]
    stacked = pl.concat(parts, how="diagonal")
    dtypes = stacked.collect_schema()
    customer, article = halves(PAIR)
    return (
        stacked.group_by(joined32(pl.col(Col.CUSTOMER), pl.col(Col.ARTICLE)).alias(PAIR))
        .agg(pl.col(columns).max())
        .select(
            customer.cast(dtypes[Col.CUSTOMER]).alias(Col.CUSTOMER),
            article.cast(dtypes[Col.ARTICLE]).alias(Col.ARTICLE),
            *columns,
        )
    )
