"""The MF model's choice of its own settings (``choice.py``'s grid), run on the last week before
the cutoff: each trial fitted on the weeks before that one (a seeded sample of customers at
full size) and scored on its buyers. First the fixed settings, then every repeat handling with
those factors, then the penalties with the best handling, then the best penalty at other sizes;
a trial that would end past the budget is skipped and named."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl

import hmrec.recommenders.mf.choice as grid
from hmrec.data.split import Split
from hmrec.data.split import history as before
from hmrec.recommenders.mf.choice import Choice, Trial, setting
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.epochs import Interactions
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.mf.scoring import build_interactions, score_adjustments
from hmrec.schema import Col

if TYPE_CHECKING:
    from collections.abc import Callable

    from hmrec.recommenders.mf.recommender import MFRecommender

VALIDATION_DAYS = 7
CHOICE_PATIENCE = 2
"""Epochs without a better validation score before a trial of the choice stops."""


@dataclass
class ChoiceSearch:
    """One run of the choice for ``model`` (whose ``choice`` it fills and whose ``filter``,
    ``boost`` and ``adjust`` it sets for each trial)."""

    model: MFRecommender
    split: Split
    theirs: pl.LazyFrame
    """The validation buyers' history: what each repeat handling's bonus table is built from."""
    pairs: Interactions
    validate: Callable[[MatrixFactorization], float]
    share: float
    began: float
    adjustments: dict[tuple[str, float], pl.DataFrame | None] = field(default_factory=dict)
    first: Trial | None = None

    @classmethod
    def start(cls, model: MFRecommender, history: pl.LazyFrame, cutoff: date) -> ChoiceSearch | None:
        """The search on the week before ``cutoff``, its sample and pairs ready (None: no such week)."""
        inner = Split.at(history, cutoff - timedelta(days=VALIDATION_DAYS))
        truth = inner.truth.collect()
        if truth.is_empty() or inner.history.select(pl.len()).collect().item() == 0:
            return None
        began = time.perf_counter()
        buyers = model._validation_buyers(truth, model.choice_validation)
        sample, share, n_customers = model._sample(inner.history, inner.cutoff, buyers)
        model.choice = Choice(customers=n_customers, share=share, validation_buyers=buyers.len())
        validate = model._validator(truth, model.choice_validation)
        # the sample may lack the last articles: the model still needs a row for every candidate
        n_articles = int(before(inner.history, inner.cutoff).select(pl.col(Col.ARTICLE).max()).collect().item()) + 1
        pairs = build_interactions(sample, inner.cutoff, model.config, n_articles)  # the same for every trial
        model._read_lists(inner.history, inner.cutoff)  # each trial's bonus table comes from use()
        theirs = before(inner.history, inner.cutoff).filter(pl.col(Col.CUSTOMER).is_in(buyers.implode()))
        return cls(model, inner, theirs, pairs, validate, share, began)

    def use(self, filter: str, boost: float) -> None:
        """Score the validation buyers with this repeat handling (its bonus table built once)."""
        model = self.model
        model.filter, model.boost = filter, boost
        if (filter, boost) not in self.adjustments:
            self.adjustments[filter, boost] = score_adjustments(
                self.theirs, self.split.cutoff, filter, boost, model.config.weighting
            )
        model.adjust = self.adjustments[filter, boost]

    def trial(self, cfg: MFConfig, filter: str, boost: float) -> tuple[Trial, MatrixFactorization]:
        """Fit and score ``cfg`` with this repeat handling; the model holds its best epoch's factors."""
        began = time.perf_counter()
        self.use(filter, boost)
        fitted, result = self.model._train(
            self.pairs,
            self.split.cutoff,
            replace(cfg, patience=min(cfg.patience, CHOICE_PATIENCE)),
            validate=self.validate,
            article_reg_scale=self.share,  # an article's data shrinks with the sample: so does its penalty
        )
        score = result.scores[result.best_epoch]
        done = self.model._record(cfg, filter, boost, result.best_epoch + 1, score, time.perf_counter() - began)
        return done, fitted

    def affordable(self, cfg: MFConfig, base: MFConfig) -> bool:
        """Whether a trial of ``cfg``, costed as the first one per factor, ends within the budget."""
        budget = self.model.choice_budget
        if budget is None:
            return True
        assert self.first is not None and self.model.choice is not None
        cost = self.first.seconds * cfg.dim / base.dim
        if time.perf_counter() - self.began + cost <= budget:
            return True
        self.model.choice.skipped.append(setting(cfg.alpha, cfg.reg, cfg.dim))
        return False

    def run(self) -> Trial:
        """Every step of the search in turn; the best trial."""
        base = self.model.config
        self.first, fitted = self.trial(base, *grid.REPEATS[0])
        repeat = [self.first]
        for filter, boost in grid.REPEATS[1:]:
            began = time.perf_counter()
            self.use(filter, boost)
            score = self.validate(fitted)
            repeat.append(
                self.model._record(base, filter, boost, self.first.epochs, score, time.perf_counter() - began)
            )
        best_repeat = max(repeat, key=lambda t: t.score)
        filter, boost = best_repeat.filter, best_repeat.boost
        penalties = [best_repeat]
        for alpha, reg in grid.PENALTIES:
            cfg = replace(base, alpha=alpha, reg=reg)
            if (alpha, reg) != (base.alpha, base.reg) and self.affordable(cfg, base):
                penalties.append(self.trial(cfg, filter, boost)[0])
        best = max(penalties, key=lambda t: t.score)
        for dim in grid.DIMS:
            cfg = replace(base, alpha=best.alpha, reg=best.reg, dim=dim)
            if dim != base.dim and self.affordable(cfg, base):
                self.trial(cfg, filter, boost)
        assert self.model.choice is not None
        return self.model.choice.chosen
