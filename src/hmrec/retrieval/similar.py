"""Articles like a given one, from three signals, each marked with where it came from:

- ``bought_together``: what its buyers also bought within a week (the co-occurrence the
  ``bought_together`` source expands purchases through, ``bought_together.co_occurrence``);
- ``same_product``: the other articles of its product (other colours or sizes), best sellers of
  the last four weeks first;
- ``embedding``: its nearest articles by the cosine of an MF model's article factors (when a
  model with factors is given), among articles bought in the history.

An article found by several signals is listed once, at its best place, with every signal that
found it. The lists are in that order of signals (co-occurrence first: it is what customers did).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from hmrec.data.week import WeekInput
from hmrec.retrieval.bought_together import PAIR, BoughtTogetherSource, co_occurrence
from hmrec.schema import INDEX_DTYPE, Col

SIGNALS = ("bought_together", "same_product", "embedding")
OTHER = "other"
RECENT_WEEKS = 4
"""The weeks whose sales order the other articles of a product."""
BLOCK = 2048
"""Articles whose embedding neighbours are found at once (a block x catalogue score matrix)."""


def similar_articles(week: WeekInput, articles: pl.Series, k: int, factors: np.ndarray | None = None) -> pl.DataFrame:
    """For each article of ``articles`` (prepared indices), at most ``k`` similar ones from the
    history of ``week``: ``article, other, rank, sources`` (rank 1 the most similar; ``sources``
    the signals that found it, in ``SIGNALS`` order), by article then rank. ``factors``: an
    article-factor matrix indexed by prepared article index, for the embedding neighbours."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    asked = pl.DataFrame({Col.ARTICLE: articles.cast(INDEX_DTYPE).unique()})
    parts = [_bought_together(week, asked, k), _same_product(week, asked, k)]
    if factors is not None:
        parts.append(_embedding(week, asked, k, factors))
    found = pl.concat([p.with_columns(signal=pl.lit(i, pl.UInt8)) for i, p in enumerate(parts)])
    names = pl.Series(list(SIGNALS))
    return (
        found.group_by(Col.ARTICLE, OTHER)
        .agg(first=pl.min("signal"), place=pl.col("place").sort_by("signal").first(), signals=pl.col("signal").sort())
        .sort(Col.ARTICLE, "first", "place", OTHER)
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt16).over(Col.ARTICLE))
        .filter(pl.col("rank") <= k)
        .select(
            Col.ARTICLE,
            OTHER,
            "rank",
            pl.col("signals").list.eval(pl.element().replace_strict(range(len(SIGNALS)), names)).alias(Col.SOURCES),
        )
    )


def _bought_together(week: WeekInput, asked: pl.DataFrame, k: int) -> pl.DataFrame:
    source = BoughtTogetherSource()
    pairs = co_occurrence(week, source.weeks, source.days, source.per_article)
    return (
        pairs.join(asked.lazy(), on=Col.ARTICLE, how="semi")
        .with_columns(place=pl.int_range(pl.len()).over(Col.ARTICLE))  # sorted by confidence already
        .filter(pl.col("place") < k)
        .select(Col.ARTICLE, pl.col(PAIR).alias(OTHER), "place")
        .collect()
    )


def _same_product(week: WeekInput, asked: pl.DataFrame, k: int) -> pl.DataFrame:
    products = week.articles.select(Col.ARTICLE, Col.PRODUCT_CODE)
    sales = week.recent(RECENT_WEEKS).group_by(Col.ARTICLE).agg(sold=pl.len())
    others = products.join(sales, on=Col.ARTICLE, how="left").select(
        pl.col(Col.ARTICLE).alias(OTHER), Col.PRODUCT_CODE, pl.col("sold").fill_null(0)
    )
    return (
        asked.lazy()
        .join(products, on=Col.ARTICLE)
        .join(others, on=Col.PRODUCT_CODE)
        .filter(pl.col(OTHER) != pl.col(Col.ARTICLE))
        .sort(Col.ARTICLE, "sold", OTHER, descending=[False, True, False])
        .with_columns(place=pl.int_range(pl.len()).over(Col.ARTICLE))
        .filter(pl.col("place") < k)
        .select(Col.ARTICLE, OTHER, "place")
        .collect()
    )


def _embedding(week: WeekInput, asked: pl.DataFrame, k: int, factors: np.ndarray) -> pl.DataFrame:
    bought = week.past().select(pl.col(Col.ARTICLE).unique()).collect()[Col.ARTICLE].to_numpy()
    bought = bought[bought < len(factors)]
    wanted = asked[Col.ARTICLE].to_numpy()
    wanted = wanted[np.isin(wanted, bought)]
    empty = pl.DataFrame(schema={Col.ARTICLE: INDEX_DTYPE, OTHER: INDEX_DTYPE, "place": pl.Int64})
    if len(wanted) == 0 or len(bought) < 2:
        return empty
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    unit = (factors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    pool = unit[bought]
    n = min(k, len(bought) - 1)
    rows = []
    for lo in range(0, len(wanted), BLOCK):
        block = wanted[lo : lo + BLOCK]
        scores = unit[block] @ pool.T
        scores[block[:, None] == bought[None, :]] = -np.inf  # never itself
        best = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        best = np.take_along_axis(best, order, axis=1)
        rows.append(
            pl.DataFrame(
                {
                    Col.ARTICLE: np.repeat(block, n).astype(np.uint32),
                    OTHER: bought[best.ravel()].astype(np.uint32),
                    "place": np.tile(np.arange(n), len(block)).astype(np.int64),
                }
            )
        )
    return pl.concat(rows) if rows else empty
