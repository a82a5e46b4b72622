"""The MF baseline as a recommender, and its top-N retrieval for candidate generation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import polars as pl
import torch

from hmrec.data.lists import filled_lists, popular_articles
from hmrec.data.split import Split
from hmrec.data.split import buyers as week_buyers
from hmrec.data.split import history as before
from hmrec.data.week import WeekInput
from hmrec.metrics import map_of_lists
from hmrec.recommenders.base import Persisted, fill_with, with_details
from hmrec.recommenders.mf.choice import Choice, Trial
from hmrec.recommenders.mf.config import FILTERS, MFConfig
from hmrec.recommenders.mf.epochs import Interactions, TrainResult
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.mf.saved import MFState
from hmrec.recommenders.mf.scoring import (
    build_interactions,
    score_adjustments,
    top_n_scores,
)
from hmrec.recommenders.mf.search import VALIDATION_DAYS, ChoiceSearch
from hmrec.recommenders.mf.train import train
from hmrec.recommenders.saving import ModelError
from hmrec.schema import INDEX_DTYPE, Col, K

if TYPE_CHECKING:
    from hmrec.data.dataset import Dataset
    from hmrec.engine import Engine
    from hmrec.recommenders.options import ModelOptions
    from hmrec.settings import Settings


@dataclass
class MFRecommender(Persisted):
    """Matrix factorisation over weighted purchases; unseen customers get the popular list.

    ``fit`` chooses its settings on the last week before the cutoff (``choice.py``: alpha, reg,
    factors, epochs and how the customer's own purchases count, each trial fitted on the weeks
    before that one and scored on its buyers), then trains again on the whole history with
    them; with ``choose=False`` it keeps ``config``, ``filter`` and ``boost`` and picks only the
    number of epochs that way; with ``tune_epochs=False`` it trains once for ``config.epochs``.
    Early stopping scores MAP@12 on at most ``validation_customers`` buyers of that week (the
    choice: on ``choice_validation`` of them, fitting on at most ``choice_customers`` customers,
    skipping a trial that would end past ``choice_budget`` seconds). Only
    articles sold in the last ``candidate_weeks`` weeks are scored. ``filter`` (one of
    ``FILTERS``) drops from the model's picks what the customer bought (``bought``), or only what
    they bought more recently than the article's median repeat interval (``interval``);
    ``boost`` adds ``boost`` times the pair's purchase weight to the score of an article the
    customer bought; the popular fill-up is not filtered. ``refresh`` takes a newer history
    without refitting: customers it adds get factors folded in from their purchases.
    """

    config: MFConfig = field(default_factory=MFConfig)
    candidate_weeks: int = 12
    filter: str = "none"
    boost: float = 0.0
    choose: bool = True
    tune_epochs: bool = True
    chunk_size: int = 2048
    validation_customers: int = 20_000
    choice_customers: int = 100_000
    choice_validation: int = 10_000
    choice_budget: float | None = 100.0
    name: str = "mf"
    on_epoch: Callable[[int, float, float], None] | None = None
    on_trial: Callable[[Trial], None] | None = None
    on_choice: Callable[[Choice], None] | None = None
    checkpoint_dir: Path | None = None
    model: MatrixFactorization | None = None
    result: TrainResult | None = None
    choice: Choice | None = None
    fill: list[int] = field(default_factory=list)
    candidates: np.ndarray | None = None
    known: np.ndarray | None = None
    adjust: pl.DataFrame | None = None
    trained: np.ndarray | None = None
    given: tuple[MFConfig, str, float] | None = field(default=None, repr=False)
    """The settings as constructed: every fit starts from them (``config``, ``filter`` and
    ``boost`` hold what the last fit chose)."""

    has_factors: ClassVar[bool] = True

    @classmethod
    def build(cls, dataset: Dataset, options: ModelOptions) -> MFRecommender:
        """The MF model that chooses its settings (``options.mf_choose``), telling of each trial."""
        on_step = options.on_step

        def tried(trial: Trial) -> None:
            if on_step:
                on_step(f"mf: tried {trial.label()}: validation MAP@12 {trial.score:.5f}")

        return cls(choose=options.mf_choose, on_trial=tried, on_choice=options.on_mf_choice)

    def learned(self, dataset: Dataset) -> MFState:
        return MFState.of(self, dataset)

    def tuning_meta(self) -> dict[str, Any] | None:
        return {"model": self.name, **self.choice.to_dict()} if self.choice is not None else None

    @classmethod
    def save_learned(cls, learned: MFState, folder: Path, cutoff: date) -> None:
        learned.save(folder)

    @classmethod
    def load_learned(cls, folder: Path, settings: Settings, articles: pl.Series) -> MFState:
        return MFState.load(folder, articles, cls)

    @classmethod
    def bind(
        cls,
        learned: MFState,
        dataset: Dataset,
        fill: list[int],
        week: WeekInput,
        settings: Settings,
        engine: Engine,
        on_step: Any,
    ) -> MFRecommender:
        return learned.bind(dataset, fill).refresh(week)

    def article_factors(self) -> np.ndarray:
        if self.model is None:
            raise ModelError("the MF model has no factors: fit it first")
        return self.model.article.weight.detach().cpu().numpy()

    def __post_init__(self) -> None:
        if self.filter not in FILTERS:
            raise ValueError(f"unknown filter {self.filter!r}; choose one of {', '.join(FILTERS)}")
        if not self.boost >= 0:
            raise ValueError(f"boost must be at least 0, got {self.boost}")
        if self.given is None:
            self.given = (self.config, self.filter, self.boost)

    def _train(
        self, history: pl.LazyFrame | Interactions, cutoff: date, cfg: MFConfig, **options: object
    ) -> tuple[MatrixFactorization, TrainResult]:
        """A fresh model (seeded) trained on the weighted pairs before ``cutoff`` (or on pairs
        already built)."""
        torch.manual_seed(cfg.seed)
        data = history if isinstance(history, Interactions) else build_interactions(history, cutoff, cfg)
        model = MatrixFactorization(data.n_customers, data.n_articles, cfg.dim)
        return model, train(model, data, cfg, on_epoch=self.on_epoch, **options)

    def fit(self, week: WeekInput) -> MFRecommender:
        history, cutoff = week.history, week.cutoff
        assert self.given is not None
        self.config, self.filter, self.boost = self.given
        self.choice = None
        choosing = self.choose and self.tune_epochs and self.config.solver == "als"
        chosen = self._choose(history, cutoff) if choosing else None
        if chosen is not None:
            if self.on_choice and self.choice is not None:
                self.on_choice(self.choice)
            self.filter, self.boost = chosen.filter, chosen.boost
            self.config = replace(self.config, alpha=chosen.alpha, reg=chosen.reg, dim=chosen.dim, epochs=chosen.epochs)
        else:  # fixed settings, or no week to choose on: the epochs alone, where there is a week
            self.config = replace(self.config, epochs=self._epochs_by_early_stopping(history, cutoff))
        self.model, self.result = self._train(history, cutoff, self.config, checkpoint_dir=self.checkpoint_dir)
        self.prepare_scoring(history, cutoff)
        self.trained = self.known
        return self

    def _choose(self, history: pl.LazyFrame, cutoff: date) -> Trial | None:
        """The best trial of ``choice.py`` on the last week before ``cutoff`` (None: no such week)."""
        search = ChoiceSearch.start(self, history, cutoff)
        return None if search is None else search.run()

    def _record(self, cfg: MFConfig, filter: str, boost: float, epochs: int, score: float, seconds: float) -> Trial:
        assert self.choice is not None
        done = Trial(cfg.alpha, cfg.reg, cfg.dim, filter, boost, epochs, score, round(seconds, 2))
        self.choice.trials.append(done)
        if self.on_trial:
            self.on_trial(done)
        return done

    def _validation_buyers(self, truth: pl.DataFrame, at_most: int | None = None) -> pl.Series:
        """The buyers early stopping scores: at most ``at_most`` (default ``validation_customers``)
        of them, seeded."""
        at_most = self.validation_customers if at_most is None else at_most
        buyers = week_buyers(truth)
        if buyers.len() > at_most:
            buyers = buyers.sample(at_most, seed=self.config.seed).sort()
        return buyers

    def _sample(self, history: pl.LazyFrame, cutoff: date, buyers: pl.Series) -> tuple[pl.LazyFrame, float, int]:
        """The history of at most ``choice_customers`` customers (every one of ``buyers`` with a
        history among them, the rest a seeded sample), its share of the weighted pairs, and how
        many customers it holds."""
        rows = before(history, cutoff)
        customers = rows.select(pl.col(Col.CUSTOMER).unique().sort()).collect()[Col.CUSTOMER]
        if customers.len() <= self.choice_customers:
            return rows, 1.0, customers.len()
        keep = customers.filter(customers.is_in(buyers.implode()))
        others = customers.filter(~customers.is_in(buyers.implode()))
        room = max(self.choice_customers - keep.len(), 0)
        keep = pl.concat([keep, others.sample(min(room, others.len()), seed=self.config.seed)]).sort()
        pairs = rows.select(Col.CUSTOMER, Col.ARTICLE).unique()
        counts = pairs.select(
            pl.len().alias("all"), pl.col(Col.CUSTOMER).is_in(keep.implode()).sum().alias("kept")
        ).collect()
        share = float(counts["kept"][0]) / max(int(counts["all"][0]), 1)
        sample = rows.join(pl.LazyFrame({Col.CUSTOMER: keep}), on=Col.CUSTOMER, how="semi")
        return sample, share, keep.len()

    def refresh(self, week: WeekInput) -> MFRecommender:
        """Score from a newer week (its history and cutoff) without refitting.

        Candidates and filters are read again (the fitted fill list is kept); each customer with purchases
        before ``cutoff`` but no factors from the fit gets them by fold-in: the least-squares
        solve of an ALS customer pass against the fitted article factors.
        """
        if self.model is None or self.trained is None:
            raise RuntimeError("call fit() or load() before refresh()")
        history, cutoff, fill = week.history, week.cutoff, self.fill
        self.prepare_scoring(history, cutoff)
        self.fill = fill or self.fill  # the fitted fill list is part of the model
        new = self.known[~np.isin(self.known, self.trained)]
        if len(new):
            self._fold_in(before(history, cutoff), cutoff, new)
        self.trained = self.known
        return self

    def _fold_in(self, history: pl.LazyFrame, cutoff: date, new: np.ndarray) -> None:
        from hmrec.recommenders.mf.als import fold_in_history

        assert self.model is not None
        newcomers = history.join(pl.LazyFrame({Col.CUSTOMER: pl.Series(new, dtype=INDEX_DTYPE)}), on=Col.CUSTOMER)
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
        """Read what scoring needs from the history: popular list, candidates, known customers,
        and the bonus of bought pairs (``filter``, ``boost``)."""
        self._read_lists(history, cutoff)
        self.adjust = score_adjustments(before(history, cutoff), cutoff, self.filter, self.boost, self.config.weighting)

    def _read_lists(self, history: pl.LazyFrame, cutoff: date) -> None:
        """The popular list, the candidate articles and the known customers before ``cutoff``."""
        history = before(history, cutoff)
        self.fill = popular_articles(history, cutoff)
        recent = history.filter(pl.col(Col.DATE) >= cutoff - timedelta(weeks=self.candidate_weeks))
        self.candidates = recent.select(pl.col(Col.ARTICLE).unique().sort()).collect()[Col.ARTICLE].to_numpy()
        self.known = history.select(pl.col(Col.CUSTOMER).unique().sort()).collect()[Col.CUSTOMER].to_numpy()

    def _validator(self, truth: pl.DataFrame, at_most: int | None = None) -> Callable[[MatrixFactorization], float]:
        """MAP@12 on (a seeded sample of at most ``at_most`` of) the week's buyers."""
        buyers = self._validation_buyers(truth, at_most)
        truth = truth.filter(pl.col(Col.CUSTOMER).is_in(buyers.implode()))
        asked = buyers.cast(INDEX_DTYPE).unique().sort().to_numpy()

        def score(model: MatrixFactorization) -> float:
            self.model = model
            # ``recommend``'s lists scored as arrays (a frame per epoch cost more than the scores);
            # MAP@12 is a float sum whose last bits depend on its order: rounded, equal epochs and
            # trials tie exactly, and the first of them wins every time
            lists = filled_lists(self.top_n(buyers, K), asked, self.fill, K)
            return round(map_of_lists(asked, lists, truth, K), 12)

        return score

    def top_n(self, customers: pl.Series, n: int) -> pl.DataFrame:
        """``customer, article, score, rank`` for the customers the model knows (for retrieval)."""
        if self.model is None or self.candidates is None or self.known is None:
            raise RuntimeError("call fit() before top_n()")
        asked = customers.cast(INDEX_DTYPE).unique().sort().to_numpy()
        seen = asked[np.isin(asked, self.known) & (asked < self.model.customer.num_embeddings)]
        self.model.eval()
        return top_n_scores(self.model, seen, self.candidates, n, self.chunk_size, self.adjust)

    def recommend(self, customers: pl.Series, k: int = K, details: bool = False) -> pl.DataFrame:
        recs = fill_with(self.top_n(customers, k).lazy(), customers, self.fill, k)
        return with_details(recs, None, self.name) if details else recs
