"""The ranker's settings, importable without LightGBM."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hmrec.features.blocks import check_blocks
from hmrec.schema import K

OBJECTIVES = ("lambdarank", "binary")


def in_range(name: str, value: float, low: float, high: float, *, above: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a finite number in ``[low, high]``
    (``(low, high]`` with ``above``): every numeric setting is checked before any work."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (low < value if above else low <= value) or value > high:
        span = f"{'above' if above else 'at least'} {low:g} and at most {high:g}"
        raise ValueError(f"{name} must be a number {span}, got {value!r}")


@dataclass(frozen=True)
class RankerConfig:
    """The ranker's settings: objective, weeks of labels, and LightGBM's tree parameters.

    ``train_weeks`` weeks of labels fit the trees; the week after them (the last before the
    cutoff) picks the number of rounds by MAP@12; with ``refit`` the trees are then refitted on
    the ``train_weeks`` newest weeks for that many rounds. Each labelled week keeps at most
    ``train_buyers`` of its buyers (a seeded sample; None keeps all). With ``train_negatives``,
    each training customer keeps every bought candidate and at most that many others (a seeded
    sample: large pools cost the fit no more than small ones); the week that picks the rounds
    keeps all its rows.
    """

    objective: str = "lambdarank"
    train_weeks: int = 4
    train_buyers: int | None = 30_000
    train_negatives: int | None = 50
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.8
    max_rounds: int = 300
    early_stopping: int = 30
    refit: bool = False
    drop_blocks: tuple[str, ...] = ()
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown ranker objective {self.objective!r}; choose {' or '.join(OBJECTIVES)}")
        in_range("train_weeks", self.train_weeks, 1, 520)
        if self.train_buyers is not None:
            in_range("train_buyers (or all)", self.train_buyers, 1, 10**9)
        if self.train_negatives is not None:
            in_range("train_negatives (or all)", self.train_negatives, 1, 10**6)
        in_range("learning_rate", self.learning_rate, 0, 1, above=True)
        in_range("num_leaves", self.num_leaves, 2, 131_072)  # LightGBM's own bounds
        in_range("min_data_in_leaf", self.min_data_in_leaf, 0, 10**9)
        in_range("feature_fraction", self.feature_fraction, 0, 1, above=True)
        in_range("max_rounds", self.max_rounds, 1, 100_000)
        in_range("early_stopping", self.early_stopping, 1, 100_000)
        in_range("seed", self.seed, 0, 2**31 - 1)
        in_range("threads (0: LightGBM's default)", self.threads, 0, 1024)
        if not all(isinstance(b, str) for b in self.drop_blocks):
            raise ValueError(f"drop_blocks must be names of feature blocks, got {list(self.drop_blocks)!r}")
        check_blocks(self.drop_blocks)

    def params(self) -> dict[str, object]:
        """LightGBM's parameters; MAP@12 on the validation groups is the stopping metric."""
        return {
            "objective": self.objective,
            "metric": "map",
            "eval_at": [K],
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_seed": self.seed,
            "feature_fraction_seed": self.seed,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": self.threads,
            "verbosity": -1,
        }
