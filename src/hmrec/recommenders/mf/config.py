"""The MF baseline's settings, kept free of torch so that the CLI starts quickly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hmrec.recommenders.mf.weights import PRESETS, Weighting

LOSS_NAMES = ("bpr", "bce", "observed")
"""The losses of ``losses.LOSSES``, by name."""

SOLVERS = ("als", "sgd")
"""``als``: weighted least squares solved row by row (``als.py``); ``sgd``: sampled negatives and a
loss from ``LOSS_NAMES``, by row-wise Adagrad (``train.py``)."""

FILTERS = ("none", "bought", "interval")
"""What ``MFRecommender`` leaves out of the model's picks: nothing, every article the customer
bought, or one bought more recently than the article's median interval between repeats."""


LIKE_BOUGHT = "popular"
"""``negatives``: sampled like the bought articles (by their popularity)."""
NEGATIVES = (LIKE_BOUGHT, "uniform")
"""How the SGD solver samples negatives: like the bought articles, or any article alike."""


@dataclass(frozen=True)
class MFConfig:
    """Every setting of the MF baseline; CLI flags override these."""

    dim: int = 64
    epochs: int = 12
    batch_size: int = 65536
    lr: float = 0.05
    l2: float = 1e-3
    loss: str = "bpr"
    negatives: str = "uniform"  # one of NEGATIVES
    patience: int = 3
    seed: int = 0
    weighting: Weighting = field(default_factory=lambda: PRESETS["decay0.01-price0"])
    device: str = "cpu"
    solver: str = "als"
    alpha: float = 10.0  # ALS: confidence 1 + alpha * weight on a bought pair (chosen on the accuracy matrix)
    reg: float = 100.0  # ALS: ridge penalty per row
    cg_steps: int = 3  # ALS: conjugate-gradient steps per row and epoch

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; choose one of {', '.join(SOLVERS)}")
        if self.alpha <= 0 or self.reg < 0 or self.cg_steps < 1:
            raise ValueError("alpha must be above 0, reg at least 0 and cg_steps at least 1")
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSS_NAMES)}")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"negatives must be 'popular' or 'uniform', got {self.negatives!r}")
        if self.dim < 1 or self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("dim, epochs and batch_size must be positive, and lr above 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the weighting a table): what a model file stores instead of a pickle."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MFConfig:
        """The settings ``to_dict`` wrote (checked like any other)."""
        values = dict(values)
        weighting = values.pop("weighting", None)
        return cls(**values, **({"weighting": Weighting(**weighting)} if weighting is not None else {}))
