"""What else the ``hmrec`` command does, as calls: the synthetic shop and its statistics, the
candidate sources measured, the MF baseline trained with checkpoints, the HTML report, the app
that serves the artifacts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from hmrec.data import outputs
from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.data.split import buyers as week_buyers
from hmrec.data.split import history as before
from hmrec.engine import Engine, LocalEngine
from hmrec.evaluation import Evaluation, Score
from hmrec.ranking.data import CandidateConfig
from hmrec.recommenders.mf.config import MFConfig
from hmrec.settings import Settings
from hmrec.version import __version__

if TYPE_CHECKING:
    from hmrec.recommenders.mf.recommender import MFRecommender
    from hmrec.retrieval.pipeline import QualityRow


def generate(
    out: Path | str,
    scale: str = "small",
    profile: str = "fashion",
    seed: int = 0,
    on_week: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write a synthetic shop (the four Kaggle files) into ``out``; same arguments, same bytes."""
    from hmrec import shop

    return shop.generate(shop.config_for(scale, profile), Path(out), seed, on_week=on_week)


def shop_statistics(dataset: Dataset) -> dict[str, float | int | str]:
    """The numbers that compare a shop with the real H&M data (docs/synthetic-shop.md)."""
    from hmrec.evaluation import shop_statistics as statistics

    return statistics(dataset)


def measure_candidates(
    dataset: Dataset, split: Split, names: Sequence[str], sizes: Sequence[int], engine: Engine | None = None
) -> tuple[dict[int, list[QualityRow]], dict[str, list[float]]]:
    """Run the candidate sources ``names`` for the split week's buyers and measure them: per size
    of ``sizes``, one row per source, their union in the fixed order, their union by the learned
    cut (fitted on the week before, ``retrieval/cut.py``) and the whole pool (recall, buyers with
    a hit, oracle MAP@12, seconds); and each one's recall against the size."""
    from hmrec.data.week import WeekInput
    from hmrec.retrieval import pipeline as retrieval

    truth = split.truth.collect()
    buyers = week_buyers(truth)
    week = WeekInput.of(dataset, split, buyers)
    runs = retrieval.run_sources_on(engine or LocalEngine(), week, names, max(sizes))
    cut = retrieval.learned_cut(week, names, max(sizes), CandidateConfig.cut_buyers, CandidateConfig.cut_weeks)
    tables = retrieval.quality_tables(runs, truth, sorted(sizes), cut)
    return tables, retrieval.recall_curve(tables)


def train_baseline(
    dataset: Dataset,
    split: Split,
    config: MFConfig,
    bought_filter: str = "none",
    folder: Path | None = None,
    resume: bool = False,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> tuple[MFRecommender, Score]:
    """Train the MF model on the split's history, early-stopping on its week (checkpoints in
    ``folder``), and score the best epoch on that week's buyers."""
    from hmrec.recommenders.mf.recommender import MFRecommender  # torch loads only here

    if folder is not None:  # checkpoints are written into it file by file: only into a folder of hmrec's
        outputs.refuse_foreign(folder, "the checkpoint folder")
        folder.mkdir(parents=True, exist_ok=True)
        outputs.mark(folder)
    start = time.perf_counter()
    truth = split.truth.collect()
    model = MFRecommender(config, filter=bought_filter, on_epoch=on_epoch, checkpoint_dir=folder)
    model.fit_with_holdout(split.history, split.cutoff, truth, resume=resume)
    recs = model.recommend(week_buyers(truth))
    score = Score.of("mf", recs, truth, time.perf_counter() - start)
    return model, score


def write_report(
    evaluation: Evaluation,
    folder: Path | str,
    settings: Settings | None = None,
    *,
    dataset: Dataset | None = None,
) -> Path:
    """Write ``evaluation``'s HTML report (one file, plots inside) as ``folder/report.html``:
    the scores, the weeks' means and the ablation when there are, candidate recall, MAP@12 by
    customer segment, feature importance, a glossary of the features, and the run (hmrec's
    version, the date, the data, ``settings``). Returns its path."""
    from datetime import datetime

    from hmrec.report.build import ModelResult, ReportInput  # matplotlib loads only here
    from hmrec.report.build import write_report as write_html

    dataset = dataset or evaluation.dataset
    if dataset is None:
        raise ValueError("the evaluation does not know its data: write_report(evaluation, folder, dataset=data)")
    summary = evaluation.summary() if evaluation.weeks > 1 else None
    run = {
        "hmrec": hmrec_version(),
        "written": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "data": str(dataset.source or dataset.root),
        "models": ", ".join(s.model for s in evaluation.scores),
        "holdout weeks": ", ".join(str(c) for c, _ in evaluation.weekly) or str(evaluation.cutoff),
    }
    used = settings
    if used is not None and evaluation.ranker_settings is not None:
        ranker, candidates = evaluation.ranker_settings
        used = replace(used, ranker=ranker, candidates=candidates, tune=None)
    ablation = None
    if evaluation.ablation is not None:
        base, rows = evaluation.ablation
        ablation = (base.map_at_12, rows)
    report = ReportInput(
        cutoff=evaluation.cutoff,
        results=[
            ModelResult(s.model, s.map_at_12, s.recall_at_12, evaluation.recommendations[s.model])
            for s in evaluation.scores
        ],
        truth=evaluation.truth,
        history=before(dataset.transactions(), evaluation.cutoff),
        customers=dataset.customers(),
        recall_curve=evaluation.recall_curve,
        curve_sizes=list(evaluation.curve_sizes),
        importance=evaluation.importance,
        run=run,
        settings=used.to_toml() if used is not None else "",
        weekly=summary,
        weeks=[c for c, _ in evaluation.weekly],
        ablation=ablation,
    )
    return write_html(report, Path(folder) / "report.html")


def hmrec_version() -> str:
    return __version__


def serve_app(artifacts: Path | str) -> object:
    """The FastAPI app serving the recommendations in ``artifacts`` (explorer page at /)."""
    from hmrec.serve.app import create_app

    return create_app(Path(artifacts))
