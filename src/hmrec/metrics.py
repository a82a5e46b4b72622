"""MAP@12 exactly as Kaggle scored H&M, and recall@k.

Both take recommendations ``(customer, article, rank)`` (rank 1 first) and the truth, the
distinct ``(customer, article)`` pairs bought in the label week.

>>> import polars as pl
>>> recs = pl.DataFrame({"customer": [0, 0, 1], "article": [5, 6, 7], "rank": [1, 2, 1]})
>>> truth = pl.DataFrame({"customer": [0, 1], "article": [6, 8]})
>>> map_at_k(recs, truth)  # customer 0: hit at position 2 -> 1/2; customer 1: 0
0.25
>>> recall_at_k(recs, truth)
0.5
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from hmrec.schema import Col, K


def _frame(df: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    return df.lazy() if isinstance(df, pl.DataFrame) else df


def _positions(recs: pl.LazyFrame, k: int) -> pl.LazyFrame:
    """The first ``k`` predictions per customer with their 1-based position and a first-time flag."""
    return (
        recs.select(Col.CUSTOMER, Col.ARTICLE, Col.RANK)
        .sort(Col.CUSTOMER, Col.RANK, maintain_order=True)
        .with_columns(pos=pl.int_range(1, pl.len() + 1).over(Col.CUSTOMER))
        .filter(pl.col("pos") <= k)
        .with_columns(first=pl.int_range(pl.len()).over(Col.CUSTOMER, Col.ARTICLE) == 0)
    )


def average_precisions(
    recs: pl.DataFrame | pl.LazyFrame, truth: pl.DataFrame | pl.LazyFrame, k: int = K
) -> pl.DataFrame:
    """AP@k of every customer in ``truth``: ``customer, ap`` (0 where nothing was predicted)."""
    truth = _frame(truth).select(Col.CUSTOMER, Col.ARTICLE).unique()
    n_bought = truth.group_by(Col.CUSTOMER).agg(m=pl.len())
    hits = (
        _positions(_frame(recs), k)
        .join(truth.with_columns(bought=pl.lit(True)), on=[Col.CUSTOMER, Col.ARTICLE], how="left")
        .with_columns(hit=(pl.col("bought").fill_null(False) & pl.col("first")).cast(pl.UInt32))
        .with_columns(cum=pl.col("hit").cum_sum().over(Col.CUSTOMER, order_by="pos"))
        .group_by(Col.CUSTOMER)
        .agg(total=(pl.col("hit") * pl.col("cum") / pl.col("pos")).sum())
    )
    return (
        n_bought.join(hits, on=Col.CUSTOMER, how="left")
        .select(Col.CUSTOMER, ap=pl.col("total").fill_null(0.0) / pl.min_horizontal("m", pl.lit(k)))
        .collect()
    )


def map_at_k(recs: pl.DataFrame | pl.LazyFrame, truth: pl.DataFrame | pl.LazyFrame, k: int = K) -> float:
    """Mean AP@k over the customers who bought something; 0.0 when nobody did."""
    aps = average_precisions(recs, truth, k)
    return float(aps["ap"].mean()) if aps.height else 0.0


def map_of_lists(customers: np.ndarray, lists: np.ndarray, truth: pl.DataFrame, k: int = K) -> float:
    """``map_at_k`` of lists held as an array (``data.lists.filled_lists``: a row of distinct
    article indices per customer of ``customers``, sorted and distinct; -1 an empty cell): the
    same figure, to the last bits of a float sum, without a frame per call."""
    pairs = truth.select(Col.CUSTOMER, Col.ARTICLE).unique()
    if pairs.is_empty() or len(customers) == 0:  # nobody bought, or every buyer's AP is 0
        return 0.0
    buyer = pairs[Col.CUSTOMER].to_numpy().astype(np.uint64)
    bought = np.sort((buyer << np.uint64(32)) | pairs[Col.ARTICLE].to_numpy().astype(np.uint64))
    owners, lists = customers.astype(np.uint64), lists[:, :k]
    keys = (owners[:, None] << np.uint64(32)) | np.where(lists >= 0, lists, 0).astype(np.uint64)
    hit = np.isin(keys, bought) & (lists >= 0)
    totals = (hit * hit.cumsum(axis=1) / np.arange(1, lists.shape[1] + 1)).sum(axis=1)
    who, m = np.unique(buyer, return_counts=True)
    row = np.searchsorted(owners, who).clip(max=len(owners) - 1)
    return float((np.where(owners[row] == who, totals[row], 0.0) / np.minimum(m, k)).mean())


def recall_at_k(recs: pl.DataFrame | pl.LazyFrame, truth: pl.DataFrame | pl.LazyFrame, k: int = K) -> float:
    """Share of the distinct bought pairs found in each customer's first ``k`` predictions."""
    truth = _frame(truth).select(Col.CUSTOMER, Col.ARTICLE).unique()
    found = (
        _positions(_frame(recs), k)
        .filter("first")
        .join(truth, on=[Col.CUSTOMER, Col.ARTICLE], how="semi")
        .select(pl.len())
        .collect()
        .item()
    )
    total = truth.select(pl.len()).collect().item()
    return found / total if total else 0.0


def paired_gain(trial: pl.DataFrame, best: pl.DataFrame) -> tuple[float, float]:
    """The mean and standard error of the change in AP@12 from ``best`` to ``trial`` (each
    ``week, customer, ap``) over the buyers both were scored on."""
    both = trial.join(best, on=["week", Col.CUSTOMER], suffix="_best")
    change = both["ap"] - both["ap_best"]
    if change.len() < 2:
        return float(change.sum()), math.inf
    return float(change.mean()), float(change.std()) / math.sqrt(change.len())
