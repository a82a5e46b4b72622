"""Global tables from partial aggregates: each set of customers' rows gives its counts, the
counts add up, and the table is finished from their sums.

A table that is a function of counts over rows (units by article, first buyers by article and
day, pairs bought together, units by cohort and article) is declared as a :class:`Partial`:
``part`` computes the counts from the rows of some customers, ``combine`` adds the parts up
(integer columns only, so the sums are exact whatever the split), and ``finish`` turns the sums
into the table. Each key's sums depend on no other key's, so the finish may run on any split of
the keys (``by``): the Ray engine finishes each split in its own task, and the driver receives
only the finished table. The contract (``tests/test_partial.py``, through ``tests/shards.py``'s
in-process copy of the Ray engine's steps): the parts of any split of the customers, combined
and finished over any split of the keys, give the one pass's table, frame-equal.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from hmrec.data.week import WeekInput


class PartialError(TypeError):
    """A part whose columns cannot be added up exactly."""


@dataclass(frozen=True)
class Partial:
    """A global table (under ``key``) built from the counts of disjoint sets of customers.

    ``part(data)``: the counts of ``data``'s rows (``data.past()``, ``data.recent()``; every
    customer's rows whole), one row per value of ``keys``, every other column an integer;
    it may read the catalogue tables, never another global table. ``finish(data, sums)``: the
    table from the summed counts (lazy; of the week's global tables it may read those of
    ``needs`` only, built before it); each output row must depend only on the sums of its own
    ``by`` value. The finished table is sorted by ``sort_by`` (``descending`` per column), which
    must identify a row."""

    key: Hashable
    part: Callable[[WeekInput], pl.LazyFrame]
    keys: tuple[str, ...]
    finish: Callable[[WeekInput, pl.LazyFrame], pl.LazyFrame] | None = None
    sort_by: tuple[str, ...] = ()
    descending: tuple[bool, ...] = ()
    needs: tuple[Partial, ...] = ()

    @property
    def by(self) -> str:
        """The key column the finish may be split on (the first key: an integer id)."""
        return self.keys[0]

    def parts_of(self, data: WeekInput) -> pl.DataFrame:
        """``part`` of ``data``'s rows, checked: keys present and every other column an integer."""
        frame = self.part(data).collect()
        missing = [k for k in self.keys if k not in frame.columns]
        inexact = [c for c, t in frame.schema.items() if c not in self.keys and not t.is_integer()]
        if missing or inexact:
            raise PartialError(
                f"the parts of {self.key!r} must hold the keys {list(self.keys)} and integer counts; "
                f"missing {missing}, not integers {inexact}"
            )
        return frame

    def combine(self, parts: Sequence[pl.DataFrame]) -> pl.LazyFrame:
        """The parts' counts added up per key (in each column's own type)."""
        schema = parts[0].schema
        sums = [pl.col(c).sum().cast(t) for c, t in schema.items() if c not in self.keys]
        return pl.concat([p.lazy() for p in parts]).group_by(list(self.keys)).agg(sums)

    def finished(self, data: WeekInput, parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
        """The table of the summed ``parts`` (all keys, or the keys of one split), sorted."""
        sums = self.combine(parts)
        table = sums if self.finish is None else self.finish(data, sums)
        return self.sorted(table.collect())

    def sorted(self, table: pl.DataFrame) -> pl.DataFrame:
        by = list(self.sort_by or self.keys)
        return table.sort(by, descending=list(self.descending) or False)

    def split(self, parts: pl.DataFrame, n: int) -> list[pl.DataFrame]:
        """``parts`` in ``n`` splits of the keys (``by`` modulo ``n``)."""
        which = pl.col(self.by).cast(pl.Int64) % n
        return [parts.filter(which == i) for i in range(n)]

    def merged(self, splits: Sequence[pl.DataFrame]) -> pl.DataFrame:
        """The finished splits as one table, sorted (not copied into one piece before the sort)."""
        return self.sorted(pl.concat(splits, rechunk=False))


def one_pass(data: WeekInput, partial: Partial) -> pl.DataFrame:
    """``partial``'s table from all of ``data``'s rows at once (the local engine); the part, as
    anywhere, reads no global table."""
    return partial.finished(data, [partial.parts_of(data.for_part(data.history))])
