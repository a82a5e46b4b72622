"""The ranker's settings, importable without LightGBM."""

from __future__ import annotations

from dataclasses import dataclass

from hmrec.features.blocks import check_blocks
from hmrec.schema import K

OBJECTIVES = ("lambdarank", "binary")


@dataclass(frozen=True)
class RankerConfig:
    """The ranker's settings: objective, weeks of labels, and LightGBM's tree parameters.

    ``train_weeks`` weeks of labels fit the trees; the week after them (the last before the
    cutoff) picks the number of rounds by MAP@12; with ``refit`` the trees are then refitted on
    the ``train_weeks`` newest weeks for that many rounds. Each labelled week keeps at most
    ``train_buyers`` of its buyers (a seeded sample; None keeps all).
    """

    objective: str = "lambdarank"
    train_weeks: int = 4
    train_buyers: int | None = 30_000
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
        if self.train_weeks < 1:
            raise ValueError(f"train_weeks must be at least 1, got {self.train_weeks}")
        if self.train_buyers is not None and self.train_buyers < 1:
            raise ValueError(f"train_buyers must be at least 1 (or None for all), got {self.train_buyers}")
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
