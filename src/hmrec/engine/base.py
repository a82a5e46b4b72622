"""Engines run the per-customer work of a week (docs/architecture.md, "Engines"): ``local``, in this process;
``ray``, as Ray tasks over shards of customers, each reading only its shard's rows, with the
week's global state put once in Ray's object store. Both give the same frames; the engine is a
deployment choice, never a model choice.

A piece of work is ``work(week, customers, on_chunk)``: ``week`` is a week with its global state
computed (``ranking.data.Tables.week``) whose history may hold only some customers' rows,
``customers`` the customers to serve, ``on_chunk(done, total)`` an optional progress callback.
It returns a frame; the engine returns the frames of all its parts, in shard order (``map``), or
hands them over one at a time (``each``: a large result never held whole).

An engine also builds a week's partial-aggregate tables (``aggregate``, ``data/partial.py``):
locally in one pass, on Ray from each shard's counts, summed and finished in tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from hmrec.data.partial import Partial, one_pass
from hmrec.data.week import WeekInput

OnPart = Callable[[int, int], None]
"""Told of parts done: ``on_part(done, total)``."""
Work = Callable[[WeekInput, pl.Series, OnPart | None], pl.DataFrame]
ENGINES = ("local", "ray")
RAY_INSTALL = "pip install 'hmrec[ray]'"


class EngineError(RuntimeError):
    """The engine could not run the work (Ray missing, a shard that failed twice)."""


class Engine(Protocol):
    """What runs a week's per-customer work: ``map`` gives ``work`` the week and (a part of) the
    customers and returns the frames of all parts, in part order; used in a ``with`` block."""

    name: str

    def map(
        self, week: WeekInput, customers: pl.Series, work: Work, on_part: OnPart | None = None
    ) -> list[pl.DataFrame]: ...

    def each(
        self, week: WeekInput, customers: pl.Series, work: Work, on_part: OnPart | None = None
    ) -> Iterator[pl.DataFrame]:
        """``map``'s frames one at a time, in part order: each is read when it is asked for, and
        none is kept once the next is (parts of different customers)."""
        ...

    def aggregate(self, week: WeekInput, partial: Partial) -> pl.DataFrame:
        """``partial``'s table of ``week`` (``WeekInput.partial_table``), the one-pass table."""
        ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass
class LocalEngine:
    """All customers in this process; ``work`` chunks them itself."""

    name: str = "local"

    def map(
        self, week: WeekInput, customers: pl.Series, work: Work, on_part: OnPart | None = None
    ) -> list[pl.DataFrame]:
        return [work(week, customers, on_part)]

    def each(
        self, week: WeekInput, customers: pl.Series, work: Work, on_part: OnPart | None = None
    ) -> Iterator[pl.DataFrame]:
        yield from self.map(week, customers, work, on_part)

    def aggregate(self, week: WeekInput, partial: Partial) -> pl.DataFrame:
        return one_pass(week, partial)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
