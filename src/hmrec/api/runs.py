"""The runs of the Python API: evaluate models on holdout weeks, fit one on everything, load a
saved one, and write a submission, each publishing what it writes whole and under its lock."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from hmrec import faults
from hmrec.api.data import holdout, refuse_stray
from hmrec.api.tools import write_report
from hmrec.data import outputs
from hmrec.data.atomic import locked, staged
from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.engine import Engine, LocalEngine, make_engine
from hmrec.evaluation import Evaluation, evaluate_weeks
from hmrec.fitting import fit_model, scoring_cutoff
from hmrec.model import Model
from hmrec.progress import Step, StepPrinter
from hmrec.recommenders.options import ModelOptions
from hmrec.registry import DEFAULT_MODEL, MODEL_NAMES, model_class
from hmrec.schema import Col
from hmrec.settings import Settings

if TYPE_CHECKING:
    from hmrec.recommenders.mf.choice import Choice
    from hmrec.tuning import TuneResult


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
    on_mf_choice: Callable[[Choice], None] | None = None,
) -> ModelOptions:
    return ModelOptions(
        ranker=settings.ranker,
        candidates=settings.candidates,
        on_step=on_step,
        tune_budget=settings.tune_budget if settings.tune else None,
        on_tuned=on_tuned,
        engine=engine or LocalEngine(),
        mf_choose=settings.tune is not False,
        on_mf_choice=on_mf_choice,
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
    ablation: bool = False,
    artifacts: Path | None = None,
    on_mf_choice: Callable[[Choice], None] | None = None,
    weeks: int = 1,
    progress: bool = False,
    explain: bool = False,
) -> Evaluation:
    """Hold out a week (``settings.cutoff``, default the last 7 days), fit each model of
    ``models`` (default: ``settings.model``) on the weeks before and score it on the week's
    buyers. ``result.table()`` holds MAP@12 and recall@12 per model;
    ``result.recommendations_of(name, dataset)`` the holdout recommendations with Kaggle ids.
    ``engine`` runs the per-customer work (default: in this process); ``artifacts`` receives
    what ``hmrec serve`` reads of the main model's holdout week, the ranker's model files
    (``model/``) and the HTML report (``result.report``), published as one set under the
    folder's lock (``Busy`` when another run holds it; refused over, into or around the data);
    ``curve_sizes`` measures each candidate source's recall at those
    sizes; ``ablation`` retrains the ranker without each feature block and each source;
    ``on_mf_choice`` receives what the MF model tried and chose (``settings.tune`` False: it
    keeps its fixed settings). With ``weeks`` N, each of the N weeks up to the holdout week is
    held out in turn: ``result.summary()`` holds each model's mean MAP@12 and its standard
    error, the ablation its means. ``progress`` prints each step on stderr with its seconds.
    ``explain``: the ranker's recommendations carry ``explain``, the three features that moved
    each score most (``Model.recommend``), and the serving files then answer ``?explain=true``."""
    settings = settings or Settings()
    names = list(models) if models else [settings.model]
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_NAMES)}")
    splits = holdout_weeks(dataset, weeks, settings.cutoff)
    options = _options(settings, _with_progress(on_step, progress), engine, on_tuned, on_mf_choice)
    options = replace(options, explain=explain)
    if artifacts is None:
        return evaluate_weeks(dataset, names, splits, options, curve_sizes, ablation)
    folder = Path(artifacts)
    refuse_outputs(dataset, folders={"--artifacts": folder})
    with publishing(folder, stage=folder) as stage:
        assert stage is not None
        result = evaluate_weeks(
            dataset, names, splits, replace(options, artifacts=stage / "model"), curve_sizes, ablation
        )
        if options.on_step:
            options.on_step("saving artifacts and drawing the report")
        report = save_evaluation(stage, dataset, result, settings)
    return replace(result, report=folder / report.relative_to(stage))


def holdout_weeks(dataset: Dataset, weeks: int, cutoff: str | None = None) -> list[Split]:
    """The ``weeks`` holdout splits ending with ``holdout(dataset, cutoff)``'s, a week apart,
    oldest first."""
    if not isinstance(weeks, int) or weeks < 1:
        raise ValueError(f"weeks must be a whole number of at least 1, got {weeks!r}")
    last = holdout(dataset, cutoff)
    if weeks == 1:
        return [last]
    first_day = dataset.date_range()[0]
    earliest = last.cutoff - timedelta(weeks=weeks - 1)
    if earliest - timedelta(weeks=1) < first_day:
        raise ValueError(
            f"{weeks} holdout weeks would start on {earliest}, with less than a week of purchases before it "
            f"(the log starts on {first_day}); hold out fewer weeks"
        )
    tx = dataset.transactions()
    return [Split.at(tx, last.cutoff - timedelta(weeks=i)) for i in reversed(range(1, weeks))] + [last]


def _with_progress(on_step: Step | None, progress: bool) -> Step | None:
    if not progress:
        return on_step
    printer = StepPrinter()
    if on_step is None:
        return printer

    def both(text: str) -> None:
        printer(text)
        on_step(text)

    return both


def fit(
    dataset: Dataset,
    settings: Settings | None = None,
    *,
    on_step: Step | None = None,
    on_tuned: Callable[[TuneResult], None] | None = None,
    engine: Engine | None = None,
    on_mf_choice: Callable[[Choice], None] | None = None,
    progress: bool = False,
) -> Model:
    """``settings.model`` (default: the ranker) fitted on all of ``dataset``, to score the week
    after its last day: ``model.recommend(dataset)``, ``model.write_submission(dataset, path)``,
    ``model.save(folder)``. With ``settings.tune``, the ranker's settings are chosen first on the
    weeks before (the model's ``settings`` are the chosen ones); the MF model chooses its own
    unless ``settings.tune`` is False, and ``on_mf_choice`` receives what it tried and chose.
    ``progress`` prints each step on stderr with its seconds (the model's later work too)."""
    settings = settings or Settings()
    on_step = _with_progress(on_step, progress)
    refuse_stray(dataset, "the model would be fitted to score the week after them")
    tuned: list[TuneResult] = []

    def keep(result: TuneResult) -> None:
        tuned.append(result)
        if on_tuned:
            on_tuned(result)

    options = _options(settings, on_step, engine, keep, on_mf_choice=on_mf_choice)
    recommender = fit_model(dataset, settings.model, options)
    if tuned:
        chosen = tuned[-1]
        settings = replace(settings, ranker=chosen.ranker, candidates=chosen.candidates, tune=None)
    model = Model.fitted(settings.model, settings, dataset, recommender, scoring_cutoff(dataset))
    model.on_step, model.engine = on_step, options.engine
    return model


def load_model(
    folder: Path | str, *, on_step: Step | None = None, engine: Engine | None = None, progress: bool = False
) -> Model:
    """The model ``Model.save`` (or ``hmrec fit``) wrote to ``folder``; refused with what to do
    when written by an hmrec of another model format. ``progress`` prints each step of its work
    on stderr with its seconds."""
    model = Model.load(folder)
    model.on_step = _with_progress(on_step, progress)
    model.engine = engine or LocalEngine()
    return model


@dataclass(frozen=True)
class Submission:
    """What ``submit`` wrote: the fitted model, how many customers the submission lists, the
    submission file and the artifacts folder. The recommendations themselves are not kept (on a
    large shop they are gigabytes): ``model.submission_recommendations(data)`` gives them."""

    model: Model
    customers: int
    output: Path
    artifacts: Path | None


def refuse_outputs(
    dataset: Dataset, files: dict[str, Path] | None = None, folders: dict[str, Path] | None = None
) -> None:
    """``outputs.UnsafeOutput`` (a ``ValueError``) when an output would write over, into or
    around what the user gave (the data folder, its files, the prepared folder): ``files`` and
    ``folders`` by what they are (an option's name)."""
    outputs.refuse_outputs(dataset.source, dataset.root, files, folders)


@contextmanager
def publishing(*targets: Path, stage: Path | None = None) -> Iterator[Path | None]:
    """Hold the locks on ``targets`` (``Busy`` naming the run that holds one), and with ``stage``
    yield a staging folder published in its place when the block ends (``atomic.staged``: one
    run's whole set of files, or the previous set untouched)."""
    with ExitStack() as stack:
        for target in targets:
            stack.enter_context(locked(target))
        yield stack.enter_context(staged(stage)) if stage is not None else None


def submit(
    dataset: Dataset,
    output: Path | str,
    settings: Settings | None = None,
    *,
    artifacts: Path | str | None = None,
    explain: bool = False,
    on_step: Step | None = None,
    on_tuned: Callable[[TuneResult], None] | None = None,
    on_mf_choice: Callable[[Choice], None] | None = None,
    engine: Engine | None = None,
    progress: bool = False,
) -> Submission:
    """Fit ``settings.model`` (default: the ranker) on all of ``dataset`` and write the Kaggle
    submission (``customer_id,prediction``, every customer of the submission in its order) to
    ``output``; with ``artifacts``, also the fitted model (``artifacts/model``) and what
    ``hmrec serve`` reads, published there as one set. Takes the locks on both (``Busy`` when
    another run holds one) and writes each whole or not at all: the submission last, so a
    failure leaves the previous one. ``explain`` keeps the ranker's reasons for the serving
    files. Outputs over, into or around the data are refused before any work."""
    settings = settings or Settings()
    output = Path(output)
    folder = Path(artifacts) if artifacts is not None else None
    if explain and not model_class(settings.model).explains:
        raise ValueError(f"--explain explains the ranker's scores; the {settings.model} model has none")
    refuse_outputs(dataset, files={"output": output}, folders={"artifacts": folder} if folder else {})
    step = _with_progress(on_step, progress)
    targets = (folder, output) if folder is not None else (output,)
    with publishing(*targets, stage=folder) as stage:
        model = fit(dataset, settings, on_step=step, on_tuned=on_tuned, on_mf_choice=on_mf_choice, engine=engine)
        with tempfile.TemporaryDirectory(prefix="hmrec-recommendations-") as tmp:
            # each part of the customers' lists goes to disk before the next is made: on a large
            # shop they are never all held at once (the files below read them part by part)
            parts, customers = [], 0
            for i, part in enumerate(model.submission_parts(dataset, explain=explain)):
                parts.append(Path(tmp) / f"part-{i:05d}.parquet")
                part.write_parquet(parts[-1])
                customers += part[Col.CUSTOMER].n_unique()
                del part
            if stage is not None:
                if step:
                    step(f"saving the model and artifacts to {folder}")
                model.save(stage / "model")
                write_serving_files(stage, dataset, model, pl.scan_parquet(parts, glob=False))
            if step:
                step(f"writing {output}")  # last: a failure before it leaves the old output
            model.write_submission(dataset, output, recommendations=(pl.read_parquet(p, glob=False) for p in parts))
            faults.point("submit:output-written")
    return Submission(model, customers, output, folder)


def save_evaluation(folder: Path, dataset: Dataset, result: Evaluation, settings: Settings | None = None) -> Path:
    """Write what ``hmrec serve`` reads about the main model's holdout recommendations (with what
    was bought) and the HTML report into ``folder``; with ``settings`` and a ranker evaluated,
    the settings it was fitted with (tuned ones included) as ``model/settings.toml``, which
    ``--config`` reads back. Returns the report's path."""
    from hmrec.serve.artifacts import write_artifacts

    if settings is not None and result.ranker_settings is not None:
        ranker, candidates = result.ranker_settings
        used = replace(settings, model=DEFAULT_MODEL, ranker=ranker, candidates=candidates, tune=None)
        used.save(folder / "model" / "settings.toml")
    main = result.main
    write_artifacts(folder, dataset, result.recommendations[main], main, result.cutoff, result.fill[main], result.truth)
    return write_report(result, folder, settings, dataset=dataset)


def write_serving_files(folder: Path, dataset: Dataset, model: Model, recs: pl.DataFrame | pl.LazyFrame) -> Path:
    """What ``hmrec serve`` reads about ``recs`` (a model's recommendations for ``dataset``,
    prepared ids, with score and sources, as ``Model.write_submission`` returns them)."""
    from hmrec.serve.artifacts import write_artifacts

    factors = model.article_factors(dataset)
    fill = model.recommender_for(dataset).fill
    return write_artifacts(
        folder, dataset, recs, model.name, scoring_cutoff(dataset), fill, factors=factors, engine=model.engine
    )
