"""The command line's options, each declared once: the choices (``ModelName``, ``Scale``, ...),
the options several commands share (``DataOpt``, ``CutoffOpt``, ...), and ``shared`` which adds
the model and engine options to a command and hands them to it as one ``Flags``."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

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
    CandidateConfig,
    RankerConfig,
    Settings,
)
from hmrec.cli.console import T, guard

ModelName = Enum("ModelName", {name: name for name in MODEL_NAMES}, type=str)  # type: ignore[misc]
Preset = Enum("Preset", {name: name for name in PRESETS}, type=str)  # type: ignore[misc]
Loss = Enum("Loss", {name: name for name in LOSS_NAMES}, type=str)  # type: ignore[misc]
Solver = Enum("Solver", {name: name for name in SOLVERS}, type=str)  # type: ignore[misc]
MFFilter = Enum("MFFilter", {name: name for name in FILTERS}, type=str)  # type: ignore[misc]
Scale = Enum("Scale", {name: name for name in SCALES}, type=str)  # type: ignore[misc]
Profile = Enum("Profile", {name: name for name in PROFILES}, type=str)  # type: ignore[misc]
Objective = Enum("Objective", {name: name for name in OBJECTIVES}, type=str)  # type: ignore[misc]
EngineName = Enum("EngineName", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]
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


def value_of(choice: Enum | None) -> str | None:
    return None if choice is None else str(choice.value)


def settings_from(config: Path | None, **flags: object) -> Settings:
    """The settings of ``--config`` (default settings without one) with the flags given on the
    command line put over them."""
    base = guard(lambda: Settings.load(config)) if config is not None else Settings()
    values = {k: value_of(v) if isinstance(v, Enum) else v for k, v in flags.items()}
    return guard(lambda: base.with_flags(**values))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Flags:
    """The options ``evaluate``, ``submit``, ``fit`` (all of them) and ``recommend``,
    ``candidates`` (the engine's) share, as given on the command line (None: not given)."""

    config: Path | None = None
    train_weeks: int | None = None
    objective: Objective | None = None
    cap: int | None = None
    mf_features: bool | None = None
    tune: bool | None = None
    tune_budget: float | None = None
    engine: EngineName | None = None
    workers: int | None = None
    address: str | None = None

    def settings(self, **more: object) -> Settings:
        """The settings of ``--config`` with these flags, and ``more`` (``model``, ``cutoff``),
        put over them."""
        return settings_from(
            self.config,
            train_weeks=self.train_weeks,
            objective=self.objective,
            candidates=self.cap,
            mf_features=self.mf_features,
            tune=self.tune,
            tune_budget=self.tune_budget,
            engine=self.engine,
            workers=self.workers,
            address=self.address,
            **more,
        )


MODEL_FLAGS: dict[str, object] = {
    "config": ConfigOpt,
    "train_weeks": TrainWeeksOpt,
    "objective": ObjectiveOpt,
    "cap": CapOpt,
    "mf_features": MFFeaturesOpt,
    "tune": TuneOpt,
    "tune_budget": TuneBudgetOpt,
    "engine": EngineOpt,
    "workers": WorkersOpt,
    "address": AddressOpt,
}
"""The options of ``Flags`` and their declarations, in the order ``--help`` lists them."""
ENGINE_FLAGS = ("engine", "workers", "address")


def shared(*names: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A decorator giving a command the shared options ``names`` (default: all of ``Flags``),
    declared once here: they are added to its signature, which typer reads, and it receives
    them as one ``flags: Flags`` argument."""
    chosen = names or tuple(MODEL_FLAGS)

    def decorate(command: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(command)
        hints = typing.get_type_hints(command, include_extras=True)  # the command's own options, resolved
        own = [p.replace(annotation=hints[p.name]) for p in signature.parameters.values() if p.name != "flags"]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=MODEL_FLAGS[name])
            for name in chosen
        ]

        @functools.wraps(command)
        def run(*args: object, **kwargs: object) -> T:
            given = {name: kwargs.pop(name) for name in chosen}
            return command(*args, flags=Flags(**given), **kwargs)  # type: ignore[arg-type]

        run.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        run.__annotations__ = {"return": hints.get("return"), **{p.name: p.annotation for p in [*own, *added]}}
        return run

    return decorate
