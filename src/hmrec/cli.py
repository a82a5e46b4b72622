"""The ``hmrec`` command: the only module that prints tables and progress bars."""

from __future__ import annotations

import errno
import os
import resource
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from hmrec import api
from hmrec.api import (
    ENGINES,
    FILTERS,
    LOSS_NAMES,
    MODEL_NAMES,
    OBJECTIVES,
    PRESETS,
    PROFILES,
    SCALES,
    SOLVERS,
    SOURCES,
    AblationRow,
    Busy,
    CandidateConfig,
    DataError,
    Dataset,
    Engine,
    EngineError,
    Evaluation,
    MFConfig,
    Model,
    ModelError,
    RankerConfig,
    Score,
    Settings,
    Split,
    Weighting,
    faults,
    locked,
    outputs,
    staged,
)

if TYPE_CHECKING:
    from hmrec.api import Choice
    from hmrec.tuning import TuneResult

app = typer.Typer(
    help="hmrec: recommend the 12 articles each customer will buy next week (H&M Kaggle format).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _Console(Console):
    """A console that never wraps a message, and never cuts a table's cells when its output is
    not a terminal (a pipe, a log file): there the width is unbounded, whatever ``COLUMNS`` says,
    so a path or a command in a message stays whole on one line."""

    UNBOUNDED = 100_000

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, **kwargs)  # type: ignore[arg-type]

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(self.UNBOUNDED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = _Console()
err = _Console(stderr=True)

ModelName = Enum("ModelName", {name: name for name in MODEL_NAMES}, type=str)  # type: ignore[misc]
Preset = Enum("Preset", {name: name for name in PRESETS}, type=str)  # type: ignore[misc]
Loss = Enum("Loss", {name: name for name in LOSS_NAMES}, type=str)  # type: ignore[misc]
Solver = Enum("Solver", {name: name for name in SOLVERS}, type=str)  # type: ignore[misc]
MFFilter = Enum("MFFilter", {name: name for name in FILTERS}, type=str)  # type: ignore[misc]
Scale = Enum("Scale", {name: name for name in SCALES}, type=str)  # type: ignore[misc]
Profile = Enum("Profile", {name: name for name in PROFILES}, type=str)  # type: ignore[misc]
Objective = Enum("Objective", {name: name for name in OBJECTIVES}, type=str)  # type: ignore[misc]
EngineName = Enum("EngineName", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]
T = TypeVar("T")
DEFAULTS = Settings()

DataOpt = Annotated[Path, typer.Option("--data", help="Folder with the Kaggle files (CSV or parquet).")]
CutoffOpt = Annotated[
    str | None,
    typer.Option("--cutoff", help="First day of the holdout week, YYYY-MM-DD (default: the data's last 7 days)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Settings file (TOML; docs/python-api.md#settings): every setting the flags have and the ranker's "
        "others. Flags given on the command line override it. hmrec fit saves the settings it used beside the "
        "model (settings.toml), which --config reads back.",
    ),
]
TrainWeeksOpt = Annotated[
    int | None,
    typer.Option(
        "--train-weeks",
        help=f"Ranker: weeks of labels to train on (the week after them stops it) \\[default: {RankerConfig.train_weeks}].",
    ),
]
ObjectiveOpt = Annotated[
    Objective | None,
    typer.Option(
        "--objective", help=f"Ranker: lambdarank (grouped by customer) or binary \\[default: {RankerConfig.objective}]."
    ),
]
CapOpt = Annotated[
    int | None,
    typer.Option(
        "--candidates", help=f"Ranker: candidates per customer (and per source) \\[default: {CandidateConfig.cap}]."
    ),
]
MFFeaturesOpt = Annotated[
    bool | None,
    typer.Option(
        "--mf-features/--no-mf-features",
        help="Ranker: add the MF model's score and taste similarity as features (an ALS fit per labelled week) "
        "\\[default: off].",
        show_default=False,
    ),
]
TuneOpt = Annotated[
    bool | None,
    typer.Option(
        "--tune/--no-tune",
        help="Ranker: choose objective, tree size, training weeks, candidates and MF features on the weeks before the "
        "cutoff (the holdout never takes part), print the choice and save it with the model \\[default: off]. "
        "MF: it chooses alpha, reg, factors, epochs and how bought articles count on the week before the cutoff "
        "unless --no-tune keeps its fixed settings \\[default: on].",
        show_default=False,
    ),
]
TuneBudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--tune-budget",
        help=f"Ranker: seconds for --tune; trials that would not fit are skipped \\[default: {DEFAULTS.tune_budget:g}].",
    ),
]
ArtifactsOpt = Annotated[
    Path | None,
    typer.Option(
        "--artifacts",
        help="Folder for what hmrec serve reads: recommendations with scores and sources, articles, "
        "recent purchases; the model in its model/ folder.",
    ),
]
EngineOpt = Annotated[
    EngineName | None,
    typer.Option(
        "--engine",
        help="local (this process) or ray (shards of customers as Ray tasks; same results; "
        "pip install 'hmrec\\[ray]'; docs/scale-out.md) \\[default: local].",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help=f"ray: worker processes of the Ray instance started for this command \\[default: {DEFAULTS.workers}].",
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option("--address", help="ray: join this running Ray cluster (what `ray start --head` prints) instead."),
]


def _value(choice: Enum | None) -> str | None:
    return None if choice is None else str(choice.value)


def _settings(config: Path | None, **flags: object) -> Settings:
    """The settings of ``--config`` (default settings without one) with the flags given on the
    command line put over them."""
    base = _guard(lambda: Settings.load(config)) if config is not None else Settings()
    values = {k: _value(v) if isinstance(v, Enum) else v for k, v in flags.items()}
    return _guard(lambda: base.with_flags(**values))  # type: ignore[arg-type]


@contextmanager
def _engine(settings: Settings, dataset: Dataset) -> Iterator[Engine]:
    """The engine of ``settings``, started for the block and stopped after it; failing to start
    (no Ray, no cluster at the address) is one message."""
    manager = api.running(settings, dataset)
    engine = _guard(manager.__enter__)
    try:
        yield engine
    finally:
        manager.__exit__(None, None, None)


def _print_tuning(result: TuneResult) -> None:
    """The trials of ``--tune`` and what was chosen, on stderr (stdout keeps the scores)."""
    weeks = [str(w) for w in result.validation_weeks]
    table = Table(title=f"tuning: validation MAP@12 on the weeks from {', '.join(weeks)}")
    for column in ("setting", *weeks, "mean", "gain +- se", "seconds", "kept"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for t in result.trials:
        gain = "" if t.gain is None or t.se is None else f"{t.gain:+.5f} +- {t.se:.5f}"
        table.add_row(
            t.label, *(f"{m:.5f}" for m in t.maps), f"{t.mean:.5f}", gain, f"{t.seconds:.0f}", "yes" if t.kept else ""
        )
    err.print(table)
    err.print(f"tuning chose: {result.reason()}", highlight=False)


def _print_mf_choice(choice: Choice) -> None:
    """What the MF model tried on the week before the cutoff and what it chose, on stderr."""
    table = Table(title=f"mf: validation MAP@12 on {choice.validation_buyers:,} buyers of the week before the cutoff")
    for column in ("setting", "MAP@12", "seconds"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for t in choice.trials:
        table.add_row(t.label(), f"{t.score:.5f}", f"{t.seconds:.1f}")
    err.print(table)
    sample = f" (fitted on {choice.customers:,} customers, {choice.share:.0%} of the pairs)" if choice.share < 1 else ""
    if choice.skipped:
        err.print(f"mf: skipped for time: {'; '.join(choice.skipped)}", highlight=False)
    err.print(f"mf chose: {choice.chosen.label()}{sample}", highlight=False)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # a message is text, not markup
    return typer.Exit(code=1)


def _guard(work: Callable[[], T]) -> T:
    """Run ``work``; turn the errors a user can fix into one message and exit code 1."""
    try:
        return work()
    except (DataError, ValueError, FileNotFoundError, EngineError, ModelError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # permissions, a folder where a file should be, a full disk, ...
        raise _fail(_os_message(exc)) from None
    except MemoryError:
        raise _fail(
            "out of memory: this machine (or its memory limit) is too small for the work at these settings; "
            "use fewer candidates (--candidates), or a machine with more memory"
        ) from None


def _os_message(exc: OSError) -> str:
    """One line naming the file and what the system said, with a hint for the usual causes."""
    where = exc.filename or "writing the results"
    if exc.errno == errno.ENOSPC:
        return (
            f"{where}: {exc.strerror or 'No space left on device'}; free some space, or write elsewhere (--output, --artifacts, "
            f"--out, and {PREPARED_ENV}=DIR for the prepared data), then run again"
        )
    not_writable = (
        "; the folder is not writable: pass --artifacts (and --output) elsewhere, "
        f"or set {PREPARED_ENV}=DIR for the prepared data"
    )
    hint = {PermissionError: not_writable, IsADirectoryError: "; that is a folder: give a file name"}.get(type(exc), "")
    if exc.errno == errno.EROFS:  # a read-only file system: root too is refused
        hint = not_writable
    return f"{where}: {exc.strerror or exc}{hint}"


def _given(*paths: Path | None) -> list[Path]:
    """The input files given on the command line (those not given left out)."""
    return [p for p in paths if p is not None]


def _refuse_unsafe(
    data: Path,
    *,
    files: dict[str, Path] | None = None,
    folders: dict[str, Path] | None = None,
    inputs: Sequence[Path] = (),
    read_from: Sequence[Path] = (),
) -> None:
    """Refuse, before any work, outputs that would write over, into or around what the user gave
    us (``outputs``): ``files`` and ``folders`` by option name; ``inputs`` are the run's input
    files and folders beside the data folder, ``read_from`` the folders it reads (a model)."""
    prepared = api.prepared_folder(data, _prepared_dir())
    given = [data, *outputs.data_inputs(data), prepared, *inputs]
    folders = folders or {}
    try:
        for option, folder in folders.items():
            outputs.refuse_folder(folder, option, inputs=given, read_from=[prepared, *read_from])
        for option, path in (files or {}).items():
            outputs.refuse_file(path, option, inputs=given, read_from=[prepared, *read_from, *folders.values()])
    except outputs.UnsafeOutput as exc:
        raise _fail(str(exc)) from None


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
        except OSError as exc:  # the lock file cannot be written: a full disk, no permission
            raise _fail(_os_message(exc)) from None
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


@dataclass
class _Step:
    description: str
    total: float | None
    tenths: int = -1
    """The tenths of ``total`` already reported."""


class _Lines:
    """Progress as plain lines when stderr is not a terminal (a pipe, a log, CI), where a live
    bar would leave nothing: each new step once, with the seconds since the display began
    ("ranker: labelling week 3/5 (from 2020-08-26) … 41 s"); counts at every tenth of the way."""

    def __init__(self, console: Console) -> None:
        self.console, self.start = console, time.perf_counter()
        self.steps: list[_Step] = []

    def add_task(self, description: str, total: float | None = None, **_: object) -> int:
        self.steps.append(_Step(description, total))
        self._say(description)
        return len(self.steps) - 1

    def update(
        self, task: int, *, description: str | None = None, completed: float | None = None, total: float | None = None
    ) -> None:
        step = self.steps[task]
        if total is not None:
            step.total = total
        if description is not None and description != step.description:
            step.description = description
            self._say(description)
        if completed is not None and step.total:
            tenths = int(10 * completed / step.total)
            if tenths > step.tenths:
                step.tenths = tenths
                self._say(f"{step.description}: {completed:g}/{step.total:g}")

    def _say(self, text: str) -> None:
        self.console.print(f"{text} … {time.perf_counter() - self.start:.0f} s", highlight=False, markup=False)


class _Counts(ProgressColumn):
    """``done/total`` where a step counts (blank for a step without counts)."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{task.completed:,.0f}/{task.total:,.0f}", style="progress.download")


@contextmanager
def _progress() -> Iterator[Progress]:
    if not err.is_terminal:
        yield _Lines(err)  # type: ignore[misc]
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        _Counts(),  # counts where a step has them (weeks generated, parts ranked)
        TimeElapsedColumn(),
        TimeRemainingColumn(),  # the ETA, where there are counts
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
            lambda: api.prepare(
                data, _prepared_dir(), on_step=lambda step: bar.update(task, description=f"prepare: {step}")
            )
        )
    _warn(result.warnings)
    if result.rebuilt:
        err.print(f"prepared {data} -> {result.dataset.root}", highlight=False)
    return result.dataset


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


@app.callback()
def _start() -> None:
    _warn(_memory_limit())


def _memory_limit() -> list[str]:
    """A warning when the process's address space is capped (``ulimit -v``, ``prlimit --as``):
    polars reserves address space ahead of use, and when a reservation is refused it aborts the
    process with "memory allocation failed" and no message hmrec could give."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return []
    return [
        f"the address space of this process is limited to {soft / 2**30:.1f} GiB (ulimit -v or prlimit --as). "
        "If a run needs more, polars stops it at once with 'memory allocation failed' and no other message; "
        "lift the limit (ulimit -v unlimited), or cap memory with a cgroup (docker --memory, systemd-run -p MemoryMax)"
    ]


def _scores_table(scores: list[Score], title: str) -> Table:
    table = Table(title=title)
    for column in ("model", "MAP@12", "recall@12", "customers scored", "seconds"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for s in scores:
        table.add_row(s.model, f"{s.map_at_12:.5f}", f"{s.recall_at_12:.5f}", f"{s.customers:,}", f"{s.seconds:.1f}")
    return table


CURVE_SIZES = (10, 20, 50, 100)
"""Candidates per customer at which the report draws each source's recall."""


def _evaluate_and_save(
    dataset: Dataset,
    names: list[str],
    settings: Settings,
    folder: Path,
    quiet: bool = False,
    ablation: bool = False,
    weeks: int = 1,
    explain: bool = False,
) -> tuple[Evaluation, Path]:
    """``api.evaluate``, print the scores (unless ``quiet``), then write the artifacts and report
    into ``folder``: built in a staging folder and published whole (the model, the serving files
    and the report of one run, or the previous set untouched). Returns the report's path too."""
    with _holding(folder), _staged(folder) as stage, _engine(settings, dataset) as runner:
        with _progress() as bar:
            task = bar.add_task("evaluating", total=None)
            result = _guard(
                lambda: api.evaluate(
                    dataset,
                    names,
                    settings,
                    on_step=lambda text: bar.update(task, description=text),
                    on_tuned=_print_tuning,
                    on_mf_choice=_print_mf_choice,
                    engine=runner,
                    curve_sizes=CURVE_SIZES,
                    ablation=ablation,
                    artifacts=stage / "model",
                    weeks=weeks,
                    explain=explain,
                )
            )
        if not quiet:
            console.print(_scores_table(result.scores, f"holdout week from {result.cutoff}"))
            if result.weeks > 1:
                console.print(_summary_table(result))
        with _progress() as bar:
            bar.add_task("saving artifacts and drawing the report", total=None)
            report = folder / _guard(lambda: api.save_evaluation(stage, dataset, result, settings)).relative_to(stage)
    if not quiet:
        console.print(f"artifacts: {folder}  report: {report}")
    return result, report


def _summary_table(result: Evaluation) -> Table:
    first, last = result.weekly[0][0], result.weekly[-1][0]
    table = Table(title=f"mean of {result.weeks} holdout weeks from {first} to {last} (+- standard error)")
    for column in ("model", "MAP@12", "+-", "recall@12"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in result.summary().iter_rows(named=True):
        table.add_row(row["model"], f"{row['map_at_12']:.5f}", f"{row['map_se']:.5f}", f"{row['recall_at_12']:.5f}")
    return table


def _ablation_table(base: Score, rows: list[AblationRow]) -> Table:
    weeks = rows[0].weeks if rows else 1
    over = f"mean of {weeks} weeks" if weeks > 1 else "one week"
    table = Table(
        title=f"ablation ({over}): ranker MAP@12 {base.map_at_12:.5f} with everything; each row removes one part; "
        "+- is the change's standard error over the buyers (within twice it: noise)"
    )
    for column in ("removed", "kind", "MAP@12", "change", "+-", "beyond noise"):
        table.add_column(column, justify="left" if column in ("removed", "kind") else "right")
    for row in rows:
        beyond = "yes" if abs(row.change) > 2 * row.se else "no"
        table.add_row(row.removed, row.kind, f"{row.map_at_12:.5f}", f"{row.change:+.5f}", f"{row.se:.5f}", beyond)
    return table


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the four Kaggle CSV files into.")],
    scale: Annotated[
        Scale,
        typer.Option("--scale", help="tiny (tests), small (demo), full (H&M size), xl (3x the customers of full)."),
    ] = "small",
    seed: Annotated[
        int, typer.Option("--seed", help="Same seed, scale and profile, same bytes.", min=0, max=2**32 - 1)
    ] = 0,
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
    name, size = Profile(profile).value, Scale(scale).value
    start = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(f"generating the {size} {name} shop", total=None)
        paths = _guard(
            lambda: api.generate(
                out, size, name, seed, on_week=lambda done, total: bar.update(task, completed=done, total=total)
            )
        )
    console.print(f"wrote {len(paths)} files to {out} in {time.perf_counter() - start:.1f} s")
    if stats:
        dataset = _load(out)
        table = Table(title=f"synthetic shop '{size}', profile {name} (seed {seed})")
        table.add_column("statistic")
        table.add_column("value", justify="right")
        for key, value in _guard(lambda: api.shop_statistics(dataset)).items():
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

    Later commands reuse the result until an input file changes. Dates far after the rest of
    the log, and a last week with far fewer buyers than the weeks before, are warned about here.

    Example: hmrec prepare --data data/hm --shards 8
    """
    if shards is not None and shards < 1:
        raise _fail(f"--shards must be at least 1, got {shards}")
    start = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("prepare", total=None)
        result = _guard(
            lambda: api.prepare(
                data,
                _prepared_dir(),
                on_step=lambda step: bar.update(task, description=f"prepare: {step}"),
                rebuild=True,
                shards=shards,
            )
        )
    _warn(result.warnings)
    console.print(f"prepared {data} -> {result.dataset.root} in {time.perf_counter() - start:.1f} s")
    if shards is not None:
        console.print(f"shards: {api.shard_folder(result.dataset, shards)}")


@app.command()
def check(data: DataOpt) -> None:
    """Check the Kaggle files as they are (nothing is written): date range and rows per week,
    null counts per column, unknown and duplicate ids, duplicate rows, prices. Exits 1 when a
    problem would make a run wrong.

    Example: hmrec check --data data/hm
    """
    with _progress() as bar:
        task = bar.add_task("checking", total=None)
        report = api.check(data, on_step=lambda text: bar.update(task, description=f"check: {text}"))
    files = Table(title=f"{data}: files")
    for column in ("file", "rows", "nulls per column", "duplicate rows", "duplicate ids"):
        files.add_column(  # at 80 columns the null counts wrap; a file name is never cut
            column,
            justify="left" if column in ("file", "nulls per column") else "right",
            no_wrap=column == "file",
            overflow="fold",
        )
    for f in report.files:
        nulls = ", ".join(f"{c} {n:,}" for c, n in f.nulls.items() if n) or "none"
        dupes = report.duplicate_ids.get(f.name)
        files.add_row(
            f.path.name,
            f"{f.rows:,}",
            nulls,
            f"{report.duplicate_rows.get(f.name, 0):,}",
            "" if dupes is None else f"{dupes:,}",
        )
    console.print(files)
    if report.weeks is not None and report.first is not None:
        weeks = Table(
            title=f"transactions from {report.first} to {report.last}: {report.weeks.height} weeks "
            f"(the last {min(12, report.weeks.height)} shown)"
        )
        for column in ("week from", "rows", "buyers"):
            weeks.add_column(column, justify="right")
        for start, rows, buyers in report.weeks.tail(12).iter_rows():
            weeks.add_row(str(start), f"{rows:,}", f"{buyers:,}")
        console.print(weeks)
        shown = {
            k: "unreadable" if report.prices.get(k) is None else f"{report.prices[k]:.6g}"
            for k in ("min", "median", "max")
        }
        console.print(
            f"prices: min {shown['min']}, median {shown['median']}, max {shown['max']}; "
            + "; ".join(f"{name}: {n:,} unknown" for name, n in report.unknown.items()),
            highlight=False,
        )
    _warn(report.warnings)
    for error in report.errors:
        err.print(f"[bold red]error:[/] {escape(error)}", highlight=False)
    if not report.ok:
        raise typer.Exit(code=1)
    console.print("no errors")


@app.command()
def evaluate(
    data: DataOpt,
    model: Annotated[
        list[ModelName] | None,
        typer.Option("--model", help="Model(s) to score; repeat the flag. Default: all (the ranker is the main one)."),
    ] = None,
    config: ConfigOpt = None,
    cutoff: CutoffOpt = None,
    train_weeks: TrainWeeksOpt = None,
    objective: ObjectiveOpt = None,
    cap: CapOpt = None,
    mf_features: MFFeaturesOpt = None,
    artifacts: ArtifactsOpt = None,
    tune: TuneOpt = None,
    tune_budget: TuneBudgetOpt = None,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
    run_ablation: Annotated[
        bool,
        typer.Option("--ablation", help="Also retrain the ranker without each feature block and each source."),
    ] = False,
    weeks: Annotated[
        int,
        typer.Option(
            "--weeks",
            min=1,
            help="Hold out each of the last N weeks in turn (ending with --cutoff's) and report each model's "
            "mean MAP@12 with its standard error; the ablation too.",
        ),
    ] = 1,
    explain: ExplainOpt = False,
) -> None:
    """Hold out the last week of DIR, fit on the weeks before, print MAP@12 and recall@12 of
    every model in one table, and write the HTML report. The main model's holdout
    recommendations (with what was bought, for hmrec serve), the ranker's model, feature list
    and importance, and report.html go to --artifacts (default DIR/artifacts/evaluate).

    Example: hmrec evaluate --data data/small --model ranker --model repurchase --ablation
    Over four weeks: hmrec evaluate --data data/small --weeks 4
    """
    settings = _model_settings(
        config, None, train_weeks, objective, cap, mf_features, tune, tune_budget, engine, workers, address, cutoff
    )
    folder = artifacts or data / "artifacts" / "evaluate"
    _refuse_unsafe(data, folders={"--artifacts": folder}, inputs=_given(config))
    dataset = _load(data)
    names = [ModelName(m).value for m in model] if model else list(MODEL_NAMES)
    result, _ = _evaluate_and_save(
        dataset, names, settings, folder, ablation=run_ablation, weeks=weeks, explain=explain
    )
    if result.ablation is not None:
        console.print(_ablation_table(*result.ablation))


def _model_settings(
    config: Path | None,
    model: ModelName | None,
    train_weeks: int | None,
    objective: Objective | None,
    cap: int | None,
    mf_features: bool | None,
    tune: bool | None,
    tune_budget: float | None,
    engine: EngineName | None,
    workers: int | None,
    address: str | None,
    cutoff: str | None = None,
) -> Settings:
    """The settings of ``--config`` with the model flags given put over them."""
    return _settings(
        config,
        model=model,
        cutoff=cutoff,
        train_weeks=train_weeks,
        objective=objective,
        candidates=cap,
        mf_features=mf_features,
        tune=tune,
        tune_budget=tune_budget,
        engine=engine,
        workers=workers,
        address=address,
    )


ExplainOpt = Annotated[
    bool,
    typer.Option(
        "--explain",
        help="Keep, for each ranked recommendation served, the three features that moved its score most "
        "(hmrec serve answers ?explain=true); about 40 us a recommendation.",
    ),
]
ModelOpt = Annotated[
    ModelName | None, typer.Option("--model", help="The model to fit on all of DIR \\[default: ranker].")
]


def _fit(dataset: Dataset, settings: Settings, runner: Engine, doing: str) -> Model:
    with _progress() as bar:
        task = bar.add_task(doing, total=None)
        return _guard(
            lambda: api.fit(
                dataset,
                settings,
                on_step=lambda text: bar.update(task, description=text),
                on_tuned=_print_tuning,
                on_mf_choice=_print_mf_choice,
                engine=runner,
            )
        )


@app.command()
def submit(
    data: DataOpt,
    output: Annotated[Path, typer.Option("--output", help="Where to write the submission CSV.")],
    model: ModelOpt = None,
    config: ConfigOpt = None,
    train_weeks: TrainWeeksOpt = None,
    objective: ObjectiveOpt = None,
    cap: CapOpt = None,
    mf_features: MFFeaturesOpt = None,
    artifacts: ArtifactsOpt = None,
    tune: TuneOpt = None,
    tune_budget: TuneBudgetOpt = None,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
    explain: ExplainOpt = False,
) -> None:
    """Fit on all of DIR and write a Kaggle submission (customer_id,prediction).

    One row per customer of sample_submission.csv (else customers.csv), in that order. What
    hmrec serve reads (the recommendations with scores and sources, the articles, recent
    purchases) goes to --artifacts (default DIR/artifacts/submit), and the fitted model to its
    model/ folder (hmrec recommend --model reads it). The same as hmrec fit, then hmrec recommend.

    Example: hmrec submit --data data/small --output submission.csv --engine ray --workers 2
    """
    folder = artifacts or data / "artifacts" / "submit"
    _refuse_unsafe(data, files={"--output": output}, folders={"--artifacts": folder}, inputs=_given(config))
    settings = _model_settings(
        config, model, train_weeks, objective, cap, mf_features, tune, tune_budget, engine, workers, address
    )
    if explain and not api.model_class(settings.model).explains:
        raise _fail(f"--explain explains the ranker's scores; the {settings.model} model has none")
    dataset = _load(data)
    with _holding(folder, output), _staged(folder) as stage, _engine(settings, dataset) as runner:
        fitted = _fit(dataset, settings, runner, f"fitting {settings.model}")
        with _progress() as bar:
            task = bar.add_task(f"recommending for {output}", total=None)
            fitted.on_step = lambda text: bar.update(task, description=text)
            recs = _guard(lambda: fitted.submission_recommendations(dataset, explain=explain))
            bar.update(task, description=f"saving the model and artifacts to {folder}")
            _guard(lambda: fitted.save(stage / "model"))
            _guard(lambda: api.write_serving_files(stage, dataset, fitted, recs))
            bar.update(task, description=f"writing {output}")  # last: a failure before it leaves the old output
            _guard(lambda: fitted.write_submission(dataset, output, recommendations=recs))
            faults.point("submit:output-written")
    console.print(
        f"wrote {output} ({recs[recs.columns[0]].n_unique():,} customers, model {fitted.name}); artifacts: {folder}"
    )


@app.command()
def fit(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder to save the fitted model in (replaced whole).")],
    model: ModelOpt = None,
    config: ConfigOpt = None,
    train_weeks: TrainWeeksOpt = None,
    objective: ObjectiveOpt = None,
    cap: CapOpt = None,
    mf_features: MFFeaturesOpt = None,
    tune: TuneOpt = None,
    tune_budget: TuneBudgetOpt = None,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
) -> None:
    """Fit a model on all of DIR and save it, to score data later without fitting again
    (hmrec recommend). Prints the settings used; they are saved beside the model
    (OUT/settings.toml), and --config OUT/settings.toml fits the same model again.

    Example: hmrec fit --data data/hm --out models/ranker --config ranker.toml
    """
    _refuse_unsafe(data, folders={"--out": out})
    settings = _model_settings(
        config, model, train_weeks, objective, cap, mf_features, tune, tune_budget, engine, workers, address
    )
    dataset = _load(data)
    with _holding(out), _engine(settings, dataset) as runner:
        fitted = _fit(dataset, settings, runner, f"fitting {settings.model}")
        _guard(lambda: fitted.save(out))
    console.print(f"# settings used (saved as {out / 'settings.toml'})", highlight=False)
    console.print(escape(fitted.settings.to_toml()), highlight=False, end="")
    console.print(f"saved the {fitted.name} model fitted on {data} (to score the week from {fitted.cutoff}) to {out}")


@app.command()
def recommend(
    model: Annotated[Path, typer.Option("--model", help="Folder of a model saved by hmrec fit (or submit's model/).")],
    data: DataOpt,
    output: Annotated[Path, typer.Option("--output", help="Where to write the recommendations (submission CSV).")],
    customers: Annotated[
        Path | None,
        typer.Option(
            "--customers",
            help="A CSV or parquet file with a customer_id column: recommend for those customers, in that order "
            "(default: every customer of the submission). Ids the data does not know get the fill list (last week's best sellers at fit time).",
        ),
    ] = None,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
) -> None:
    """Score DIR with a saved model, without fitting again: candidates and features are read
    from DIR (for example the same log with a newer week appended) at the day after its last
    transaction. Writes customer_id,prediction like hmrec submit: on the data the model was
    fitted on, the same file.

    Example: hmrec recommend --model models/ranker --data data/hm --output submission.csv
    """
    _refuse_unsafe(data, files={"--output": output}, inputs=_given(customers), read_from=[model])
    saved = _guard(lambda: api.load_model(model))
    settings = _guard(
        lambda: replace(saved.settings, engine="local", address=None).with_flags(
            engine=_value(engine), workers=workers, address=address
        )
    )
    who = _guard(lambda: api.read_customers(customers)) if customers is not None else None
    dataset = _load(data)
    _guard(lambda: api.refuse_stray(dataset, "the model would score the week after them"))
    stale = _guard(lambda: saved.staleness(dataset))
    if stale:
        _warn([stale])
    with _holding(output), _engine(settings, dataset) as runner, _progress() as bar:
        task = bar.add_task(f"scoring {data} with the {saved.name} model", total=None)
        saved.engine, saved.on_step = runner, lambda text: bar.update(task, description=text)
        _guard(lambda: saved.write_submission(dataset, output, who))
    shown = "every customer of the submission" if who is None else f"{who.len():,} customers of {customers}"
    console.print(f"wrote {output} ({shown}, model {saved.name} from {model})")


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
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**31 - 1)] = 0,
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
    folder = out or data / "models" / "mf"
    _refuse_unsafe(data, folders={"--out": folder})
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
    with _progress() as bar:
        task = bar.add_task("training mf", total=cfg.epochs)

        def on_epoch(epoch: int, epoch_loss: float, score: float) -> None:
            bar.update(
                task, completed=epoch + 1, description=f"epoch {epoch + 1}: loss {epoch_loss:.4f}, MAP@12 {score:.5f}"
            )
            bar.console.print(
                f"epoch {epoch + 1:3d}  loss {epoch_loss:.4f}  holdout MAP@12 {score:.5f}", highlight=False
            )

        trained, score = _guard(
            lambda: api.train_baseline(dataset, split, cfg, MFFilter(bought_filter).value, folder, resume, on_epoch)
        )
    assert trained.result is not None
    _warn(trained.result.warnings)
    console.print(
        _scores_table(
            [score],
            f"mf ({Preset(preset).value}, best epoch {trained.result.best_epoch + 1}), holdout week from {split.cutoff}",
        )
    )
    console.print(f"saved {folder / 'best.pt'} (checkpoint of the last epoch: {folder / 'last.pt'})")


def _split(dataset: Dataset, cutoff: str | None) -> Split:
    """The holdout split at ``--cutoff`` (default: the data's last 7 days, refused when those
    cannot be a real week of the log)."""
    return _guard(lambda: api.holdout(dataset, cutoff))


@app.command()
def candidates(
    data: DataOpt,
    n: Annotated[
        int, typer.Option("--n", help="Candidates per customer for the quality table.", min=1, max=10_000)
    ] = 50,
    sizes: Annotated[
        str, typer.Option("--sizes", help="Comma-separated sizes for the recall curve.")
    ] = "20,50,100,200",
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help=f"Source(s) to run; repeat the flag. Default: all ({', '.join(SOURCES)})."),
    ] = None,
    cutoff: CutoffOpt = None,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
) -> None:
    """Measure each candidate source and their union on the holdout week's buyers.

    The union at --n per customer comes twice: in the sources' fixed order ("union") and by the
    cut learned on the week before ("cut"); "pool" is every source's --n together, uncapped.
    Prints candidates per customer, recall, the share of buyers with at least one hit, the
    MAP@12 a perfect ranker would reach on those candidates, and the time each source took;
    then recall against the number of candidates per customer.

    Example: hmrec candidates --data data/small --source repurchase --source bought_together --engine ray
    """
    settings = _settings(None, engine=engine, workers=workers, address=address)
    dataset = _load(data)
    names = source or list(SOURCES)
    curve_sizes = _guard(lambda: sorted({int(x) for x in sizes.split(",") if x.strip()} | {n}))
    split = _split(dataset, cutoff)
    with _engine(settings, dataset) as runner:
        _candidate_tables(dataset, split, names, n, curve_sizes, runner)


def _candidate_tables(
    dataset: Dataset, split: Split, names: list[str], n: int, curve_sizes: list[int], engine: Engine
) -> None:
    """Run the sources for the week's buyers; print the quality table and the recall curve."""
    with _progress() as bar:
        bar.add_task(f"running and measuring candidate sources ({engine.name} engine)", total=None)
        tables, curve = _guard(lambda: api.measure_candidates(dataset, split, names, curve_sizes, engine))
    rows = tables[n]
    buyers = split.truth.select("customer").unique().collect().height
    table = Table(title=f"candidates for {buyers:,} buyers of the week from {split.cutoff}, at most {n} per source")
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
    with _progress() as bar:
        task = bar.add_task("generating the small shop", total=None)
        _guard(
            lambda: api.generate(
                out, "small", seed=seed, on_week=lambda done, total: bar.update(task, completed=done, total=total)
            )
        )
    dataset = _load(out)
    settings = Settings()
    result, report = _evaluate_and_save(
        dataset, list(MODEL_NAMES), settings, out / "artifacts" / "evaluate", quiet=True, explain=True
    )
    best = max(result.scores, key=lambda s: s.map_at_12).model
    submission = out / "submission.csv"
    chosen = replace(settings, model=best)
    fitted = _fit(dataset, chosen, api.LocalEngine(), f"fitting {best} on everything")
    with _progress() as bar:
        bar.add_task(f"writing a submission with {best}", total=None)
        _guard(lambda: fitted.write_submission(dataset, submission))
    split = Split.at(dataset.transactions(), result.cutoff)  # the week evaluate held out
    _candidate_tables(dataset, split, list(SOURCES), 50, [20, 50, 100], api.LocalEngine())
    console.print(_scores_table(result.scores, f"small synthetic shop, holdout week from {result.cutoff}"))
    console.print(f"submission ({best}): {submission}")
    console.print(f"report: {report}")
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s")
    console.print("explore the holdout week (recommendations, why, similar articles) with:")
    console.print(f"  {_this_command()} serve --artifacts {report.parent}", highlight=False)
    console.print(
        "  then open http://127.0.0.1:8000/ (the API's own page: http://127.0.0.1:8000/docs)", highlight=False
    )


def _this_command() -> str:
    """How to run this hmrec again from the current folder, venv activated or not: the script
    that is running (``.venv/bin/hmrec``, as typed), or ``python -m hmrec`` with this Python."""
    given = sys.argv[0]
    if Path(given).name == "hmrec":
        found = given if "/" in given else shutil.which(given)  # a bare name: where PATH found it
        if found:
            return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m hmrec"


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
    folder = artifacts or data / "artifacts" / "evaluate"
    _refuse_unsafe(data, folders={"--artifacts": folder})
    dataset = _load(data)
    names = [ModelName(m).value for m in model] if model else [*api.RULE_BASELINES, api.DEFAULT_MODEL]
    _evaluate_and_save(dataset, names, _settings(None, cutoff=cutoff), folder)


@app.command()
def serve(
    artifacts: Annotated[
        Path, typer.Option("--artifacts", help="Folder written by hmrec submit (or evaluate) --artifacts.")
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the recommendations over HTTP, with the customer explorer page at / and the
    OpenAPI page at /docs. Everything loads once at start-up.

    Example: hmrec serve --artifacts data/small/artifacts/submit --port 8000
    """
    import uvicorn

    start = time.perf_counter()
    application = _guard(lambda: api.serve_app(artifacts))
    err.print(f"loaded {artifacts} in {time.perf_counter() - start:.1f} s; open http://{host}:{port}/", highlight=False)
    uvicorn.run(application, host=host, port=port, log_level="warning")
