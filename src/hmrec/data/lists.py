"""Ranked lists every stage shares: a customer's best rows, time-decayed purchase counts, the
week's best sellers, and filling a list up to ``k`` articles.

They sit below both the candidate sources (``retrieval``) and the recommenders, which import
them from here.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from hmrec.data.split import days_before
from hmrec.data.split import history as before
from hmrec.schema import INDEX_DTYPE, RECOMMENDATION_SCHEMA, Col, K


def top_per_customer(scored: pl.LazyFrame, k: int) -> pl.LazyFrame:
    """The ``k`` best ``(customer, article, score)`` rows per customer with a 1-based ``rank``.

    Scores are rounded to 7 significant digits first: float sums whose order depends on
    parallel joins differ in their last bits, and must not reorder a customer's list. Ties
    then break on the article index, so the result is deterministic.
    """
    return (
        scored.with_columns(pl.col(Col.SCORE).cast(pl.Float64).round_sig_figs(7))
        # a row among its customer's k best has fewer than k rows scored above it: the rest go
        # before the sort (at full size a chunk's taste source scores 26.3M rows and keeps 10M)
        .filter(pl.col(Col.SCORE).rank("min", descending=True).over(Col.CUSTOMER) <= k)
        .sort([Col.CUSTOMER, Col.SCORE, Col.ARTICLE], descending=[False, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over(Col.CUSTOMER).alias(Col.RANK))
        .filter(pl.col(Col.RANK) <= k)
    )


def top_in_groups(groups: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best rows of each group, as ``top_per_customer`` picks them, without sorting
    all rows: ``groups`` (one id per row) must come in contiguous runs (such as a frame sorted by
    customer), the rows of a run in the order that breaks ties (by article index).

    Returns the kept rows' positions and their 1-based ranks, group by group, best first. Each
    run is laid in a row of a table as wide as the longest run (empty cells -inf, after the run's
    own) and sorted there, stably: a sort of ``cap`` values per customer, not of every row.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    table = np.full((len(starts), int(sizes.max())), -np.inf)
    table[np.repeat(np.arange(len(starts)), sizes), np.arange(len(groups)) - np.repeat(starts, sizes)] = scores
    order = np.argsort(-table, axis=1, kind="stable")[:, :k]
    kept = order < sizes[:, None]
    ranks = np.broadcast_to(np.arange(1, order.shape[1] + 1), order.shape)
    return (starts[:, None] + order)[kept], ranks[kept]


def decayed_counts(history: pl.LazyFrame, cutoff: date, weeks: int, decay: float) -> pl.LazyFrame:
    """``customer, article, score``: units bought in the last ``weeks``, each ``exp(-decay * days)``."""
    recent = history.filter(pl.col(Col.DATE) >= cutoff - timedelta(weeks=weeks), pl.col(Col.DATE) < cutoff)
    return recent.group_by(Col.CUSTOMER, Col.ARTICLE).agg((-decay * days_before(cutoff)).exp().sum().alias(Col.SCORE))


def best_sellers(history: pl.LazyFrame, cutoff: date, days: int = 7, n: int = 2 * K) -> pl.DataFrame:
    """The week's best sellers, the one definition every stage uses: ``article, score`` (units
    sold in the ``days`` before ``cutoff``), the ``n`` most sold first, ties to the lower index.

    When that window holds fewer than ``n`` articles, the most sold of the whole history before
    ``cutoff`` follow (score 0), so a list is never short while the shop has ``n`` articles."""
    past = before(history, cutoff)

    def top(rows: pl.LazyFrame, limit: int) -> pl.DataFrame:
        counts = rows.group_by(Col.ARTICLE).agg(pl.len().cast(pl.Float32).alias(Col.SCORE))
        return counts.sort([Col.SCORE, Col.ARTICLE], descending=[True, False]).head(limit).collect()

    recent = top(past.filter(pl.col(Col.DATE) >= cutoff - timedelta(days=days)), n)
    if recent.height >= n:
        return recent
    rest = top(past.join(recent.lazy(), on=Col.ARTICLE, how="anti"), n - recent.height)
    return pl.concat([recent, rest.with_columns(pl.lit(0.0, pl.Float32).alias(Col.SCORE))])


def popular_articles(history: pl.LazyFrame, cutoff: date, days: int = 7, n: int = 2 * K) -> list[int]:
    """``best_sellers`` as a list of article indices, best first."""
    return best_sellers(history, cutoff, days, n)[Col.ARTICLE].to_list()


FILL_RANK = 1_000_000
"""Fallback articles rank after any of a customer's own."""


def fill_with(ranked: pl.LazyFrame | None, customers: pl.Series, fill: list[int], k: int = K) -> pl.DataFrame:
    """Each of ``customers`` gets ``k`` distinct articles: its own ranked ones, then ``fill``.

    ``ranked`` holds ``customer, article, rank`` (None: nothing of its own); rows for other
    customers are ignored. Raises when ``fill`` is too short to fill ``k`` slots.

    Three kinds of customer, each the cheap way: those with ``k`` distinct articles of their
    own keep their ``k`` best, those with none get the fill's first ``k`` distinct (one
    list, joined), and only those in between are merged with the fill article by article.
    """
    if len(set(fill)) < k:
        raise ValueError(f"need at least {k} distinct fill articles, got {len(set(fill))}")
    who = pl.LazyFrame({Col.CUSTOMER: customers.cast(INDEX_DTYPE)}).unique()
    fill = fill[: 2 * k]  # enough to fill any list: at most k are already taken

    def ranks_up_to_k(rows: pl.LazyFrame) -> pl.LazyFrame:
        """``rows`` (sorted by customer, then best first, articles distinct) ranked 1, 2, ...
        within each customer, the first ``k`` kept."""
        ranked_rows = rows.with_columns(pl.int_range(1, pl.len() + 1).over(Col.CUSTOMER).alias(Col.RANK))
        return ranked_rows.filter(pl.col(Col.RANK) <= k).select(Col.CUSTOMER, Col.ARTICLE, Col.RANK)

    distinct = list(dict.fromkeys(fill))[:k]  # what a customer without articles gets
    first_k = pl.LazyFrame(
        {Col.ARTICLE: pl.Series(distinct, dtype=INDEX_DTYPE), Col.RANK: pl.Series(range(1, k + 1), dtype=pl.Int64)}
    )
    if ranked is None:
        return who.join(first_k, how="cross").sort(Col.CUSTOMER, Col.RANK).cast(RECOMMENDATION_SCHEMA).collect()
    own = (
        ranked.join(who, on=Col.CUSTOMER, how="semi")
        .select(
            pl.col(Col.CUSTOMER).cast(INDEX_DTYPE),
            pl.col(Col.ARTICLE).cast(INDEX_DTYPE),
            pl.col(Col.RANK).cast(pl.Int64),
        )
        .sort(Col.CUSTOMER, Col.RANK)
        .unique([Col.CUSTOMER, Col.ARTICLE], keep="first", maintain_order=True)
        .with_columns(pl.len().over(Col.CUSTOMER).alias("__n"))
        .collect()
        .lazy()
    )
    listed = pl.LazyFrame(  # ranked after any of a customer's own articles
        {
            Col.ARTICLE: pl.Series(fill, dtype=INDEX_DTYPE),
            Col.RANK: pl.Series(range(FILL_RANK, FILL_RANK + len(fill)), dtype=pl.Int64),
        }
    )
    full = ranks_up_to_k(own.filter(pl.col("__n") >= k))
    some = own.filter(pl.col("__n") < k).drop("__n")
    merged = ranks_up_to_k(
        pl.concat([some, some.select(Col.CUSTOMER).unique().join(listed, how="cross")])
        .sort(Col.CUSTOMER, Col.RANK)
        .unique([Col.CUSTOMER, Col.ARTICLE], keep="first", maintain_order=True)
    )
    none = who.join(own.select(Col.CUSTOMER).unique(), on=Col.CUSTOMER, how="anti").join(first_k, how="cross")
    return (
        pl.concat([full, merged, none.select(Col.CUSTOMER, Col.ARTICLE, Col.RANK)])
        .sort(Col.CUSTOMER, Col.RANK)
        .cast(RECOMMENDATION_SCHEMA)
        .collect()
    )


def filled_lists(ranked: pl.DataFrame, customers: np.ndarray, fill: list[int], k: int = K) -> np.ndarray:
    """The lists ``fill_with`` gives, as a ``(len(customers), k)`` array of article indices (a
    row per customer in ``customers``' order; -1 past the end of a list the fill cannot lengthen):
    an in-memory form for scoring many lists in a loop (the MF model's early stopping).

    ``customers`` must be sorted and distinct; ``ranked`` (``customer, article, rank``) sorted by
    customer, then rank, each customer's articles distinct (as ``top_n_scores`` gives them)."""
    if len(set(fill)) < k:
        raise ValueError(f"need at least {k} distinct fill articles, got {len(set(fill))}")
    extra = np.array(list(dict.fromkeys(fill[: 2 * k])), dtype=np.int64)  # what any list draws from
    table = np.full((len(customers), k + len(extra)), -1, dtype=np.int64)
    table[:, k:] = extra
    owner = ranked[Col.CUSTOMER].to_numpy().astype(np.int64)
    if len(owner) and len(customers):
        row = np.searchsorted(customers, owner).clip(max=len(customers) - 1)
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        place = np.arange(len(owner)) - np.repeat(starts, np.diff(np.r_[starts, len(owner)]))
        kept = (customers[row] == owner) & (place < k)
        table[row[kept], place[kept]] = ranked[Col.ARTICLE].to_numpy()[kept]
    valid = table >= 0
    valid[:, k:] &= ~(table[:, k:, None] == table[:, None, :k]).any(axis=2)  # the fill skips a list's own
    order = np.argsort(~valid, axis=1, kind="stable")[:, :k]  # the valid cells first, in their order
    return np.where(np.take_along_axis(valid, order, axis=1), np.take_along_axis(table, order, axis=1), -1)
