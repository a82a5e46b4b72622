"""The MF baseline as a recommender, and its top-N retrieval for candidate generation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import torch

from hmrec.data.lists import popular_articles
from hmrec.data.split import Split
from hmrec.data.split import buyers as week_buyers
from hmrec.data.split import history as before
from hmrec.data.week import WeekInput
from hmrec.metrics import map_at_k
from hmrec.recommenders.base import fill_with, with_details
from hmrec.recommenders.mf.config import FILTERS, MFConfig
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.mf.train import Interactions, TrainResult, interactions_from, train
from hmrec.recommenders.mf.weights import WEIGHT, interaction_weights
from hmrec.schema import Col, K

VALIDATION_DAYS = 7


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


def build_interactions(history: pl.LazyFrame, cutoff: date, cfg: MFConfig) -> Interactions:
    """The weighted pairs before ``cutoff``; index ranges cover every id seen before it."""
    pairs = interaction_weights(history, cutoff, cfg.weighting).sort(Col.CUSTOMER, Col.ARTICLE).collect()
    # every id of the history is in some pair, so the pairs give the index ranges
    n_customers = int(pairs[Col.CUSTOMER].max() or 0) + 1
    n_articles = int(pairs[Col.ARTICLE].max() or 0) + 1
    return interactions_from(
        pairs[Col.CUSTOMER].to_numpy(), pairs[Col.ARTICLE].to_numpy(), pairs[WEIGHT].to_numpy(), n_customers, n_articles
    )


def top_n_scores(
    model: MatrixFactorization,
    customers: np.ndarray,
    candidates: np.ndarray,
    n: int,
    chunk_size: int = 2048,
    exclude: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``customer, article, score, rank``: each customer's ``n`` best ``candidates``.

    Scored ``chunk_size`` customers at a time (never all customers x all articles); the score
    leaves out the customer's bias, which does not change a customer's order. Pairs in
    ``exclude`` (``customer, article``) are never returned.
    """
    device = next(model.parameters()).device
    cand = torch.from_numpy(candidates.astype(np.int64)).to(device)
    position = np.full(int(candidates.max()) + 1 if len(candidates) else 1, -1, dtype=np.int64)
    position[candidates] = np.arange(len(candidates))
    n = min(n, len(candidates))
    rows, cols, vals = [], [], []
    for lo in range(0, len(customers), chunk_size):
        chunk = customers[lo : lo + chunk_size]
        scores = model.ranking_scores(torch.from_numpy(chunk.astype(np.int64)).to(device), cand)
        if exclude is not None:
            _mask(scores, chunk, exclude, position)
        values, idx = torch.topk(scores, n, dim=1)
        rows.append(np.repeat(chunk, n))
        cols.append(idx.cpu().numpy().ravel())
        vals.append(values.cpu().numpy().ravel())
    out = pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series(np.concatenate(rows) if rows else [], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series(candidates[np.concatenate(cols)] if cols else [], dtype=pl.UInt32),
            Col.SCORE: pl.Series(np.concatenate(vals) if vals else [], dtype=pl.Float32),
            Col.RANK: pl.Series(np.tile(np.arange(1, n + 1), len(customers)), dtype=pl.UInt16),
        }
    )
    return out.filter(pl.col(Col.SCORE) > -np.inf) if exclude is not None else out


def _mask(scores: torch.Tensor, chunk: np.ndarray, exclude: pl.DataFrame, position: np.ndarray) -> None:
    """Set the scores of the ``exclude`` pairs of this chunk's customers to -inf, in place."""
    rows = exclude.filter(pl.col(Col.CUSTOMER).is_in(pl.Series(chunk).implode()))
    if rows.is_empty():
        return
    art = rows[Col.ARTICLE].to_numpy()
    keep = art < len(position)
    col = position[art[keep]]
    order = np.argsort(chunk, kind="stable")
    row = order[np.searchsorted(chunk[order], rows[Col.CUSTOMER].to_numpy()[keep])].astype(np.int64)
    ok = col >= 0
    scores[torch.from_numpy(row[ok]), torch.from_numpy(col[ok])] = -torch.inf


@dataclass
class MFRecommender:
    """Matrix factorisation over weighted purchases; unseen customers get the popular list.

    Early stopping scores MAP@12 on at most ``validation_customers`` buyers of a week.
    ``fit`` picks the number of epochs by early stopping on the last week before the cutoff
    (a model trained on the weeks before it), then trains again on the whole history for that
    many epochs; with ``tune_epochs=False`` it trains once for ``config.epochs``. Only articles
    sold in the last ``candidate_weeks`` weeks are scored. ``filter`` (one of ``FILTERS``)
    drops from the model's picks what the customer bought (``bought``), or only what they
    bought more recently than the article's median repeat interval (``interval``); ``none`` by
    default (buying again is the strongest signal in this data); the popular fill-up is not
    filtered. ``refresh`` takes a newer history without refitting: customers it adds get
    factors folded in from their purchases.
    """

    config: MFConfig = field(default_factory=MFConfig)
    candidate_weeks: int = 12
    filter: str = "none"
    tune_epochs: bool = True
    chunk_size: int = 2048
    validation_customers: int = 20_000
    name: str = "mf"
    on_epoch: Callable[[int, float, float], None] | None = None
    checkpoint_dir: Path | None = None
    model: MatrixFactorization | None = None
    result: TrainResult | None = None
    popular: list[int] = field(default_factory=list)
    candidates: np.ndarray | None = None
    known: np.ndarray | None = None
    bought: pl.DataFrame | None = None
    trained: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.filter not in FILTERS:
            raise ValueError(f"unknown filter {self.filter!r}; choose one of {', '.join(FILTERS)}")

    def _train(
        self, history: pl.LazyFrame, cutoff: date, cfg: MFConfig, **options: object
    ) -> tuple[MatrixFactorization, TrainResult]:
        """A fresh model (seeded) trained on the weighted pairs before ``cutoff``."""
        torch.manual_seed(cfg.seed)
        data = build_interactions(history, cutoff, cfg)
        model = MatrixFactorization(data.n_customers, data.n_articles, cfg.dim)
        return model, train(model, data, cfg, on_epoch=self.on_epoch, **options)

    def fit(self, week: WeekInput) -> MFRecommender:
        history, cutoff = week.history, week.cutoff
        epochs = self._epochs_by_early_stopping(history, cutoff)
        cfg = replace(self.config, epochs=epochs)
        self.model, self.result = self._train(history, cutoff, cfg, checkpoint_dir=self.checkpoint_dir)
        self.prepare_scoring(history, cutoff)
        self.trained = self.known
        return self

    def refresh(self, week: WeekInput) -> MFRecommender:
        """Score from a newer week (its history and cutoff) without refitting.

        Candidates and filters are read again (the fitted fill list is kept); each customer with purchases
        before ``cutoff`` but no factors from the fit gets them by fold-in: the least-squares
        solve of an ALS customer pass against the fitted article factors.
        """
        if self.model is None or self.trained is None:
            raise RuntimeError("call fit() or load() before refresh()")
        history, cutoff, fill = week.history, week.cutoff, self.popular
        self.prepare_scoring(history, cutoff)
        self.popular = fill or self.popular  # the fitted fill list is part of the model
        new = self.known[~np.isin(self.known, self.trained)]
        if len(new):
            self._fold_in(before(history, cutoff), cutoff, new)
        self.trained = self.known
        return self

    def _fold_in(self, history: pl.LazyFrame, cutoff: date, new: np.ndarray) -> None:
        from hmrec.recommenders.mf.als import fold_in_history

        assert self.model is not None
        newcomers = history.join(pl.LazyFrame({Col.CUSTOMER: pl.Series(new, dtype=pl.UInt32)}), on=Col.CUSTOMER)
        who, factors = fold_in_history(self.model.article.weight.detach(), newcomers, cutoff, self.config)
        self.model.grow(int(new.max()) + 1)
        with torch.no_grad():
            self.model.customer.weight[torch.from_numpy(who.astype(np.int64))] = factors

    def _epochs_by_early_stopping(self, history: pl.LazyFrame, cutoff: date) -> int:
        """The best epoch count on the last week before ``cutoff``; all epochs if that is impossible."""
        if not self.tune_epochs:
            return self.config.epochs
        inner = Split.at(history, cutoff - timedelta(days=VALIDATION_DAYS))
        truth = inner.truth.collect()
        if truth.is_empty() or inner.history.select(pl.len()).collect().item() == 0:
            return self.config.epochs
        self.prepare_scoring(inner.history, inner.cutoff)
        _, result = self._train(inner.history, inner.cutoff, self.config, validate=self._validator(truth))
        return result.best_epoch + 1

    def load(self, checkpoint: Path, history: pl.LazyFrame, cutoff: date) -> MFRecommender:
        """Use a saved model (``best.pt`` or ``last.pt``) trained on ``history`` before ``cutoff``."""
        state = torch.load(checkpoint, weights_only=True)["model"]
        n_customers, dim = state["customer.weight"].shape
        self.model = MatrixFactorization(n_customers, state["article.weight"].shape[0], dim)
        self.model.load_state_dict(state)
        self.prepare_scoring(history, cutoff)
        self.trained = self.known
        return self

    def fit_with_holdout(
        self, history: pl.LazyFrame, cutoff: date, truth: pl.DataFrame, *, resume: bool = False
    ) -> MFRecommender:
        """Train on ``history`` before ``cutoff``, early-stopping on ``truth`` (that week's purchases).

        This is what ``hmrec train-baseline`` does: its reported score is the best epoch's
        on the same week, so it is optimistic; ``evaluate --model mf`` uses ``fit`` instead.
        """
        self.prepare_scoring(history, cutoff)
        self.model, self.result = self._train(
            history,
            cutoff,
            self.config,
            checkpoint_dir=self.checkpoint_dir,
            resume=resume,
            validate=self._validator(truth),
        )
        self.trained = self.known
        return self

    def prepare_scoring(self, history: pl.LazyFrame, cutoff: date) -> None:
        """Read what scoring needs from the history: popular list, candidates, known customers."""
        history = before(history, cutoff)
        self.popular = popular_articles(history, cutoff)
        recent = history.filter(pl.col(Col.DATE) >= cutoff - timedelta(weeks=self.candidate_weeks))
        self.candidates = recent.select(pl.col(Col.ARTICLE).unique().sort()).collect()[Col.ARTICLE].to_numpy()
        self.known = history.select(pl.col(Col.CUSTOMER).unique().sort()).collect()[Col.CUSTOMER].to_numpy()
        if self.filter == "bought":
            self.bought = history.select(Col.CUSTOMER, Col.ARTICLE).unique().collect()
        elif self.filter == "interval":
            self.bought = too_recent(history, cutoff).collect()
        else:
            self.bought = None

    def _validator(self, truth: pl.DataFrame) -> Callable[[MatrixFactorization], float]:
        """MAP@12 on (a seeded sample of at most ``validation_customers`` of) the week's buyers."""
        buyers = week_buyers(truth)
        if buyers.len() > self.validation_customers:
            buyers = buyers.sample(self.validation_customers, seed=self.config.seed).sort()
        truth = truth.filter(pl.col(Col.CUSTOMER).is_in(buyers.implode()))

        def score(model: MatrixFactorization) -> float:
            self.model = model
            return map_at_k(self.recommend(buyers, K), truth, K)

        return score

    def top_n(self, customers: pl.Series, n: int) -> pl.DataFrame:
        """``customer, article, score, rank`` for the customers the model knows (for retrieval)."""
        if self.model is None or self.candidates is None or self.known is None:
            raise RuntimeError("call fit() before top_n()")
        asked = customers.cast(pl.UInt32).unique().sort().to_numpy()
        seen = asked[np.isin(asked, self.known) & (asked < self.model.customer.num_embeddings)]
        self.model.eval()
        return top_n_scores(self.model, seen, self.candidates, n, self.chunk_size, self.bought)

    def recommend(self, customers: pl.Series, k: int = K, details: bool = False) -> pl.DataFrame:
        recs = fill_with(self.top_n(customers, k).lazy(), customers, self.popular, k)
        return with_details(recs, None, self.name) if details else recs
