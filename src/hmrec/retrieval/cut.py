"""The learned cut: which of a customer's pooled candidates the ranker gets to score.

The union of the sources at ``per_source`` each is the *pool*; the ranker scores the ``cap`` best
of it per customer. Without a cut the order is fixed (the first source's candidates, then the
second's, ...), which on a shop where the first sources are weak hands the ranker fewer bought
articles than the best source alone would. The cut learns the order from the shop itself: a
logistic model over each source's rank (in ``BUCKETS`` rank bands, one weight per source and
band, added up over the sources that offered the article) fitted on the weeks before the cutoff
(each week's candidates from the rows before it, labelled by its purchases; ``learned_cut`` in
``retrieval/pipeline.py``). So it is a global table of the cutoff, like the popular lists: a
function of the history before it only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

BUCKETS = 26
"""Rank bands per source (``band``): ranks up to 10,000 have their own."""
RIDGE = 1.0
"""The penalty on each weight (in rows): bands with few rows stay near 0."""
NEWTON_STEPS = 50
MAX_STEP = 2.0
"""The largest change of one weight in one Newton step."""
RANK_TABLE = 1 << 16
"""``Cut.score`` reads a weight per rank below this (every band starts below it)."""
LEVELS = (1 << 16) - 1
"""A cut score is quantised to 16 bits in the union's order key."""


def band(rank: pl.Expr) -> pl.Expr:
    """The rank band of each rank: 1 -> 0, 2 -> 1, 3 -> 2, 4-5 -> 3, 6-7 -> 4, 8-11 -> 5, 12-15
    -> 6, ... (two bands per doubling, none empty)."""
    return ((rank.cast(pl.Float64).log(2) * 2).floor() - 1).clip(0, BUCKETS - 1).cast(pl.Int64)


@dataclass(frozen=True)
class Cut:
    """Fitted weights: ``bias`` plus, for each source that offered the pair, its weight of the
    pair's rank band there (the log-odds that the customer buys it in the week)."""

    sources: tuple[str, ...]
    bias: float
    weights: tuple[tuple[float, ...], ...]

    def score(self, rank_columns: dict[str, str]) -> pl.Expr:
        """The cut score of each row of a union (``rank_columns``: source -> its rank column).

        Each source's term is read from a table of its weight at every rank (a gather: on 15M
        synthetic rows 0.38 s, against 2.44 s for mapping each row's band to its weight); ranks past the table's end are
        in the last band, as the table's last entry is."""
        ranks = pl.Series(np.arange(RANK_TABLE))
        bands = pl.select(band(pl.lit(ranks))).to_series().to_numpy()
        terms = [
            pl.lit(pl.Series(np.asarray(w, dtype=np.float64)[bands]))
            .gather(pl.col(rank_columns[s]).cast(pl.Int64).clip(0, RANK_TABLE - 1))
            .fill_null(0.0)
            for s, w in zip(self.sources, self.weights, strict=True)
            if s in rank_columns
        ]
        return pl.lit(self.bias, pl.Float64) + pl.sum_horizontal(terms)

    def level(self, rank_columns: dict[str, str]) -> pl.Expr:
        """The score quantised to 0..LEVELS over its possible range (higher is better)."""
        low = self.bias + sum(min(0.0, min(w)) for w in self.weights)
        high = self.bias + sum(max(0.0, max(w)) for w in self.weights)
        span = max(high - low, 1e-12)
        return ((self.score(rank_columns) - low) / span * LEVELS).round().clip(0, LEVELS).cast(pl.Int64)


def band_counts(pool: pl.DataFrame, sources: tuple[str, ...], rank_columns: dict[str, str], label: str) -> pl.DataFrame:
    """A labelled pool (one row per customer and article, ``label`` 1 where it was bought) as
    what the cut learns from it: one row per pattern of rank bands over ``sources`` (a column
    each, null where the source did not offer the pair), with its rows ``n`` and bought ``y``.
    Rows with the same bands are the same to the model: a few thousand patterns for millions of
    rows."""
    bands = [band(pl.col(rank_columns[s])).alias(s) for s in sources]
    return pool.group_by(bands).agg(pl.len().alias("n"), pl.col(label).cast(pl.Float64).sum().alias("y"))


def fit_counts(counts: pl.DataFrame, sources: tuple[str, ...]) -> Cut | None:
    """Fit the cut's weights on ``band_counts`` (of one pool, or several summed); None when
    nothing was bought (nothing to learn from).

    The logistic loss is minimised by Newton's method on the counts (ridge ``RIDGE``); each
    source's weights are then made non-increasing with the rank, so a source's own order is
    never reversed."""
    if counts.is_empty() or counts["y"].sum() == 0:
        return None
    counts = counts.group_by(list(sources)).agg(pl.col("n").sum(), pl.col("y").sum())
    counts = counts.sort(list(sources))  # the same pool always gives the same rows in the same order
    n_params = 1 + len(sources) * BUCKETS
    # the design is one-hot per source: each row's columns (the bias, then each source's band;
    # ``n_params``, a column of no weight, where the source did not offer the pair) stand for it
    columns = np.zeros((counts.height, 1 + len(sources)), dtype=np.int64)
    for i, s in enumerate(sources):
        columns[:, 1 + i] = (1 + i * BUCKETS + counts[s].cast(pl.Int64)).fill_null(n_params).to_numpy()
    width = n_params + 1
    pairs = [(a, b) for a in range(columns.shape[1]) for b in range(a, columns.shape[1])]
    cells = [columns[:, a] * width + columns[:, b] for a, b in pairs]
    n, y = counts["n"].to_numpy().astype(np.float64), counts["y"].to_numpy()
    theta = np.zeros(width)  # the last stays 0
    theta[0] = math.log(max(y.sum(), 0.5) / max(n.sum() - y.sum(), 0.5))
    penalty = np.full(n_params, RIDGE)
    penalty[0] = 0.0
    for _ in range(NEWTON_STEPS):
        p = np.exp(-np.logaddexp(0.0, -theta[columns].sum(axis=1)))
        residual, curvature = n * p - y, n * p * (1 - p)
        gradient = np.bincount(columns.ravel(), np.repeat(residual, columns.shape[1]), width)[:n_params]
        gradient += penalty * theta[:n_params]
        hessian = np.zeros(width * width)
        for (a, b), cell in zip(pairs, cells, strict=True):
            counted = np.bincount(cell, curvature, width * width)
            hessian += counted
            if a != b:  # the cell's mirror: the design's columns a and b the other way round
                hessian += counted.reshape(width, width).T.ravel()
        hessian = hessian.reshape(width, width)[:n_params, :n_params] + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        step *= min(1.0, MAX_STEP / max(np.abs(step).max(), 1e-300))  # damped: no overshoot far from the optimum
        theta[:n_params] -= step
        if np.abs(step).max() < 1e-7:
            break
    theta = theta[:n_params]
    weights = theta[1:].reshape(len(sources), BUCKETS)
    weights = np.minimum.accumulate(weights, axis=1)
    return Cut(sources, float(theta[0]), tuple(tuple(float(v) for v in row) for row in weights))
