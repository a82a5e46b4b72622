"""The two-stage recommender: candidate sources, features, a LightGBM ranker, popular fill."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from hmrec.data.week import WeekInput
from hmrec.engine import Engine, LocalEngine
from hmrec.features.lookup import packed
from hmrec.progress import Step
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import (
    CandidateConfig,
    Tables,
    WeekCache,
    feature_columns,
    labelled_parts,
    labelled_week,
    sample_negatives,
    training_cutoffs,
)
from hmrec.ranking.inference import SCORED_SCHEMA, RankWork
from hmrec.ranking.model import FittedRanker, Rows, TrainingSet, ValidationSet, fit_ranker
from hmrec.ranking.stored import StoredWeeks
from hmrec.recommenders.base import Persisted, fill_with, with_details
from hmrec.recommenders.baselines import PopularRecommender
from hmrec.recommenders.saving import RANKER_DIR, SETTINGS_FILE, ModelError, reading
from hmrec.retrieval.pipeline import SOURCES
from hmrec.schema import INDEX_DTYPE, Col, K
from hmrec.tuning import Trial, TuneResult, tune

if TYPE_CHECKING:
    from hmrec.data.dataset import Dataset
    from hmrec.recommenders.options import ModelOptions
    from hmrec.settings import Settings


@dataclass
class TwoStageRecommender(Persisted):
    """Fit: label ``train_weeks + 1`` past weeks; fit the ranker on the older ones, pick its
    number of rounds on the newest (the "next week"), refit on the newest ``train_weeks``.
    Recommend: rank each customer's candidates in chunks; fill up with last week's best sellers
    (customers with no purchase get those alone).

    ``artifacts``, when set, receives the model, its features and their importance. With
    ``tune_budget`` (seconds), ``fit`` first chooses the settings on the weeks before its cutoff
    (``tuning.py``); the choice is kept in ``tuning`` and saved with the model.
    """

    tables: Tables
    candidates: CandidateConfig = field(default_factory=CandidateConfig)
    config: RankerConfig = field(default_factory=RankerConfig)
    chunk_size: int = 100_000
    engine: Engine = field(default_factory=LocalEngine)
    """Runs the per-customer work (labelled weeks, ranking): in this process, or on Ray."""
    artifacts: Path | None = None
    cache: WeekCache | None = None
    on_step: Step | None = None
    tune_budget: float | None = None
    on_tuned: Callable[[TuneResult], None] | None = None
    name: str = "ranker"
    tuning: TuneResult | None = None
    ranker: FittedRanker | None = None
    fill: list[int] = field(default_factory=list)
    history: pl.LazyFrame | None = None
    cutoff: date | None = None

    explains: ClassVar[bool] = True

    @classmethod
    def build(cls, dataset: Dataset, options: ModelOptions) -> TwoStageRecommender:
        """The two-stage model of ``options`` for ``dataset``'s catalogue (not fitted)."""
        make = options.cache.tables if options.cache is not None else Tables
        return cls(
            make(dataset.articles(), dataset.customers()),
            candidates=options.candidates,
            config=options.ranker,
            artifacts=options.artifacts,
            cache=options.cache,
            on_step=options.on_step,
            tune_budget=options.tune_budget,
            on_tuned=options.on_tuned,
            engine=options.engine,
        )

    def learned(self, dataset: Dataset) -> FittedRanker | None:
        return self.ranker

    def tuning_meta(self) -> dict[str, Any] | None:
        return self.tuning.meta() if self.tuning is not None else None

    @classmethod
    def save_learned(cls, learned: FittedRanker, folder: Path, cutoff: date) -> None:
        learned.save(folder / RANKER_DIR, {"cutoff": cutoff.isoformat()})

    @classmethod
    def load_learned(cls, folder: Path, settings: Settings, articles: pl.Series) -> FittedRanker:
        with reading(folder / RANKER_DIR):
            fitted = FittedRanker.load(folder / RANKER_DIR)
        _check_settings(fitted.features, settings, folder / SETTINGS_FILE)
        return fitted

    @classmethod
    def bind(
        cls,
        learned: FittedRanker,
        dataset: Dataset,
        fill: list[int],
        week: WeekInput,
        settings: Settings,
        engine: Engine,
        on_step: Step | None,
    ) -> TwoStageRecommender:
        ranker = cls(
            Tables(dataset.articles(), dataset.customers()),
            candidates=settings.candidates,
            config=settings.ranker,
            engine=engine,
            on_step=on_step,
            ranker=learned,
            fill=fill,
        )
        return ranker.refresh(week)

    def use(self, engine: Engine, on_step: Step | None) -> None:
        self.engine, self.on_step = engine, on_step

    def importance(self) -> pl.DataFrame | None:
        return None if self.ranker is None else self.ranker.importance()

    def features(self) -> list[str]:
        return [] if self.ranker is None else list(self.ranker.features)

    def tuned(self) -> tuple[RankerConfig, CandidateConfig]:
        return self.config, self.candidates

    def _step(self, text: str) -> None:
        if self.on_step:
            self.on_step(text)

    def _rounds(self, doing: str, most: str = "") -> Callable[[int, int], None] | None:
        """What tells of the boosting rounds of the fit ``doing`` describes."""
        if not self.on_step:
            return None
        return lambda done, total: self._step(f"{doing}: round {done}/{most}{total}")

    def _like(self, config: RankerConfig, candidates: CandidateConfig, cache: WeekCache) -> TwoStageRecommender:
        """A model of this one's tables and engine with other settings (a trial of the tuning)."""
        return TwoStageRecommender(self.tables, candidates=candidates, config=config, cache=cache, engine=self.engine)

    def _tune(self, history: pl.LazyFrame, cutoff: date) -> WeekCache | None:
        """Choose the settings on the weeks before ``cutoff``; the labelled weeks of the chosen
        candidates, for the fit to reuse."""
        assert self.tune_budget is not None

        def tried(trial: Trial) -> None:
            gain = "" if trial.gain is None else f", {trial.gain:+.5f} +- {trial.se:.5f}"
            kept = ", kept" if trial.kept and trial.gain is not None else ""
            self._step(f"tuning: {trial.label}: MAP@12 {trial.mean:.5f}{gain}{kept} in {trial.seconds:.0f} s")

        caches: dict[CandidateConfig, WeekCache] = {}
        self._step(f"tuning the ranker on the weeks before {cutoff} (budget {self.tune_budget:.0f} s)")
        result = tune(
            history, cutoff, self._like, self.config, self.candidates, self.tune_budget, on_trial=tried, caches=caches
        )
        self.tuning, self.config, self.candidates = result, result.ranker, result.candidates
        if self.on_tuned:
            self.on_tuned(result)
        return caches.get(result.candidates)

    def _label_weeks(
        self, history: pl.LazyFrame, cutoff: date, shared: WeekCache | None
    ) -> tuple[TrainingSet, ValidationSet, list[Rows], list[str]]:
        """The ``train_weeks + 1`` weeks before ``cutoff`` as the fit reads them: the older ones
        labelled first and binned into LightGBM's dataset (their matrices then go), then the
        newest, which picks the rounds, whole (``_validation_week``); with ``refit``, the newest
        ``train_weeks`` sampled (else none); the feature columns."""
        newest_first = training_cutoffs(cutoff, self.config.train_weeks + 1)
        negatives, seed = self.config.train_negatives, self.config.seed
        # the weeks the trees learn from first, each on disk as soon as it is a matrix, binned into
        # LightGBM's dataset from there; then the newest, which picks the rounds: none of their
        # matrices is held with the others, nor with that week
        refit_weeks: list[Rows] = []  # with refit only: the newest train_weeks - 1 of them, held
        steps, features = len(newest_first), None
        with StoredWeeks() as older:
            for i, start in enumerate(newest_first[1:]):
                self._step(f"ranker: labelling week {i + 1}/{steps} (from {start})")
                if shared is None and not self.config.refit:  # a part at a time, put in order on disk
                    parts = self._week_parts(history, start, None, negatives, whole=False)
                    features = self._features_of(parts, features, older.add_parts)
                    continue
                labelled = pl.concat(self._week_parts(history, start, shared, negatives, whole=True))
                if features is None and labelled.height:
                    features = feature_columns(labelled.columns, self.config.drop_blocks)
                kept = sample_negatives(labelled, negatives, seed) if shared is not None else labelled
                del labelled  # neither frame is held once the week is a matrix
                rows = Rows.of(kept, features or [])
                del kept
                older.add(rows)
                if self.config.refit and i < steps - 2:
                    refit_weeks.append(rows)
                del rows
            self._step(f"ranker: binning {older.height:,} rows for the fit")
            train = older.binned(features or [], self.config)
        self._step(f"ranker: labelling week {steps}/{steps} (from {newest_first[0]})")
        valid, newest, features = self._validation_week(history, newest_first[0], shared, train, features)
        if newest is not None:  # only a refit learns from the week that picks the rounds, sampled
            refit_weeks.insert(0, newest)
        return train, valid, refit_weeks, features or []

    def _features_of(
        self, parts: Iterator[pl.DataFrame], features: list[str] | None, add: Callable[[Iterator[Rows]], None]
    ) -> list[str] | None:
        """``add`` the ``parts`` as ``Rows`` (each frame dropped once it is a matrix); the feature
        columns (``features``, else those of the first part with rows)."""
        found = features

        def rows() -> Iterator[Rows]:
            nonlocal found
            for part in parts:
                if found is None and part.height:
                    found = feature_columns(part.columns, self.config.drop_blocks)
                matrix = Rows.of(part, found or [])
                del part  # the frame goes once it is a matrix
                yield matrix

        add(rows())
        return found

    def _week_parts(
        self, history: pl.LazyFrame, start: date, shared: WeekCache | None, negatives: int | None, whole: bool
    ) -> Iterator[pl.DataFrame]:
        """The labelled week from ``start``: from ``shared`` (a cache other fits read keeps whole
        weeks), else built with each buyer's not-bought candidates cut to ``negatives`` where they
        are built (None: all); as one frame sorted by customer (``whole``) or as the engine's
        parts (of other customers, in shard order), each handed over before the next is read."""
        sample = (self.config.train_buyers, self.config.seed)
        build = partial(labelled_week, history, start, self.tables, self.candidates, *sample, self.engine)
        if shared is not None:
            yield shared.get((start, self.candidates, *sample), build)
        elif whole:
            yield build(negatives=negatives)
        else:
            yield from labelled_parts(history, start, self.tables, self.candidates, *sample, self.engine, negatives)

    def _validation_week(
        self,
        history: pl.LazyFrame,
        start: date,
        shared: WeekCache | None,
        train: TrainingSet,
        features: list[str] | None,
    ) -> tuple[ValidationSet, Rows | None, list[str] | None]:
        """The week that picks the rounds, all its rows, binned under ``train``'s bins part by part
        (each part a matrix on disk as it comes, its frame dropped; the files go once binned); with
        ``refit`` also its rows sampled as the trees learn from them (else None); the features."""
        negatives, seed = self.config.train_negatives, self.config.seed
        sampled: list[pl.DataFrame] = []
        with StoredWeeks() as parts:
            for part in self._week_parts(history, start, shared, None, whole=False):
                if features is None and part.height:
                    features = feature_columns(part.columns, self.config.drop_blocks)
                parts.add(Rows.of(part, features or []))
                if self.config.refit:
                    sampled.append(sample_negatives(part, negatives, seed))
                del part
            valid = parts.validation(features or [], train)
        if not self.config.refit:
            return valid, None, features
        newest = pl.concat([p for p in sampled if p.height] or sampled[:1] or [pl.DataFrame()])
        if newest.height and not newest.select(packed([Col.CUSTOMER, Col.ARTICLE])).to_series().is_sorted():
            newest = newest.sort(Col.CUSTOMER, Col.ARTICLE)  # in the order of the whole week, as the trees learn it
        return valid, Rows.of(newest, features or []), features

    def fit(self, week: WeekInput) -> TwoStageRecommender:
        """Label the ``train_weeks + 1`` weeks before the cutoff (tuning the settings first with a
        ``tune_budget``), fit the ranker on the older ones with the newest picking the rounds, refit
        on the newest, and keep the fill list; the model and its files go to ``artifacts``."""
        history, cutoff = week.history, week.cutoff
        self.tables.prime(history, cutoff, self.engine)  # tables every earlier week reads, computed once here
        tuned = self._tune(history, cutoff) if self.tune_budget is not None else None
        shared = self.cache or tuned  # a cache other fits read: its weeks are kept whole there
        train, valid, refit_weeks, features = self._label_weeks(history, cutoff, shared)
        self.tables.forget(cutoff)  # the weeks are built: their global state is no longer needed
        doing = f"ranker: fitting on {train.height:,} rows"
        self._step(doing)
        fitted = fit_ranker(
            train,
            valid,  # an empty week picks nothing: the fit runs its most rounds
            features,
            self.config,
            on_round=self._rounds(doing, "at most "),
        )
        del train
        if refit_weeks:
            doing = f"ranker: refitting {fitted.best_round} rounds on the newest {len(refit_weeks)} weeks"
            self._step(doing)
            refitted = fit_ranker(
                refit_weeks, None, features, self.config, rounds=fitted.best_round, on_round=self._rounds(doing)
            )
            fitted = replace(refitted, valid_map=fitted.valid_map)
        self.ranker = fitted
        self.fill = PopularRecommender().fit(week).fill
        self.refresh(week)
        if self.artifacts is not None:
            meta = {"cutoff": cutoff.isoformat(), "candidates": asdict(self.candidates), "ranker": asdict(self.config)}
            if self.tuning is not None:
                meta["tuning"] = self.tuning.meta()
            fitted.save(self.artifacts, meta)
        return self

    def refresh(self, week: WeekInput) -> TwoStageRecommender:
        """Rank from the week's history (candidates and features are computed from it) with the
        fitted trees and fill list."""
        self.history, self.cutoff = week.history, week.cutoff
        return self

    def recommend(self, customers: pl.Series, k: int = K, details: bool = False, explain: bool = False) -> pl.DataFrame:
        """The ``k`` best of each customer's ranked candidates, filled up with the fill list;
        with ``details``, each article's ``score`` and ``sources`` too (``popular fill`` for
        what the fill added), and with ``explain`` the features that moved each ranked
        article's score most (``explain``; null for the fill)."""
        parts = list(self.recommend_parts(customers, k, details, explain))
        return pl.concat(parts).sort(Col.CUSTOMER, Col.RANK)

    def recommend_parts(
        self, customers: pl.Series, k: int = K, details: bool = False, explain: bool = False
    ) -> Iterator[pl.DataFrame]:
        """``recommend``'s rows a part of the customers at a time (the engine's parts, one per
        shard on Ray, then the customers no part holds: the fill list alone): the driver never
        holds every customer's ranked candidates, nor their lists, at once."""
        if self.ranker is None or self.history is None or self.cutoff is None:
            raise ValueError("fit the ranker before asking it for recommendations")
        doing = f"ranker: ranking the candidates of {customers.len():,} customers"
        self._step(doing)

        def chunk_done(done: int, total: int) -> None:
            self._step(f"{doing}, part {done}/{total} done")

        week = self.tables.week(self.history, self.cutoff, self.candidates, self.engine)
        self.tables.release(self.cutoff)  # the week's tables are computed: what built them can go
        work = RankWork(self.ranker, self.candidates, k, self.chunk_size, explain)
        seen, empty = [], None
        with closing(self.engine.each(week, customers, work, chunk_done)) as parts:
            for i, part in enumerate(parts):
                if i == 0:
                    self._step("ranker: filling short lists with popular articles")
                scored = part.sort(Col.CUSTOMER, Col.RANK)
                who = scored[Col.CUSTOMER].unique()
                seen.append(who)
                empty = scored.clear()
                yield self._filled(scored, who, k, details or explain)
        rest = customers.cast(INDEX_DTYPE).unique()
        rest = rest.filter(~rest.is_in(pl.concat(seen).implode())) if seen else rest
        # the customers without candidates: the fill alone, ``chunk_size`` at a time (with no part
        # at all, one part, however few)
        for first in range(0, rest.len() if seen else max(rest.len(), 1), self.chunk_size):
            yield self._filled(empty, rest.slice(first, self.chunk_size), k, details or explain)

    def _filled(self, scored: pl.DataFrame | None, customers: pl.Series, k: int, details: bool) -> pl.DataFrame:
        """``customers``' lists: their ``scored`` candidates, then the fill list."""
        recs = fill_with(None if scored is None else scored.lazy(), customers, self.fill, k)
        return (
            with_details(recs, scored if scored is not None else pl.DataFrame(schema=SCORED_SCHEMA), self.name)
            if details
            else recs
        )


def _check_settings(features: list[str], settings: Settings, path: Path) -> None:
    """Refuse settings whose candidates cannot give the columns the trees read (a source they
    score on, or the MF features, taken out of ``settings.toml``): they would be scored as
    missing values, silently."""
    wanted = sorted(s for s in SOURCES if f"{s}_score" in features and s not in settings.candidates.sources)
    if wanted:
        raise ModelError(
            f"{path}: the trees read the scores of source(s) {', '.join(wanted)}, which its sources leave out; "
            "fit the model again with the sources you want"
        )
    if any(f.startswith("m_") for f in features) and not settings.candidates.embedding:
        raise ModelError(f"{path}: the trees read the MF features, which embedding = false leaves out; fit it again")
    if any(f.startswith("u_") for f in features) and not settings.candidates.units:
        raise ModelError(f"{path}: the trees read the u_ features, which units = false leaves out; fit it again")
