"""The customer's own recent articles, by time-decayed count."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmrec.data.lists import decayed_counts
from hmrec.data.week import WeekInput
from hmrec.retrieval.base import ranked


@dataclass(frozen=True)
class RepurchaseSource:
    """Articles the customer bought in the last ``weeks`` weeks; each unit ``exp(-decay * days)``."""

    n: int = 50
    weeks: int = 26
    decay: float = 0.03
    name: str = "repurchase"

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        return ranked(decayed_counts(data.served(), data.cutoff, self.weeks, self.decay), self.n)
