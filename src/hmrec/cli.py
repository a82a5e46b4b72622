"""The ``hmrec`` command: the only module that prints tables and progress bars."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, TypeVar

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hmrec import faults
from hmrec.data import ingest, shop
from hmrec.data.atomic import Busy, locked, staged
from hmrec.data.dataset import Dataset
from hmrec.data.engine import ENGINES, Engine, EngineError, LocalEngine, make_engine
from hmrec.data.shards import write_shards
from hmrec.data.split import Split, check_default_holdout, parse_cutoff, refuse_stray_dates
from hmrec.data.submission import write_submission
from hmrec.data.validate import DataError
from hmrec.data.week import WeekInput
from hmrec.evaluation import (
    DEFAULT_MODEL,
    MODELS,
    AblationRow,
    ModelOptions,
    Score,
    ablation,
    evaluate_model,
    recommend_for_submission,
    shop_statistics,
)
from hmrec.metrics import map_at_k, recall_at_k
from hmrec.ranking.config import OBJECTIVES, RankerConfig
from hmrec.ranking.data import CandidateConfig, WeekCache
from hmrec.recommenders.baselines import popular_articles
from hmrec.recommenders.mf.config import FILTERS, LOSS_NAMES, SOLVERS, MFConfig
from hmrec.recommenders.mf.weights import PRESETS, Weighting
from hmrec.retrieval import pipeline as retrieval
from hmrec.schema import Col
from hmrec.tuning import TuneResult

app = typer.Typer(
    help="hmrec: recommend the 12 articles each customer will buy next week (H&M Kaggle format).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

ModelName = Enum("ModelName", {name: name for name in MODELS}, type=str)  # type: ignore[misc]
Preset = Enum("Preset", {name: name for name in PRESETS}, type=str)  # type: ignore[misc]
Loss = Enum("Loss", {name: name for name in LOSS_NAMES}, type=str)  # type: ignore[misc]
Solver = Enum("Solver", {name: name for name in SOLVERS}, type=str)  # type: ignore[misc]
MFFilter = Enum("MFFilter", {name: name for name in FILTERS}, type=str)  # type: ignore[misc]
Scale = Enum("Scale", {name: name for name in shop.SCALES}, type=str)  # type: ignore[misc]
Profile = Enum("Profile", {name: name for name in shop.PROFILES}, type=str)  # type: ignore[misc]
Objective = Enum("Objective", {name: name for name in OBJECTIVES}, type=str)  # type: ignore[misc]
EngineName = Enum("EngineName", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]
T = TypeVar("T")

DataOpt = Annotated[Path, typer.Option("--data", help="Folder with the Kaggle files (CSV or parquet).")]
CutoffOpt = Annotated[
    str | None,
    typer.Option("--cutoff", help="First day of the holdout week, YYYY-MM-DD (default: the data's last 7 days)."),
]
TrainWeeksOpt = Annotated[
    int, typer.Option("--train-weeks", help="Ranker: weeks of labels to train on (the week after them stops it).")
]
ObjectiveOpt = Annotated[
    Objective, typer.Option("--objective", help="Ranker: lambdarank (grouped by customer) or binary.")
]
CapOpt = Annotated[int, typer.Option("--candidates", help="Ranker: candidates per customer (and per source).")]
MFFeaturesOpt = Annotated[
    bool,
    typer.Option(
        "--mf-features/--no-mf-features",
        help="Ranker: add the MF model's score and taste similarity as features (an ALS fit per labelled week).",
    ),
]
TuneOpt = Annotated[
    bool,
    typer.Option(
        "--tune",
        help="Ranker: choose objective, tree size, training weeks, candidates and MF features on the weeks before the "
        "cutoff (the holdout never takes part), print the choice and save it with the model.",
    ),
]
TuneBudgetOpt = Annotated[
    float, typer.Option("--tune-budget", help="Ranker: seconds for --tune; trials that would not fit are skipped.")
]
ArtifactsOpt = Annotated[
    Path | None,
    typer.Option(
        "--artifacts",
        help="Folder for what hmrec serve reads: recommendations with scores and sources, articles, "
        "recent purchases; the ranker's model, features and importance in its model/ folder.",
    ),
]


EngineOpt = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="local (this process) or ray (shards of customers as Ray tasks; same results; "
        "pip install 'hmrec[ray]'; docs/scale-out.md).",
    ),
]
WorkersOpt = Annotated[
    int, typer.Option("--workers", help="ray: worker processes of the Ray instance started for this command.")
]
AddressOpt = Annotated[
    str | None,
    typer.Option("--address", help="ray: join this running Ray cluster (what `ray start --head` prints) instead."),
]


@contextmanager
def _engine(name: EngineName, dataset: Dataset, workers: int, address: str | None) -> Iterator[Engine]:
    """The engine for this command, started for the block and stopped after it."""
    engine = _guard(lambda: make_engine(EngineName(name).value, dataset, workers=workers, address=address))
    _guard(engine.__enter__)  # joining a cluster can fail: one message, no traceback
    try:
        yield engine
    finally:
        engine.__exit__(None, None, None)


def _options(
    folder: Path,
    train_weeks: int,
    objective: Objective,
    cap: int,
    tune: bool = False,
    budget: float = 600.0,
    mf_features: bool = CandidateConfig.embedding,
) -> ModelOptions:
    """The two-stage model's settings from the command line; its model goes to ``folder/model``."""
    ranker = _guard(lambda: RankerConfig(train_weeks=train_weeks, objective=Objective(objective).value))
    candidates = _guard(lambda: CandidateConfig(per_source=cap, cap=cap, embedding=mf_features))
    if tune and budget <= 0:
        raise _fail(f"--tune-budget must be a positive number of seconds, got {budget}")
    return ModelOptions(
        ranker=ranker,
        candidates=candidates,
        artifacts=folder / "model",
        tune_budget=budget if tune else None,
        on_tuned=_print_tuning,
    )


def _print_tuning(result: TuneResult) -> None:
    """The trials of ``--tune`` and what was chosen, on stderr (stdout keeps the scores)."""
    weeks = [str(w) for w in result.validation_weeks]
    table = Table(title=f"tuning: validation MAP@12 on the weeks from {', '.join(weeks)}")
    for column in ("setting", *weeks, "mean", "seconds", "kept"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for t in result.trials:
        table.add_row(
            t.label, *(f"{m:.5f}" for m in t.maps), f"{t.mean:.5f}", f"{t.seconds:.0f}", "yes" if t.kept else ""
        )
    err.print(table)
    err.print(f"tuning chose: {result.reason()}", highlight=False)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # a message is text, not markup
    return typer.Exit(code=1)


def _guard(work: Callable[[], T]) -> T:
    """Run ``work``; turn the errors a user can fix into one message and exit code 1."""
    try:
        return work()
    except (DataError, ValueError, FileNotFoundError, EngineError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # permissions, a folder where a file should be, a full disk, ...
        raise _fail(_os_message(exc)) from None


def _os_message(exc: OSError) -> str:
    """One line naming the file and what the system said, with a hint for the usual causes."""
    where = exc.filename or "a file"
    hint = {
        PermissionError: "; the folder is not writable: pass --artifacts (and --output) elsewhere, "
        f"or set {PREPARED_ENV}=DIR for the prepared data",
        IsADirectoryError: "; that is a folder: give a file name",
    }.get(type(exc), "")
    return f"{where}: {exc.strerror or exc}{hint}"


def _check_output(output: Path) -> None:
    """Refuse an output path that can never be written, before any work is done."""
    if output.is_dir():
        raise _fail(f"{output}: is a folder; --output needs a file name, for example {output / 'submission.csv'}")
    if output.parent.exists() and not os.access(output.parent, os.W_OK):
        raise _fail(f"{output.parent}: the folder is not writable; give --output a path you can write to")


@contextmanager
def _holding(*targets: Path) -> Iterator[None]:
    """Hold the locks on what this command writes; if another hmrec run holds one, stop now
    with a message naming it (nothing of this run is written)."""
    with ExitStack() as stack:
        try:
            for target in targets:
                stack.enter_context(locked(target))
        except Busy as exc:
            raise _fail(str(exc)) from None
        yield


@contextmanager
def _staged(folder: Path) -> Iterator[Path]:
    """``atomic.staged``: one run's whole set of artifacts, published in place of ``folder``
    when the block ends; a system error while publishing is one message."""
    try:
        with staged(folder) as stage:
            yield stage
    except OSError as exc:
        raise _fail(_os_message(exc)) from None


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        yield bar


PREPARED_ENV = "HMREC_PREPARED"
"""Where the prepared data goes instead of DIR/prepared (for a data folder you cannot write)."""


def _prepared_dir() -> Path | None:
    value = os.environ.get(PREPARED_ENV)
    return Path(value) if value else None


def _load(data: Path) -> Dataset:
    """The prepared dataset for ``data``, preparing it (with a progress display) when stale."""
    with _progress() as bar:
        task = bar.add_task("checking prepared data", total=None)
        result = _guard(
            lambda: ingest.load(
                data, _prepared_dir(), progress=lambda step: bar.update(task, description=f"prepare: {step}")
            )
        )
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if result.rebuilt:
        err.print(f"prepared {data} -> {result.dataset.root}", highlight=False)
    return result.dataset


def _split(dataset: Dataset, cutoff: str | None) -> Split:
    """The holdout split at ``--cutoff`` (default: the data's last 7 days, refused when those
    cannot be a real week of the log: ``split.check_default_holdout``)."""
    if cutoff is None:
        _guard(lambda: check_default_holdout(dataset.transactions()))
    return _guard(lambda: Split.at(dataset.transactions(), parse_cutoff(cutoff) if cutoff else None))


def _scores_table(scores: list[Score], title: str) -> Table:
    table = Table(title=title)
    for column in ("model", "MAP@12", "recall@12", "customers scored", "seconds"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for s in scores:
        table.add_row(s.model, f"{s.map_at_12:.5f}", f"{s.recall_at_12:.5f}", f"{s.customers:,}", f"{s.seconds:.1f}")
    return table


def _evaluate(
    dataset: Dataset, models: list[str], cutoff: str | None, options: ModelOptions | None = None
) -> tuple[Split, list[Score], dict[str, pl.DataFrame]]:
    """Fit and score each model on the holdout split; also each one's recommendations."""
    split = _split(dataset, cutoff)
    scores, recs = [], {}
    with _progress() as bar:
        task = bar.add_task("evaluating", total=len(models))
        for name in models:
            bar.update(task, description=f"fitting and scoring {name}")
            shown = replace(options or ModelOptions(), on_step=lambda text: bar.update(task, description=text))
            score, recs[name] = _guard(lambda name=name, shown=shown: evaluate_model(name, split, dataset, shown))
            scores.append(score)
            bar.advance(task)
    return split, scores, recs


def _save_evaluation(
    dataset: Dataset,
    split: Split,
    scores: list[Score],
    recs: dict[str, pl.DataFrame],
    folder: Path,
    options: ModelOptions,
) -> Path:
    """Serving artifacts of the main model's holdout recommendations (with what was bought) and the
    HTML report, into ``folder``; returns the report's path."""
    from hmrec.report.build import ModelResult, ReportInput, write_report  # matplotlib loads only here
    from hmrec.serve.artifacts import write_artifacts

    truth = split.truth.collect()
    main = "ranker" if "ranker" in recs else scores[-1].model
    with _progress() as bar:
        task = bar.add_task("saving artifacts", total=None)
        popular = popular_articles(split.history, split.cutoff)
        _guard(lambda: write_artifacts(folder, dataset, recs[main], main, split.cutoff, popular, truth))
        bar.update(task, description="measuring candidate recall for the report")
        buyers = truth[Col.CUSTOMER].unique().sort()
        sizes = [10, 20, 50, 100]
        runs = retrieval.run_sources(WeekInput.of(dataset, split, buyers), list(options.candidates.sources), max(sizes))
        curve = retrieval.recall_curve(retrieval.quality_tables(runs, truth, sizes))
        bar.update(task, description="drawing the report")
        importance_file = (options.artifacts or folder / "model") / "importance.csv"
        report = ReportInput(
            cutoff=split.cutoff,
            results=[ModelResult(s.model, s.map_at_12, s.recall_at_12, recs[s.model]) for s in scores],
            truth=truth,
            history=split.history,
            customers=dataset.customers(),
            recall_curve=curve,
            curve_sizes=sizes,
            importance=pl.read_csv(importance_file) if "ranker" in recs and importance_file.exists() else None,
        )
        return _guard(lambda: write_report(report, folder / "report.html"))


def _evaluate_and_save(
    dataset: Dataset, names: list[str], cutoff: str | None, folder: Path, options: ModelOptions, quiet: bool = False
) -> tuple[Split, list[Score], Path]:
    """``_evaluate``, print the scores (unless ``quiet``), then write the artifacts and report
    into ``folder``: built in a staging folder and published whole (the model, the serving files
    and the report of one run, or the previous set untouched). Returns the report's path too."""
    with _holding(folder), _staged(folder) as stage:
        staged_options = replace(options, artifacts=stage / "model")
        split, scores, recs = _evaluate(dataset, names, cutoff, staged_options)
        if not quiet:
            console.print(_scores_table(scores, f"holdout week from {split.cutoff}"))
        report = folder / _save_evaluation(dataset, split, scores, recs, stage, staged_options).relative_to(stage)
    if not quiet:
        console.print(f"artifacts: {folder}  report: {report}")
    return split, scores, report


def _ablation_table(base: Score, rows: list[AblationRow]) -> Table:
    table = Table(title=f"ablation: ranker MAP@12 {base.map_at_12:.5f} with everything; each row removes one part")
    for column in ("removed", "kind", "MAP@12", "change"):
        table.add_column(column, justify="left" if column in ("removed", "kind") else "right")
    for row in rows:
        table.add_row(row.removed, row.kind, f"{row.map_at_12:.5f}", f"{row.change:+.5f}")
    return table


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the four Kaggle CSV files into.")],
    scale: Annotated[
        Scale,
        typer.Option("--scale", help="tiny (tests), small (demo), full (H&M size), xl (3x the customers of full)."),
    ] = "small",
    seed: Annotated[int, typer.Option("--seed", help="Same seed, scale and profile, same bytes.")] = 0,
    profile: Annotated[
        Profile,
        typer.Option(
            "--profile",
            help="The shop's habits: fashion (life cycles, seasons, repeats), trendy (short bursts, "
            "regional tastes), loyal (long memory, lasting type and colour taste), grocery (staples, "
            "large baskets).",
        ),
    ] = "fashion",
    stats: Annotated[bool, typer.Option("--stats/--no-stats", help="Print the shop's statistics table.")] = True,
) -> None:
    """Write a synthetic shop in the exact Kaggle format.

    Example: hmrec generate --scale small --profile trendy --out data/trendy
    """
    name = Profile(profile).value
    cfg = shop.config_for(Scale(scale).value, name)
    start = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(f"generating the {Scale(scale).value} {name} shop", total=cfg.n_weeks)
        paths = shop.generate(cfg, out, seed, on_week=lambda done, total: bar.update(task, completed=done))
    console.print(f"wrote {len(paths)} files to {out} in {time.perf_counter() - start:.1f} s")
    if stats:
        dataset = _load(out)
        table = Table(title=f"synthetic shop '{Scale(scale).value}', profile {name} (seed {seed})")
        table.add_column("statistic")
        table.add_column("value", justify="right")
        for key, value in _guard(lambda: shop_statistics(dataset)).items():
            shown = f"{value:,}" if isinstance(value, int) else f"{value:.4g}" if isinstance(value, float) else value
            table.add_row(key, shown)
        console.print(table)


@app.command()
def prepare(
    data: DataOpt,
    shards: Annotated[
        int | None,
        typer.Option(
            "--shards",
            help="Also write the transactions split into N shards by customer (DIR/prepared/shards-N), "
            "which --engine ray workers read instead of the whole log.",
        ),
    ] = None,
) -> None:
    """Validate the Kaggle files and write typed parquet with integer ids (DIR/prepared/).

    Later commands reuse the result until an input file changes.

    Example: hmrec prepare --data data/hm --shards 8
    """
    if shards is not None and shards < 1:
        raise _fail(f"--shards must be at least 1, got {shards}")
    start = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("prepare", total=None)
        result = _guard(
            lambda: ingest.prepare(
                data, _prepared_dir(), progress=lambda step: bar.update(task, description=f"prepare: {step}")
            )
        )
        if shards is not None:
            bar.update(task, description=f"prepare: writing {shards} shards")
            folder = _guard(lambda: write_shards(result.dataset, shards))
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    console.print(f"prepared {data} -> {result.dataset.root} in {time.perf_counter() - start:.1f} s")
    if shards is not None:
        console.print(f"shards: {folder}")


@app.command()
def evaluate(
    data: DataOpt,
    model: Annotated[
        list[ModelName] | None,
        typer.Option("--model", help="Model(s) to score; repeat the flag. Default: all (the ranker is the main one)."),
    ] = None,
    cutoff: CutoffOpt = None,
    train_weeks: TrainWeeksOpt = RankerConfig.train_weeks,
    objective: ObjectiveOpt = RankerConfig.objective,
    cap: CapOpt = CandidateConfig.cap,
    mf_features: MFFeaturesOpt = CandidateConfig.embedding,
    artifacts: ArtifactsOpt = None,
    tune: TuneOpt = False,
    tune_budget: TuneBudgetOpt = 600.0,
    engine: EngineOpt = "local",
    workers: WorkersOpt = 2,
    address: AddressOpt = None,
    run_ablation: Annotated[
        bool,
        typer.Option("--ablation", help="Also retrain the ranker without each feature block and each source."),
    ] = False,
) -> None:
    """Hold out the last week of DIR, fit on the weeks before, print MAP@12 and recall@12 of
    every model in one table, and write the HTML report. The main model's holdout
    recommendations (with what was bought, for hmrec serve), the ranker's model, feature list
    and importance, and report.html go to --artifacts (default DIR/artifacts/evaluate).

    Example: hmrec evaluate --data data/small --model ranker --model repurchase --ablation
    """
    dataset = _load(data)
    names = [ModelName(m).value for m in model] if model else list(MODELS)
    folder = artifacts or data / "artifacts" / "evaluate"
    options = _options(folder, train_weeks, objective, cap, tune, tune_budget, mf_features)
    tuned: list[TuneResult] = []
    if tune:
        options = replace(options, on_tuned=lambda result: (tuned.append(result), _print_tuning(result)))
    if run_ablation:  # the ablation's variants reuse the ranker's labelled weeks and its score
        options = replace(options, cache=WeekCache())
    with _engine(engine, dataset, workers, address) as runner:
        options = replace(options, engine=runner)
        split, scores, _ = _evaluate_and_save(dataset, names, cutoff, folder, options)
        if run_ablation:
            if tuned:  # the ablation removes parts of the tuned ranker, without tuning again
                chosen = tuned[-1]
                options = replace(options, ranker=chosen.ranker, candidates=chosen.candidates, tune_budget=None)
            ranked = next((s for s in scores if s.model == "ranker"), None)
            with _progress() as bar:
                task = bar.add_task("ablation", total=None)
                base, rows = _guard(
                    lambda: ablation(
                        dataset, split, options, base=ranked, on_step=lambda text: bar.update(task, description=text)
                    )
                )
            console.print(_ablation_table(base, rows))


@app.command()
def submit(
    data: DataOpt,
    output: Annotated[Path, typer.Option("--output", help="Where to write the submission CSV.")],
    model: Annotated[ModelName, typer.Option("--model", help="The model to fit on all of DIR.")] = DEFAULT_MODEL,
    train_weeks: TrainWeeksOpt = RankerConfig.train_weeks,
    objective: ObjectiveOpt = RankerConfig.objective,
    cap: CapOpt = CandidateConfig.cap,
    mf_features: MFFeaturesOpt = CandidateConfig.embedding,
    artifacts: ArtifactsOpt = None,
    tune: TuneOpt = False,
    tune_budget: TuneBudgetOpt = 600.0,
    engine: EngineOpt = "local",
    workers: WorkersOpt = 2,
    address: AddressOpt = None,
) -> None:
    """Fit on all of DIR and write a Kaggle submission (customer_id,prediction).

    One row per customer of sample_submission.csv (else customers.csv), in that order. What
    hmrec serve reads (the recommendations with scores and sources, the articles, recent
    purchases) and the ranker's model, features and importance go to --artifacts (default
    DIR/artifacts/submit).

    Example: hmrec submit --data data/small --output submission.csv --engine ray --workers 2
    """
    from hmrec.serve.artifacts import write_artifacts

    _check_output(output)
    dataset = _load(data)
    _guard(
        lambda: refuse_stray_dates(
            dataset.transactions(), "the submission would predict the week after them", lambda end: "Fix those dates"
        )
    )
    name = ModelName(model).value
    folder = artifacts or data / "artifacts" / "submit"
    options = _options(folder, train_weeks, objective, cap, tune, tune_budget, mf_features)
    with _holding(folder, output), _staged(folder) as stage, _engine(engine, dataset, workers, address) as runner:
        with _progress() as bar:
            task = bar.add_task(f"fitting {name} and writing {output}", total=None)
            shown = replace(
                options,
                artifacts=stage / "model",
                engine=runner,
                on_step=lambda text: bar.update(task, description=text),
            )
            recs = _guard(lambda: recommend_for_submission(dataset, name, shown))
            _guard(lambda: write_submission(dataset, recs, output))
            faults.point("submit:output-written")
            bar.update(task, description=f"saving artifacts to {folder}")
            cutoff = dataset.date_range()[1] + timedelta(days=1)
            popular = popular_articles(dataset.transactions(), cutoff)
            _guard(lambda: write_artifacts(stage, dataset, recs, name, cutoff, popular))
    console.print(f"wrote {output} ({recs[recs.columns[0]].n_unique():,} customers, model {name}); artifacts: {folder}")


@app.command("train-baseline")
def train_baseline(
    data: DataOpt,
    preset: Annotated[
        Preset, typer.Option("--preset", help="Interaction weights: time decay x price weighting.")
    ] = "decay0.01-price0",
    t_decay: Annotated[
        float | None, typer.Option("--t-decay", help="Override the preset's decay per day (0: off).")
    ] = None,
    price_weight: Annotated[
        float | None,
        typer.Option("--price-weight", help="Override the preset's markdown weighting in [0, 1] (0: off)."),
    ] = None,
    solver: Annotated[
        Solver, typer.Option("--solver", help="als (weighted least squares) or sgd (sampled negatives, --loss).")
    ] = MFConfig.solver,
    loss: Annotated[Loss, typer.Option("--loss", help="sgd: bpr (default), bce, or observed (no negatives).")] = "bpr",
    alpha: Annotated[float, typer.Option("--alpha", help="als: confidence per unit of weight.")] = MFConfig.alpha,
    reg: Annotated[float, typer.Option("--reg", help="als: ridge penalty per row.")] = MFConfig.reg,
    cg_steps: Annotated[
        int, typer.Option("--cg-steps", help="als: conjugate-gradient steps per row and epoch.")
    ] = MFConfig.cg_steps,
    dim: Annotated[int, typer.Option("--dim", help="Embedding size.")] = MFConfig.dim,
    epochs: Annotated[int, typer.Option("--epochs", help="At most this many epochs.")] = MFConfig.epochs,
    lr: Annotated[float, typer.Option("--lr", help="sgd: learning rate (row-wise Adagrad).")] = MFConfig.lr,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: Annotated[str, typer.Option("--device", help="cpu, or cuda when a GPU is present.")] = "cpu",
    out: Annotated[Path | None, typer.Option("--out", help="Checkpoint folder (default DIR/models/mf).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")] = False,
    bought_filter: Annotated[
        MFFilter,
        typer.Option(
            "--filter",
            help="Leave out what the customer bought: none, bought (all of it), or interval (bought more "
            "recently than the article's median interval between repeat purchases).",
        ),
    ] = "none",
    cutoff: CutoffOpt = None,
) -> None:
    """Train the matrix factorisation baseline on the history before the cutoff and save it.

    Each epoch is checkpointed; training stops early when the holdout week's MAP@12 has not
    improved for a few epochs, and the best epoch's model is kept (best.pt).

    Example: hmrec train-baseline --data data/small --preset decay0.001-price1 --epochs 10
    """
    dataset = _load(data)
    split = _split(dataset, cutoff)
    base = PRESETS[Preset(preset).value]
    weighting = _guard(
        lambda: Weighting(
            base.t_decay if t_decay is None else t_decay, base.price_weight if price_weight is None else price_weight
        )
    )
    cfg = _guard(
        lambda: replace(
            MFConfig(),
            dim=dim,
            epochs=epochs,
            lr=lr,
            seed=seed,
            loss=Loss(loss).value,
            solver=Solver(solver).value,
            alpha=alpha,
            reg=reg,
            cg_steps=cg_steps,
            weighting=weighting,
            device=device,
        )
    )
    folder = out or data / "models" / "mf"
    truth = split.truth.collect()
    start = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("training mf", total=cfg.epochs)

        def on_epoch(epoch: int, epoch_loss: float, score: float) -> None:
            bar.update(
                task, completed=epoch + 1, description=f"epoch {epoch + 1}: loss {epoch_loss:.4f}, MAP@12 {score:.5f}"
            )
            bar.console.print(
                f"epoch {epoch + 1:3d}  loss {epoch_loss:.4f}  holdout MAP@12 {score:.5f}", highlight=False
            )

        from hmrec.recommenders.mf.recommender import MFRecommender  # torch loads only when needed

        model = MFRecommender(cfg, filter=MFFilter(bought_filter).value, on_epoch=on_epoch, checkpoint_dir=folder)
        _guard(lambda: model.fit_with_holdout(split.history, split.cutoff, truth, resume=resume))
    for warning in model.result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    recs = model.recommend(truth[Col.CUSTOMER].unique().sort())
    score = Score(
        "mf",
        map_at_k(recs, truth),
        recall_at_k(recs, truth),
        truth[Col.CUSTOMER].n_unique(),
        time.perf_counter() - start,
    )
    console.print(
        _scores_table(
            [score],
            f"mf ({Preset(preset).value}, best epoch {model.result.best_epoch + 1}), holdout week from {split.cutoff}",
        )
    )
    console.print(f"saved {folder / 'best.pt'} (checkpoint of the last epoch: {folder / 'last.pt'})")


@app.command()
def candidates(
    data: DataOpt,
    n: Annotated[int, typer.Option("--n", help="Candidates per customer for the quality table.")] = 50,
    sizes: Annotated[
        str, typer.Option("--sizes", help="Comma-separated sizes for the recall curve.")
    ] = "20,50,100,200",
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source", help=f"Source(s) to run; repeat the flag. Default: all ({', '.join(retrieval.SOURCES)})."
        ),
    ] = None,
    cutoff: CutoffOpt = None,
    engine: EngineOpt = "local",
    workers: WorkersOpt = 2,
    address: AddressOpt = None,
) -> None:
    """Measure each candidate source and their union on the holdout week's buyers.

    Prints candidates per customer, recall, the share of buyers with at least one hit, the
    MAP@12 a perfect ranker would reach on those candidates, and the time each source took;
    then recall against the number of candidates per customer.

    Example: hmrec candidates --data data/small --source repurchase --source bought_together --engine ray
    """
    dataset = _load(data)
    names = source or list(retrieval.SOURCES)
    curve_sizes = _guard(lambda: sorted({int(x) for x in sizes.split(",") if x.strip()} | {n}))
    split = _split(dataset, cutoff)
    with _engine(engine, dataset, workers, address) as runner:
        _candidate_tables(dataset, split, names, n, curve_sizes, runner)


def _candidate_tables(
    dataset: Dataset, split: Split, names: list[str], n: int, curve_sizes: list[int], engine: Engine
) -> None:
    """Run the sources for the week's buyers; print the quality table and the recall curve."""
    truth = split.truth.collect()
    buyers = truth[Col.CUSTOMER].unique().sort()
    inputs = WeekInput.of(dataset, split, buyers)
    with _progress() as bar:
        task = bar.add_task(f"running candidate sources ({engine.name} engine)", total=None)
        runs = _guard(lambda: retrieval.run_sources_on(engine, inputs, names, max(curve_sizes)))
        bar.update(task, description="measuring")
        tables = retrieval.quality_tables(runs, truth, curve_sizes)
        rows, curve = tables[n], retrieval.recall_curve(tables)
    table = Table(
        title=f"candidates for {buyers.len():,} buyers of the week from {split.cutoff}, at most {n} per source"
    )
    for column in ("source", "per customer", "recall", "buyers with a hit", "oracle MAP@12", "seconds"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for row in rows:
        q = row.quality
        table.add_row(
            row.name,
            f"{q.per_customer:.1f}",
            f"{q.recall:.4f}",
            f"{q.customers_with_hit:.4f}",
            f"{q.oracle_map:.4f}",
            f"{row.seconds:.1f}",
        )
    console.print(table)
    recall = Table(title="recall against candidates per customer")
    recall.add_column("source")
    for size in curve_sizes:
        recall.add_column(f"@{size}", justify="right")
    for name, values in curve.items():
        recall.add_row(name, *(f"{v:.4f}" for v in values))
    console.print(recall)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo shop and its submission.")] = Path(
        "demo-data"
    ),
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Generate the small synthetic shop, prepare it, evaluate the models, measure the
    candidate sources, write a submission.

    Example: hmrec demo --out demo-data
    """
    start = time.perf_counter()
    cfg = shop.config_for("small")
    with _progress() as bar:
        task = bar.add_task("generating the small shop", total=cfg.n_weeks)
        shop.generate(cfg, out, seed, on_week=lambda done, total: bar.update(task, completed=done))
    dataset = _load(out)
    folder = out / "artifacts" / "evaluate"
    options = ModelOptions(artifacts=folder / "model")
    split, scores, report = _evaluate_and_save(dataset, list(MODELS), None, folder, options, quiet=True)
    best = max(scores, key=lambda s: s.map_at_12).model
    submission = out / "submission.csv"
    with _progress() as bar:
        bar.add_task(f"writing a submission with {best}", total=None)
        submit_options = replace(options, artifacts=out / "artifacts" / "submit" / "model")
        write_submission(dataset, recommend_for_submission(dataset, best, submit_options), submission)
    _candidate_tables(dataset, split, list(retrieval.SOURCES), 50, [20, 50, 100], LocalEngine())
    console.print(_scores_table(scores, f"small synthetic shop, holdout week from {split.cutoff}"))
    console.print(f"submission ({best}): {submission}")
    console.print(f"report: {report}; explore the holdout week with: hmrec serve --artifacts {report.parent}")
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s")


@app.command()
def report(
    data: DataOpt,
    model: Annotated[
        list[ModelName] | None,
        typer.Option("--model", help="Model(s) to compare; repeat the flag. Default: popular, repurchase, ranker."),
    ] = None,
    cutoff: CutoffOpt = None,
    artifacts: ArtifactsOpt = None,
) -> None:
    """Evaluate on the holdout week and write one self-contained HTML report with plots: MAP@12
    per model, candidate recall per source, MAP@12 by customer segment, feature importance,
    score distribution (to --artifacts, default DIR/artifacts/evaluate/report.html).

    Example: hmrec report --data data/small
    """
    dataset = _load(data)
    names = [ModelName(m).value for m in model] if model else ["popular", "repurchase", "ranker"]
    folder = artifacts or data / "artifacts" / "evaluate"
    options = _options(folder, RankerConfig.train_weeks, Objective(RankerConfig.objective), CandidateConfig.cap)
    _evaluate_and_save(dataset, names, cutoff, folder, options)


@app.command()
def serve(
    artifacts: Annotated[
        Path, typer.Option("--artifacts", help="Folder written by hmrec submit (or evaluate) --artifacts.")
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
) -> None:
    """Serve the recommendations over HTTP, with the customer explorer page at / and the
    OpenAPI page at /docs. Everything loads once at start-up.

    Example: hmrec serve --artifacts data/small/artifacts/submit --port 8000
    """
    import uvicorn

    from hmrec.serve.app import create_app

    start = time.perf_counter()
    application = _guard(lambda: create_app(artifacts))
    err.print(f"loaded {artifacts} in {time.perf_counter() - start:.1f} s; open http://{host}:{port}/", highlight=False)
    uvicorn.run(application, host=host, port=port, log_level="warning")
