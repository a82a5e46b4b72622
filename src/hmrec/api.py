"""hmrec's Python API: what the ``hmrec`` command does, as functions (docs/python-api.md).

    import hmrec

    data = hmrec.load("data/hm")                   # prepared on first use, reused after
    result = hmrec.evaluate(data)                  # the default model, last week held out
    model = hmrec.fit(data)                        # fitted on everything
    model.write_submission(data, "submission.csv")

Results carry Kaggle ids (``customer_id``, ``article_id``) as polars frames; the prepared integer
ids stay inside. Settings come as a :class:`Settings` (or a TOML file, ``Settings.load``).
The CLI is a thin layer over this module: it calls these functions and prints what they return.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from hmrec.data.check import CheckReport
from hmrec.data.check import check as _check
from hmrec.data.dataset import Dataset
from hmrec.data.engine import Engine, LocalEngine, make_engine
from hmrec.data.ingest import PrepareResult
from hmrec.data.split import Split, check_default_holdout, parse_cutoff, refuse_stray_dates
from hmrec.evaluation import Evaluation, ModelOptions, Score, evaluate_models, fit_model
from hmrec.model import Model, ModelError, scoring_cutoff
from hmrec.settings import MODEL_NAMES, Settings

if TYPE_CHECKING:
    from hmrec.tuning import TuneResult

__all__ = [
    "MODEL_NAMES",
    "CheckReport",
    "Dataset",
    "Evaluation",
    "Model",
    "ModelError",
    "Score",
    "Settings",
    "check",
    "evaluate",
    "fit",
    "holdout",
    "load",
    "load_model",
    "prepare",
    "running",
]

Step = Callable[[str], None]


def prepare(
    data: Path | str,
    prepared: Path | str | None = None,
    on_step: Step | None = None,
    rebuild: bool = False,
    shards: int | None = None,
) -> PrepareResult:
    """Validate the Kaggle files in ``data`` and write the prepared parquet (``data/prepared``,
    or ``prepared``) unless it is up to date (``rebuild`` forces it); with ``shards``, also the
    transactions split by customer for ``--engine ray``. Returns the dataset and the warnings."""
    from hmrec.data import ingest
    from hmrec.data.shards import write_shards

    result = (ingest.prepare if rebuild else ingest.load)(data, prepared, on_step)
    if shards is not None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        if on_step:
            on_step(f"writing {shards} shards")
        write_shards(result.dataset, shards)
    return result


def load(data: Path | str, prepared: Path | str | None = None) -> Dataset:
    """The prepared dataset of the Kaggle files in ``data`` (``prepare`` when needed); what the
    files' check found worth a word comes as Python warnings."""
    result = prepare(data, prepared)
    for message in result.warnings:
        warnings.warn(message, stacklevel=2)
    return result.dataset


def check(data: Path | str, on_step: Step | None = None) -> CheckReport:
    """A data-quality summary of the Kaggle files in ``data``: date range and rows per week,
    nulls per column, unknown and duplicate ids, duplicate rows, prices; ``report.errors`` lists
    what would make a run wrong."""
    return _check(data, on_step)


def holdout(dataset: Dataset, cutoff: str | None = None) -> Split:
    """The holdout split at ``cutoff`` (YYYY-MM-DD; default: the data's last 7 days, refused when
    they cannot be a real week of the log, with the ``--cutoff`` to use)."""
    if cutoff is None:
        check_default_holdout(dataset.transactions())
    return Split.at(dataset.transactions(), parse_cutoff(cutoff) if cutoff else None)


@contextmanager
def running(settings: Settings, dataset: Dataset) -> Iterator[Engine]:
    """The engine ``settings`` name (local, or Ray with its workers or cluster address), started
    for the block and stopped after it."""
    engine = make_engine(settings.engine, dataset, workers=settings.workers, address=settings.address)
    with engine:
        yield engine


def _options(
    settings: Settings,
    on_step: Step | None,
    engine: Engine | None,
    on_tuned: Callable[[TuneResult], None] | None = None,
    artifacts: Path | None = None,
) -> ModelOptions:
    return ModelOptions(
        ranker=settings.ranker,
        candidates=settings.candidates,
        artifacts=artifacts,
        on_step=on_step,
        tune_budget=settings.tune_budget if settings.tune else None,
        on_tuned=on_tuned,
        engine=engine or LocalEngine(),
    )


def evaluate(
    dataset: Dataset,
    models: Sequence[str] | None = None,
    settings: Settings | None = None,
    *,
    on_step: Step | None = None,
    on_tuned: Callable[[TuneResult], None] | None = None,
    engine: Engine | None = None,
    curve_sizes: Sequence[int] = (),
    artifacts: Path | None = None,
) -> Evaluation:
    """Hold out a week (``settings.cutoff``, default the last 7 days), fit each model of
    ``models`` (default: ``settings.model``) on the weeks before and score it on the week's
    buyers. ``result.table()`` holds MAP@12 and recall@12 per model;
    ``result.recommendations_of(name, dataset)`` the holdout recommendations with Kaggle ids.
    ``engine`` runs the per-customer work (default: in this process); ``artifacts`` receives
    the ranker's model files."""
    settings = settings or Settings()
    names = list(models) if models else [settings.model]
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_NAMES)}")
    split = holdout(dataset, settings.cutoff)
    options = _options(settings, on_step, engine, on_tuned, artifacts)
    return evaluate_models(dataset, names, split, options, curve_sizes)


def fit(
    dataset: Dataset,
    settings: Settings | None = None,
    *,
    on_step: Step | None = None,
    on_tuned: Callable[[TuneResult], None] | None = None,
    engine: Engine | None = None,
) -> Model:
    """``settings.model`` (default: the ranker) fitted on all of ``dataset``, to score the week
    after its last day: ``model.recommend(dataset)``, ``model.write_submission(dataset, path)``,
    ``model.save(folder)``. With ``settings.tune``, the ranker's settings are chosen first on the
    weeks before (the model's ``settings`` are the chosen ones)."""
    settings = settings or Settings()
    refuse_stray_dates(
        dataset.transactions(),
        "the model would score the week after them",
        lambda end: "Fix those dates (hmrec check --data DIR lists them)",
    )
    tuned: list[TuneResult] = []

    def keep(result: TuneResult) -> None:
        tuned.append(result)
        if on_tuned:
            on_tuned(result)

    options = _options(settings, on_step, engine, keep)
    recommender = fit_model(dataset, settings.model, options)
    if tuned:
        chosen = tuned[-1]
        settings = replace(settings, ranker=chosen.ranker, candidates=chosen.candidates, tune=False)
    model = Model.fitted(settings.model, settings, dataset, recommender, scoring_cutoff(dataset))
    model.on_step, model.engine = on_step, options.engine
    return model


def load_model(folder: Path | str, *, on_step: Step | None = None, engine: Engine | None = None) -> Model:
    """The model ``Model.save`` (or ``hmrec fit``) wrote to ``folder``; refused with what to do
    when written by an hmrec of another model format."""
    model = Model.load(folder)
    model.on_step = on_step
    model.engine = engine or LocalEngine()
    return model
