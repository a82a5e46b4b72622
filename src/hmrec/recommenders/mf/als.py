"""Weighted alternating least squares: the MF model's squared loss solved row by row.

The loss is Hu, Koren and Volinsky's implicit-feedback objective over *all* pairs::

    sum_(u,i) c_ui (p_ui - x_u . y_i)^2 + reg (|x_u|^2 + |y_i|^2)

with ``p_ui = 1`` for a bought pair (confidence ``c_ui = 1 + alpha * weight``, the weight being
the recency and markdown weight of ``weights.py``) and ``p_ui = 0``, ``c_ui = 1`` for every
other pair. Fixing the articles, each customer's row is a ridge regression; it is solved
approximately with a few conjugate-gradient steps started from the previous solution (as in
Takacs, Pilaszy and Tikk, 2011), for all customers at once: every step is one sampled
matrix product (``x_u . y_i`` on the bought pairs only) and one sparse-dense product, so
nothing of size customers x articles is ever formed. Then the articles, the same way.
An epoch is one customer pass and one article pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import torch

from hmrec.recommenders.mf import losses
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.epochs import EpochLog, Interactions, TrainResult
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.mf.weights import WEIGHT, interaction_weights
from hmrec.schema import Col

INIT_STD = 0.01


@dataclass(frozen=True)
class Side:
    """One side's bought pairs as a row-major sparse matrix: confidence minus one per pair."""

    crow: torch.Tensor  # int32 (int64 past 2**31 pairs), n_rows + 1
    col: torch.Tensor  # the same type, one per pair, rows in order
    extra: torch.Tensor  # float32, c - 1 = alpha * weight, one per pair
    n_rows: int
    n_cols: int

    @staticmethod
    def build(rows: torch.Tensor, cols: torch.Tensor, extra: torch.Tensor, n_rows: int, n_cols: int) -> Side:
        order = torch.argsort(rows * n_cols + cols)
        crow = torch.zeros(n_rows + 1, dtype=torch.int64)
        crow[1:] = torch.bincount(rows, minlength=n_rows).cumsum(0)
        # 32-bit indices where they fit: the sparse-dense product is faster with them
        index = torch.int32 if len(rows) < 2**31 else torch.int64
        return Side(crow.to(index), cols[order].to(index), extra[order].contiguous(), n_rows, n_cols)

    def block(self, lo: int, hi: int) -> Side:
        """Rows ``lo`` to ``hi`` (excluded) with their pairs, as a side of their own."""
        start, end = int(self.crow[lo]), int(self.crow[hi])
        return Side(self.crow[lo : hi + 1] - start, self.col[start:end], self.extra[start:end], hi - lo, self.n_cols)

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore")
            return torch.sparse_csr_tensor(self.crow, self.col, values, (self.n_rows, self.n_cols))

    def dots(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """``left[row] . right[col]`` for every pair, in pair order."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.sparse.sampled_addmm(self.matrix(self.extra), left, right.T, beta=0.0).values()


def sides(data: Interactions, alpha: float) -> tuple[Side, Side]:
    """The customer-major and the article-major view of the same pairs."""
    extra = alpha * data.weights
    by_customer = Side.build(data.customers, data.articles, extra, data.n_customers, data.n_articles)
    by_article = Side.build(data.articles, data.customers, extra, data.n_articles, data.n_customers)
    return by_customer, by_article


BLOCK_ROWS = 131_072
"""Rows solved together: the conjugate-gradient vectors of a block are ~5 x 34 MB at 64 factors."""


def solve(rows: torch.Tensor, fixed: torch.Tensor, side: Side, reg: float, steps: int) -> None:
    """Conjugate-gradient steps on every row's ridge regression, updating ``rows`` in place.

    Row ``u`` solves ``(F'F + reg I + F' diag(c_u - 1) F) x = F' c_u`` with ``F = fixed``.
    Rows are independent: they are solved ``BLOCK_ROWS`` at a time, so the work vectors stay
    small whatever the number of customers.
    """
    gram = fixed.T @ fixed + reg * torch.eye(fixed.shape[1], dtype=fixed.dtype)
    for lo in range(0, side.n_rows, BLOCK_ROWS):
        hi = min(lo + BLOCK_ROWS, side.n_rows)
        _solve_block(rows[lo:hi], fixed, side.block(lo, hi), gram, steps)


def _solve_block(rows: torch.Tensor, fixed: torch.Tensor, side: Side, gram: torch.Tensor, steps: int) -> None:
    def spread(coef: torch.Tensor) -> torch.Tensor:
        """Per row, the sum over its pairs of ``coef * fixed[col]``: one sparse-dense product."""
        return side.matrix(coef) @ fixed

    # b - A x in one pass: per pair c - (c - 1) * (x . y), as c = 1 + extra
    residual = spread(1.0 + side.extra - side.extra * side.dots(rows, fixed)).addmm_(rows, gram, alpha=-1)
    direction = residual.clone()
    norm = torch.linalg.vecdot(residual, residual)
    for _ in range(steps):
        a_dir = spread(side.extra * side.dots(direction, fixed)).addmm_(direction, gram)
        step = (norm / torch.linalg.vecdot(direction, a_dir).clamp_min(1e-20))[:, None]
        rows.addcmul_(step, direction)
        residual.addcmul_(step, a_dir, value=-1)
        new_norm = torch.linalg.vecdot(residual, residual)
        direction.mul_((new_norm / norm.clamp_min(1e-20))[:, None]).add_(residual)
        norm = new_norm


def _loss(model: MatrixFactorization, by_customer: Side, reg: float) -> float:
    """The objective per bought pair (the unbought pairs through the Gram trick), to watch it fall."""
    x, y = model.customer.weight.data, model.article.weight.data
    dots = by_customer.dots(x, y)
    c = by_customer.extra + 1.0
    observed = (c * (1 - dots) ** 2 - dots**2).sum()  # the bought pairs minus their zero-target term
    everything = ((x.T @ x) * (y.T @ y)).sum()  # sum of all (x . y)^2
    penalty = reg * (x.pow(2).sum() + y.pow(2).sum())
    return float((observed + everything + penalty) / len(c))


def train_als(
    model: MatrixFactorization,
    data: Interactions,
    cfg: MFConfig,
    *,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    validate: Callable[[MatrixFactorization], float] | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
    article_reg_scale: float = 1.0,
    articles_from: torch.Tensor | None = None,
) -> TrainResult:
    """Alternate customer and article solves ``cfg.epochs`` times; same contract as ``train``.

    The article factors start from ``N(0, 0.01)`` (seeded), the customers from zero; biases stay
    zero. With ``articles_from`` (an earlier fit's article factors, a warm start), its rows
    replace the first ones of that start (articles new since then keep theirs). The article rows' penalty is ``cfg.reg * article_reg_scale`` (a fit on a sample of the
    customers scales it by the sample's share of the pairs). Checkpoints, resume and early
    stopping work as for the gradient trainer.
    """
    if cfg.device != "cpu":
        warning = f"--device {cfg.device}: the ALS solver runs on the CPU (sparse products); use --solver sgd for a GPU"
    else:
        warning = None
    result = TrainResult(warnings=[warning] if warning else [])
    progress = EpochLog(model, cfg, result, checkpoint_dir, validate, on_epoch)
    start = 0
    with torch.no_grad():
        model.to("cpu")
        if resume:
            start = progress.resume()["epoch"] + 1
        else:
            gen = torch.Generator().manual_seed(cfg.seed)
            model.article.weight.copy_(torch.randn(model.article.weight.shape, generator=gen) * INIT_STD)
            if articles_from is not None:
                rows = min(len(articles_from), model.article.weight.shape[0])
                model.article.weight[:rows] = articles_from[:rows]
            model.customer.weight.zero_()
            model.customer_bias.weight.zero_()
            model.article_bias.weight.zero_()
        by_customer, by_article = sides(data, cfg.alpha)
        customers, articles = model.customer.weight.data, model.article.weight.data
        for epoch in range(start, cfg.epochs):
            solve(customers, articles, by_customer, cfg.reg, cfg.cg_steps)
            solve(articles, customers, by_article, cfg.reg * article_reg_scale, cfg.cg_steps)
            loss = _loss(model, by_customer, cfg.reg)
            losses.check(torch.tensor(loss), epoch, 0)
            if progress.end_epoch(epoch, loss, {}):
                break
        progress.finish()
    return result


def fold_in(
    articles: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    weights: torch.Tensor,
    n_rows: int,
    cfg: MFConfig,
    steps: int | None = None,
) -> torch.Tensor:
    """Customer factors for ``n_rows`` customers from their bought ``(rows, cols, weights)`` pairs.

    The same ridge regression as a customer pass of ALS, against fixed article factors, solved
    from zero with ``steps`` conjugate-gradient steps (default ``dim``, which solves it exactly
    up to rounding): a customer unseen at fit time gets the factors the model would have given
    them.
    """
    side = Side.build(rows, cols, cfg.alpha * weights, n_rows, articles.shape[0])
    out = torch.zeros(n_rows, articles.shape[1], dtype=articles.dtype)
    with torch.no_grad():
        solve(out, articles, side, cfg.reg, articles.shape[1] if steps is None else steps)
    return out


def fold_in_history(
    articles: torch.Tensor, history: pl.LazyFrame, cutoff: date, cfg: MFConfig, steps: int | None = None
) -> tuple[np.ndarray, torch.Tensor]:
    """The customers of ``history`` (sorted) and their folded-in factors, from their weighted
    purchases before ``cutoff`` of articles that have factors (``fold_in``)."""
    pairs = (
        interaction_weights(history.filter(pl.col(Col.ARTICLE) < articles.shape[0]), cutoff, cfg.weighting)
        .sort(Col.CUSTOMER, Col.ARTICLE)
        .collect()
    )
    who = pairs[Col.CUSTOMER].unique().sort().to_numpy()
    factors = fold_in(
        articles,
        torch.from_numpy(np.searchsorted(who, pairs[Col.CUSTOMER].to_numpy()).astype(np.int64)),
        torch.from_numpy(pairs[Col.ARTICLE].to_numpy().astype(np.int64)),
        torch.from_numpy(pairs[WEIGHT].to_numpy().astype(np.float32)),
        len(who),
        cfg,
        steps,
    )
    return who, factors
