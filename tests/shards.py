"""An engine for tests that splits as Ray does, in this process: each part of the customers
(``customer % 3``) built from its own customers' rows only, handed over out of customer order,
and the week's partial-aggregate tables from the three shards' counts, summed and finished in
two splits of their keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import polars as pl

from hmrec.data.partial import Partial
from hmrec.data.week import WeekInput
from hmrec.engine import LocalEngine
from hmrec.engine.base import OnPart, Work
from hmrec.schema import Col

SHARDS = (2, 0, 1)
SPLITS = 2


def shard_rows(rows: pl.LazyFrame, shard: int) -> pl.LazyFrame:
    return rows.filter(pl.col(Col.CUSTOMER) % len(SHARDS) == shard)


@dataclass
class Shards(LocalEngine):
    """See the module; ``handed`` names the work of each part handed over, ``aggregated`` counts
    the tables built."""

    name: str = "shards"
    handed: list[str] = field(default_factory=list)
    aggregated: int = 0

    def map(
        self, week: WeekInput, customers: pl.Series, work: Work, on_part: OnPart | None = None
    ) -> list[pl.DataFrame]:
        """One part per shard, in ``SHARDS`` order (``each`` hands them over one at a time)."""
        parts = []
        for s in SHARDS:
            self.handed.append(type(work).__name__)
            own = replace(week, history=shard_rows(week.history, s))
            parts.append(work(own, customers.filter(customers % len(SHARDS) == s), None))
        return parts

    def aggregate(self, week: WeekInput, partial: Partial) -> pl.DataFrame:
        self.aggregated += 1
        return in_splits(week, partial, [shard_rows(week.history, s) for s in SHARDS], SPLITS)


def in_splits(data: WeekInput, partial: Partial, rows: Sequence[pl.LazyFrame], n: int) -> pl.DataFrame:
    """``partial``'s table as the Ray engine builds it (``RayEngine.aggregate``), in this process:
    the parts of each of ``rows`` (each a set of customers' rows, before ``data``'s cutoff or
    later), split in ``n`` by key, each split combined and finished alone, then merged."""
    parts = [partial.split(partial.parts_of(data.for_part(r)), n) for r in rows]
    return partial.merged([partial.finished(data, [p[i] for p in parts]) for i in range(n)])
