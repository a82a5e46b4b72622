"""Scoring models on holdout weeks: each model fitted on a split's history and scored on the
week's buyers (``evaluate_models``, ``evaluate_weeks``), the ablation, the shop statistics.

``Evaluation`` holds what was found; ``hmrec.api.evaluate`` is the call users make.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import polars as pl

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split, label_rows
from hmrec.data.split import buyers as week_buyers
from hmrec.data.week import WeekInput
from hmrec.metrics import average_precisions, map_at_k, paired_gain, recall_at_k
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import FEATURE_BLOCKS, CandidateConfig, WeekCache
from hmrec.recommenders.base import Recommender, source_lists
from hmrec.recommenders.options import ModelOptions
from hmrec.registry import DEFAULT_MODEL, RULE_BASELINES, make_model, model_class
from hmrec.schema import Col, K


@dataclass(frozen=True)
class Score:
    """One model's result on one holdout week."""

    model: str
    map_at_12: float
    recall_at_12: float
    customers: int
    seconds: float

    @classmethod
    def of(cls, model: str, recs: pl.DataFrame, truth: pl.DataFrame, seconds: float) -> Score:
        """MAP@12 and recall@12 of ``recs`` against the week's purchases ``truth``."""
        return cls(model, map_at_k(recs, truth, K), recall_at_k(recs, truth, K), week_buyers(truth).len(), seconds)


def _fit_and_score(
    name: str, split: Split, dataset: Dataset, options: ModelOptions | None
) -> tuple[Score, pl.DataFrame, Recommender]:
    start = time.perf_counter()
    truth = split.truth.collect()
    buyers = week_buyers(truth)
    if buyers.is_empty():
        raise ValueError(f"nobody bought anything in the week from {split.cutoff}: nothing to score")
    model = make_model(name, dataset, options).fit(WeekInput.of(dataset, split, buyers))
    explained = {"explain": True} if options is not None and options.explain and model_class(name).explains else {}
    recs = model.recommend(buyers, K, details=True, **explained)
    return Score.of(name, recs, truth, time.perf_counter() - start), recs, model


def evaluate_model(
    name: str, split: Split, dataset: Dataset, options: ModelOptions | None = None
) -> tuple[Score, pl.DataFrame]:
    """Fit ``name`` on the split's history, recommend for the customers who bought that week, and
    score them; also return the recommendations (``customer, article, rank, score, sources``)."""
    score, recs, _ = _fit_and_score(name, split, dataset, options)
    return score, recs


@dataclass(frozen=True)
class Evaluation:
    """What ``evaluate`` found on one holdout week: each model's score, recommendations
    (prepared ids, with ``score`` and ``sources``) and fill list, what was bought, the ranker's
    feature importance and, when asked for, each source's candidate recall against the number
    of candidates (``curve_sizes``)."""

    cutoff: date
    scores: list[Score]
    recommendations: dict[str, pl.DataFrame]
    fill: dict[str, list[int]]
    truth: pl.DataFrame
    importance: pl.DataFrame | None = None
    recall_curve: dict[str, list[float]] | None = None
    curve_sizes: tuple[int, ...] = ()
    ablation: tuple[Score, list[AblationRow]] | None = None
    """The ranker's score, then retrained without each feature block and each source (``with_ablation``;
    means over the holdout weeks when there are several)."""
    ranker_settings: tuple[RankerConfig, CandidateConfig] | None = None
    """The settings the ranker was fitted with (those ``--tune`` chose, when it tuned)."""
    dataset: Dataset | None = field(default=None, repr=False, compare=False)
    """The data it was evaluated on (what ``hmrec.write_report`` reads the history from)."""
    weekly: tuple[tuple[date, tuple[Score, ...]], ...] = ()
    """Each holdout week's cutoff and scores, oldest first (the last is this week's ``scores``);
    empty for a single week."""
    report: Path | None = None
    """The HTML report written with the artifacts (``hmrec.evaluate(artifacts=...)``)."""

    @property
    def main(self) -> str:
        """The model the serving files and the report's details are about: the default model (the
        ranker) if scored, else the last."""
        return DEFAULT_MODEL if DEFAULT_MODEL in self.recommendations else self.scores[-1].model

    def table(self) -> pl.DataFrame:
        """``model, map_at_12, recall_at_12, customers, seconds``, one row per model."""
        return pl.DataFrame([asdict(s) for s in self.scores])

    @property
    def weeks(self) -> int:
        """How many holdout weeks the models were scored on."""
        return len(self.weekly) or 1

    def summary(self) -> pl.DataFrame:
        """``model, weeks, map_at_12, map_se, recall_at_12``: each model's mean over the holdout
        weeks and the standard error of that mean (week to week; null for one week)."""
        weekly = self.weekly or ((self.cutoff, tuple(self.scores)),)
        rows = pl.DataFrame(
            [
                {"week": i, "model": s.model, "map": s.map_at_12, "recall": s.recall_at_12}
                for i, (_, ws) in enumerate(weekly)
                for s in ws
            ]
        )
        order = {s.model: i for i, s in enumerate(self.scores)}
        return (
            rows.group_by("model")
            .agg(
                weeks=pl.len(),
                map_at_12=pl.col("map").mean(),
                map_se=pl.col("map").std() / pl.len().sqrt(),
                recall_at_12=pl.col("recall").mean(),
            )
            .sort(pl.col("model").replace_strict(order, return_dtype=pl.Int32))
        )

    def recommendations_of(self, name: str, dataset: Dataset) -> pl.DataFrame:
        """Model ``name``'s holdout recommendations with Kaggle ids: ``customer_id, article_id,
        rank, score, sources`` (a list of names), by customer and rank."""
        if name not in self.recommendations:
            raise ValueError(f"{name} was not evaluated; evaluated: {', '.join(self.recommendations)}")
        return (
            dataset.ids.to_kaggle(self.recommendations[name].lazy())
            .sort(Col.CUSTOMER_ID, Col.RANK)
            .select(Col.CUSTOMER_ID, Col.ARTICLE_ID, Col.RANK, Col.SCORE, source_lists())
            .collect()
        )


def evaluate_models(
    dataset: Dataset,
    names: Sequence[str],
    split: Split,
    options: ModelOptions | None = None,
    curve_sizes: Sequence[int] = (),
    with_ablation: bool = False,
) -> Evaluation:
    """Fit each model of ``names`` on the split's history and score it on the week's buyers;
    with ``curve_sizes``, also measure the ranker's candidate sources on those buyers at each
    size; with ``with_ablation``, retrain the ranker (as fitted, tuned or not) without each
    feature block and each source, reusing its labelled weeks."""
    options = options or ModelOptions()
    if with_ablation:
        options = replace(options, cache=options.cache or WeekCache())
    truth = split.truth.collect()
    scores, recs, fill = [], {}, {}
    importance = None
    ranker_options = options
    features: list[str] = []
    ranked: tuple[Score, pl.DataFrame, list[str]] | None = None  # the model with features: the ablation's base
    chosen = None
    for i, name in enumerate(names):
        if options.on_step:
            options.on_step(f"model {i + 1}/{len(names)}: fitting and scoring {name}")
        score, recs[name], model = _fit_and_score(name, split, dataset, options)
        scores.append(score)
        fill[name] = list(model.fill)
        if model.features():
            importance, features = model.importance(), model.features()
            ranked = (score, recs[name], features)
        if model.tuned() is not None:
            chosen = model.tuned()
            ranker_options = replace(options, ranker=chosen[0], candidates=chosen[1], tune_budget=None)
    curve = None
    if curve_sizes:
        from hmrec.retrieval import pipeline as retrieval

        if options.on_step:
            options.on_step("measuring candidate recall")
        buyers = week_buyers(truth)
        runs = retrieval.run_sources_on(  # the buyers' part on the engine, as the ranker's
            options.engine, WeekInput.of(dataset, split, buyers), list(options.candidates.sources), max(curve_sizes)
        )
        curve = retrieval.recall_curve(retrieval.quality_tables(runs, truth, sorted(curve_sizes)))
    removed = None
    if with_ablation:
        removed = ablation(
            dataset, split, replace(ranker_options, artifacts=None), base=ranked, on_step=options.on_step
        )
    sizes = tuple(sorted(curve_sizes))
    return Evaluation(split.cutoff, scores, recs, fill, truth, importance, curve, sizes, removed, chosen, dataset)


def evaluate_weeks(
    dataset: Dataset,
    names: Sequence[str],
    splits: Sequence[Split],
    options: ModelOptions | None = None,
    curve_sizes: Sequence[int] = (),
    with_ablation: bool = False,
) -> Evaluation:
    """``evaluate_models`` on each split in turn (oldest first): the last week's evaluation (its
    recommendations, report material and artifacts) with every week's scores in ``weekly`` and
    the ablation's rows as means over the weeks, each change's standard error combined from the
    weeks' (independent buyers' weeks: the root of the sum of squares, over the count)."""
    options = options or ModelOptions()
    if len(splits) == 1:
        return evaluate_models(dataset, names, splits[0], options, curve_sizes, with_ablation)
    step = options.on_step
    done: list[Evaluation] = []
    for i, split in enumerate(splits):
        last = i == len(splits) - 1

        def said(text: str, i: int = i) -> None:
            if step:
                step(f"week {i + 1}/{len(splits)} (from {splits[i].cutoff}): {text}")

        week_options = replace(  # the last week's artifacts and explanations are the ones kept
            options,
            on_step=said if step else None,
            artifacts=options.artifacts if last else None,
            explain=options.explain and last,
        )
        result = evaluate_models(dataset, names, split, week_options, curve_sizes if last else (), with_ablation)
        if not last:  # only the scores of an earlier week are kept
            result = replace(result, recommendations={}, fill={}, truth=result.truth.clear(), importance=None)
        done.append(result)
    weekly = tuple((r.cutoff, tuple(r.scores)) for r in done)
    ablations = [r.ablation for r in done if r.ablation is not None]
    return replace(done[-1], weekly=weekly, ablation=_mean_ablation(ablations) if ablations else None)


def _mean_ablation(weeks: list[tuple[Score, list[AblationRow]]]) -> tuple[Score, list[AblationRow]]:
    n = len(weeks)
    bases = [base for base, _ in weeks]
    base = Score(
        DEFAULT_MODEL,
        sum(b.map_at_12 for b in bases) / n,
        sum(b.recall_at_12 for b in bases) / n,
        sum(b.customers for b in bases),
        sum(b.seconds for b in bases),
    )
    rows = []
    for parts in zip(*(rows for _, rows in weeks), strict=True):
        first = parts[0]
        assert all((p.removed, p.kind) == (first.removed, first.kind) for p in parts)
        rows.append(
            AblationRow(
                first.removed,
                first.kind,
                sum(p.map_at_12 for p in parts) / n,
                sum(p.change for p in parts) / n,
                math.sqrt(sum(p.se**2 for p in parts)) / n,
                n,
            )
        )
    return base, rows


def score_model(name: str, split: Split, dataset: Dataset, options: ModelOptions | None = None) -> Score:
    """Fit ``name`` on the split's history and score it on the customers who bought that week."""
    return evaluate_model(name, split, dataset, options)[0]


def shop_statistics(dataset: Dataset, cutoff: date | None = None) -> dict[str, float | int | str]:
    """The numbers that compare a shop with the real H&M data (see docs/synthetic-shop.md)."""
    tx = dataset.transactions()
    split = Split.at(tx, cutoff)
    week = label_rows(tx, split.cutoff)
    first, last = dataset.date_range()
    seen_before = split.history.select(Col.CUSTOMER, Col.ARTICLE).unique()
    week_stats = week.select(
        buyers=pl.col(Col.CUSTOMER).n_unique(),
        rows=pl.len(),
        online=(pl.col(Col.CHANNEL) == 2).mean(),
    ).collect()
    repeats = week.join(seen_before, on=[Col.CUSTOMER, Col.ARTICLE], how="semi").select(pl.len()).collect().item()
    n_customers = dataset.customers().select(pl.len()).collect().item()
    buyers, rows = week_stats["buyers"][0], week_stats["rows"][0]
    stats: dict[str, float | int | str] = {
        "rows": tx.select(pl.len()).collect().item(),
        "customers": n_customers,
        "articles": dataset.articles().select(pl.len()).collect().item(),
        "product codes": dataset.articles().select(pl.col(Col.PRODUCT_CODE).n_unique()).collect().item(),
        "weeks": round(((last - first).days + 1) / 7, 1),
        "active last week": buyers / n_customers,
        "purchases per active customer": rows / buyers if buyers else 0.0,
        "online share": tx.select((pl.col(Col.CHANNEL) == 2).mean()).collect().item(),
        "last-week repeats": repeats / rows if rows else 0.0,
    }
    for name in RULE_BASELINES:
        stats[f"MAP@12 {name}"] = score_model(name, split, dataset).map_at_12
    return stats


@dataclass(frozen=True)
class AblationRow:
    """The ranker's holdout MAP@12 with one feature block or one source removed: ``change``
    against the full ranker and its standard error ``se`` (paired over the weeks' buyers: a
    change within twice ``se`` is noise); means over ``weeks`` holdout weeks."""

    removed: str
    kind: str
    map_at_12: float
    change: float
    se: float = math.inf
    weeks: int = 1


def ablated_blocks(features: Sequence[str], drop_blocks: Sequence[str] = ()) -> list[str]:
    """The feature blocks a ranker trained on ``features`` uses (a block that is off, such as
    the MF features without ``--mf-features``, has no column there), less ``drop_blocks``."""
    return [
        block
        for block, owns in FEATURE_BLOCKS.items()
        if block not in drop_blocks and any(owns(feature) for feature in features)
    ]


def ablation(
    dataset: Dataset,
    split: Split,
    options: ModelOptions,
    base: tuple[Score, pl.DataFrame, Sequence[str]] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> tuple[Score, list[AblationRow]]:
    """Score the ranker as configured (unless ``base`` is that score already, with its
    recommendations and features), then retrained without each feature block it uses and
    without each of its sources in turn (candidates rebuilt without it); each change comes with
    its paired standard error over the week's buyers. The block runs share labelled weeks
    through ``options.cache``."""
    base_config = options.ranker
    shared = replace(options, cache=options.cache or WeekCache(), artifacts=None, explain=False)
    step = on_step or (lambda text: None)
    truth = split.truth.collect()
    if base is None:
        step("ablation: the full ranker")
        score, recs, model = _fit_and_score(DEFAULT_MODEL, split, dataset, shared)
        base = (score, recs, model.features())
    base_score, base_recs, features = base
    base_aps = _aps(base_recs, truth)
    variants: list[tuple[str, str, ModelOptions]] = [
        (block, "feature block", replace(shared, ranker=replace(base_config, drop_blocks=(block,))))
        for block in ablated_blocks(features, base_config.drop_blocks)
    ]
    sources = options.candidates.sources
    if len(sources) > 1:
        variants += [
            (
                source,
                "source",
                replace(
                    shared,
                    cache=WeekCache(),  # its own weeks, freed after its run
                    candidates=replace(options.candidates, sources=tuple(s for s in sources if s != source)),
                ),
            )
            for source in sources
        ]
    rows = []
    for i, (removed, kind, variant) in enumerate(variants):
        step(f"ablation: variant {i + 1}/{len(variants)}: without the {kind} {removed}")
        score, recs = evaluate_model(DEFAULT_MODEL, split, dataset, variant)
        change, se = paired_gain(_aps(recs, truth), base_aps)
        rows.append(AblationRow(removed, kind, score.map_at_12, change, se))
    return base_score, rows


def _aps(recs: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    return average_precisions(recs, truth, K).with_columns(week=pl.lit(0))
