"""What the MF model scores with besides its factors: the customers' own purchases as interaction
weights, the articles bought too recently to repeat, the bonus or filter for what a customer
bought (``score_adjustments``), and the top N articles per customer (``top_n_scores``)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import torch

from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.epochs import Interactions, interactions_from
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.mf.weights import WEIGHT, Weighting, interaction_weights
from hmrec.schema import INDEX_DTYPE, Col

BONUS = "bonus"


def repeat_intervals(history: pl.LazyFrame) -> pl.LazyFrame:
    """``article, interval``: the median days between a customer's successive purchase days of it.

    Only articles bought again by somebody (on another day) have a row.
    """
    days = history.select(Col.CUSTOMER, Col.ARTICLE, Col.DATE).unique()
    gaps = days.sort(Col.CUSTOMER, Col.ARTICLE, Col.DATE).with_columns(
        pl.col(Col.DATE).diff().dt.total_days().over(Col.CUSTOMER, Col.ARTICLE).alias("gap")
    )
    return gaps.drop_nulls("gap").group_by(Col.ARTICLE).agg(pl.col("gap").median().alias("interval"))


def too_recent(history: pl.LazyFrame, cutoff: date) -> pl.LazyFrame:
    """``customer, article`` pairs last bought fewer days before ``cutoff`` than the article's
    median repeat interval (all pairs of an article nobody bought again)."""
    last = history.group_by(Col.CUSTOMER, Col.ARTICLE).agg(pl.col(Col.DATE).max().alias("last"))
    since = (pl.lit(cutoff) - pl.col("last")).dt.total_days()
    return (
        last.join(repeat_intervals(history), on=Col.ARTICLE, how="left")
        .filter(pl.col("interval").is_null() | (since < pl.col("interval")))
        .select(Col.CUSTOMER, Col.ARTICLE)
    )


def build_interactions(
    history: pl.LazyFrame, cutoff: date, cfg: MFConfig, n_articles: int | None = None
) -> Interactions:
    """The weighted pairs before ``cutoff``; index ranges cover every id seen before it (and
    at least ``n_articles`` articles)."""
    pairs = interaction_weights(history, cutoff, cfg.weighting).sort(Col.CUSTOMER, Col.ARTICLE).collect()
    # every id of the history is in some pair, so the pairs give the index ranges
    n_customers = int(pairs[Col.CUSTOMER].max() or 0) + 1
    n_articles = max(int(pairs[Col.ARTICLE].max() or 0) + 1, n_articles or 0)
    return interactions_from(
        pairs[Col.CUSTOMER].to_numpy(), pairs[Col.ARTICLE].to_numpy(), pairs[WEIGHT].to_numpy(), n_customers, n_articles
    )


def top_n_scores(
    model: MatrixFactorization,
    customers: np.ndarray,
    candidates: np.ndarray,
    n: int,
    chunk_size: int = 2048,
    adjust: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``customer, article, score, rank``: each customer's ``n`` best ``candidates``.

    Scored ``chunk_size`` customers at a time (never all customers x all articles); the score
    leaves out the customer's bias, which does not change a customer's order. ``adjust``
    (``customer, article, bonus``) adds its bonus to those pairs' scores first; a pair whose
    bonus is ``-inf`` is never returned.
    """
    device = next(model.parameters()).device
    cand = torch.from_numpy(candidates.astype(np.int64)).to(device)
    position = np.full(int(candidates.max()) + 1 if len(candidates) else 1, -1, dtype=np.int64)
    position[candidates] = np.arange(len(candidates))
    n = min(n, len(candidates))
    if adjust is not None:  # sorted once: each chunk reads its customers' slice, not the whole table
        adjust = adjust.sort(Col.CUSTOMER)
        owners = adjust[Col.CUSTOMER].to_numpy()
    rows, cols, vals = [], [], []
    for lo in range(0, len(customers), chunk_size):
        chunk = customers[lo : lo + chunk_size]
        scores = model.ranking_scores(torch.from_numpy(chunk.astype(np.int64)).to(device), cand)
        if adjust is not None and len(chunk):
            start = int(np.searchsorted(owners, chunk.min(), side="left"))
            end = int(np.searchsorted(owners, chunk.max(), side="right"))
            _adjust(scores, chunk, adjust.slice(start, end - start), position)
        values, idx = torch.topk(scores, n, dim=1)
        rows.append(np.repeat(chunk, n))
        cols.append(idx.cpu().numpy().ravel())
        vals.append(values.cpu().numpy().ravel())
    out = pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series(np.concatenate(rows) if rows else [], dtype=INDEX_DTYPE),
            Col.ARTICLE: pl.Series(candidates[np.concatenate(cols)] if cols else [], dtype=INDEX_DTYPE),
            Col.SCORE: pl.Series(np.concatenate(vals) if vals else [], dtype=pl.Float32),
            Col.RANK: pl.Series(np.tile(np.arange(1, n + 1), len(customers)), dtype=pl.UInt16),
        }
    )
    return out.filter(pl.col(Col.SCORE) > -np.inf) if adjust is not None else out


def _adjust(scores: torch.Tensor, chunk: np.ndarray, adjust: pl.DataFrame, position: np.ndarray) -> None:
    """Add the ``adjust`` bonus of this chunk's customers' pairs to their scores, in place."""
    rows = adjust.filter(pl.col(Col.CUSTOMER).is_in(pl.Series(chunk).implode()))
    if rows.is_empty():
        return
    art = rows[Col.ARTICLE].to_numpy()
    keep = art < len(position)
    col = position[art[keep]]
    order = np.argsort(chunk, kind="stable")
    row = order[np.searchsorted(chunk[order], rows[Col.CUSTOMER].to_numpy()[keep])].astype(np.int64)
    ok = col >= 0
    bonus = torch.from_numpy(rows[BONUS].to_numpy()[keep][ok].astype(np.float32)).to(scores.device)
    at = (torch.from_numpy(row[ok]), torch.from_numpy(col[ok]))
    scores[at] = scores[at] + bonus


def score_adjustments(
    history: pl.LazyFrame, cutoff: date, filter: str, boost: float, weighting: Weighting
) -> pl.DataFrame | None:
    """``customer, article, bonus``: what scoring adds to the factors' score of a bought pair.

    ``-inf`` for a pair ``filter`` leaves out (``bought``: every bought pair; ``interval``: one
    bought more recently than the article's median repeat interval), else ``boost`` times the
    pair's purchase weight (``weights.py``: recent purchases weigh more); None when nothing changes.
    """
    parts = []
    if boost > 0:
        parts.append(
            interaction_weights(history, cutoff, weighting).select(
                Col.CUSTOMER, Col.ARTICLE, (pl.col(WEIGHT) * boost).cast(pl.Float32).alias(BONUS)
            )
        )
    if filter != "none":
        left_out = (
            history.select(Col.CUSTOMER, Col.ARTICLE).unique() if filter == "bought" else too_recent(history, cutoff)
        )
        parts.append(left_out.with_columns(pl.lit(-np.inf, dtype=pl.Float32).alias(BONUS)))
    if not parts:
        return None
    return pl.concat(parts).group_by(Col.CUSTOMER, Col.ARTICLE).agg(pl.col(BONUS).min()).collect()
