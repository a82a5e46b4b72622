"""The customer's own recent articles, by time-decayed count."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmrec.data.week import WeekInput
from hmrec.recommenders.baselines import decayed_counts
from hmrec.retrieval.base import ranked
from hmrec.schema import Col


@dataclass(frozen=True)
class RepurchaseSource:
    """Articles the customer bought in the last ``weeks`` weeks; each unit ``exp(-decay * days)``."""

    n: int = 50
    weeks: int = 26
    decay: float = 0.03
    name: str = "repurchase"

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        scored = decayed_counts(data.history, data.cutoff, self.weeks, self.decay)
        return ranked(scored.join(data.customers, on=Col.CUSTOMER, how="semi"), self.n)
