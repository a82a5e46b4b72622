"""What the MF model tries when it chooses its settings on the week before the cutoff.

``MFRecommender.fit`` (``choose=True``, the default; ``--no-tune`` turns it off) fits the model
on the history before the last week before the cutoff and scores each trial's MAP@12 on that
week's buyers, never on the holdout:

1. the given settings, early-stopped on that week: the number of epochs;
2. with those factors, each way of counting what the customer bought before (``REPEATS``):
   nothing, a filter, or a bonus of ``boost x`` the pair's purchase weight on the factors' score;
3. the other penalties of ``PENALTIES`` at the given size, then the best of them at each size of
   ``DIMS``, each early-stopped with the repeat handling of step 2.

The best trial (the first of equals) gives alpha, reg, the size, the epochs and the repeat
handling; the model is then fitted again on the whole history with them. Where the history has
more than ``choice_customers`` customers the trials see a seeded sample of them (every sampled
validation buyer among them) and the article side's penalty is scaled by the share of pairs the
sample keeps, so that an article's factors weigh its data as in the full fit. A trial that would
end past ``choice_budget`` seconds (costed as the first trial, per factor) is skipped and listed
as such; at the matrix's sizes none is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PENALTIES: tuple[tuple[float, float], ...] = ((10.0, 100.0), (30.0, 300.0), (3.0, 30.0), (10.0, 10.0), (40.0, 0.05))
"""``(alpha, reg)`` pairs tried: heavy to light penalties, the last the objective of implicit's ALS
as the benchmark runs it (confidence ``1 + 40 x weight``, regularisation 0.05)."""
DIMS: tuple[int, ...] = (32, 128)
"""Factor sizes tried beside the given one, at the best penalty."""
REPEATS: tuple[tuple[str, float], ...] = (
    ("none", 0.0),
    ("bought", 0.0),
    ("interval", 0.0),
    ("none", 0.3),
    ("none", 1.0),
    ("none", 3.0),
    ("none", 10.0),
)
"""``(filter, boost)``: how the customer's own purchases count against the factors' score."""


@dataclass(frozen=True)
class Trial:
    """One setting tried and its validation MAP@12 (at its best epoch)."""

    alpha: float
    reg: float
    dim: int
    filter: str
    boost: float
    epochs: int
    score: float
    seconds: float

    def label(self) -> str:
        repeat = self.filter if self.filter != "none" else f"boost {self.boost:g}" if self.boost else "no repeat bonus"
        return f"{setting(self.alpha, self.reg, self.dim)}, {self.epochs} epochs, {repeat}"


def setting(alpha: float, reg: float, dim: int) -> str:
    """How a trial's penalty and size are written, in its label and in the list of skipped ones."""
    return f"alpha {alpha:g}, reg {reg:g}, {dim} factors"


@dataclass
class Choice:
    """Every trial in the order run, the one chosen, and what the trials were fitted on."""

    trials: list[Trial] = field(default_factory=list)
    customers: int = 0
    """Customers in the trials' fits (all of the history's, or the sample)."""
    share: float = 1.0
    """The share of the history's weighted pairs those customers hold."""
    validation_buyers: int = 0
    skipped: list[str] = field(default_factory=list)
    """Trials left out because they would have ended past the time budget."""

    @property
    def chosen(self) -> Trial:
        return max(self.trials, key=lambda t: t.score)  # max keeps the first of equals

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as a saved model stores them."""
        return {
            "trials": [asdict(t) for t in self.trials],
            "customers": self.customers,
            "share": self.share,
            "validation_buyers": self.validation_buyers,
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Choice:
        return cls(
            [Trial(**t) for t in values["trials"]],
            int(values["customers"]),
            float(values["share"]),
            int(values["validation_buyers"]),
            list(values.get("skipped", [])),
        )
