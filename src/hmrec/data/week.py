"""One week's inputs to the retrieval and feature stages, as lazy frames."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import polars as pl

from hmrec.data.dataset import Dataset
from hmrec.data.partial import Partial, one_pass
from hmrec.data.split import Split, history
from hmrec.schema import INDEX_DTYPE, Col


class NotShared(KeyError):
    """A global table asked for by a chunk of customers whose week had not computed it."""


@dataclass
class Shared:
    """The global state of one week: values that depend only on the history, the cutoff and the
    catalogue (article statistics, co-occurrence tables, popular lists, fitted models), computed
    the first time a source or feature block asks for them and reused by every chunk of served
    customers. Lazy frames are collected when stored; ``values`` holds plain tables and objects,
    so the whole state can be handed to another process (Ray's object store)."""

    values: dict[Hashable, Any] = field(default_factory=dict)
    local: set[Hashable] = field(default_factory=set)
    """Keys of ``values`` that only the computing process reads (tables that other global tables
    are built from, never a chunk): left out of what goes to other processes (``portable``)."""

    def get(self, key: Hashable, build: Callable[[], Any], strict: bool = False, local: bool = False) -> Any:
        """The value under ``key``, built by ``build()`` the first time (a LazyFrame is collected
        and returned lazy). With ``strict``, a missing key raises ``NotShared`` instead; with
        ``local``, the value is kept out of ``portable``."""
        if key not in self.values:
            if strict:
                raise NotShared(f"the global table {key!r} was not computed for this week before it was split")
            value = build()
            self.values[key] = value.collect() if isinstance(value, pl.LazyFrame) else value
            if local:
                self.local.add(key)
        value = self.values[key]
        return value.lazy() if isinstance(value, pl.DataFrame) else value

    def portable(self) -> dict[Hashable, Any]:
        """The values a chunk may read, for another process (a Ray task): all but the ``local``."""
        return {k: v for k, v in self.values.items() if k not in self.local}


@dataclass(frozen=True)
class WeekInput:
    """What a stage reads for one week: the history before ``cutoff``, whom to serve, the catalogue.

    ``customers`` is a frame with one column, ``customer``; ``articles`` and ``customer_table``
    are the prepared tables (``articles.parquet`` and ``customers.parquet``).

    ``shared`` holds the week's global state (see :class:`Shared`): a source or feature block
    asks it for every table computed over all customers' rows (``global_table``), and reads only
    the served customers' rows itself (``served``). A chunk (``chunk``) keeps the week's state
    and only its customers' rows; it may not compute a global table (``strict``).
    """

    history: pl.LazyFrame
    customers: pl.LazyFrame
    cutoff: date
    articles: pl.LazyFrame
    customer_table: pl.LazyFrame
    shared: Shared = field(default_factory=Shared, compare=False, repr=False)
    strict: bool = False
    states: dict[date, Shared] | None = field(default=None, compare=False, repr=False)
    """The global state of the shop's other cutoffs (``Tables.states``), for a global table that
    reads earlier weeks (the learned cut); None: each earlier week's state is computed afresh."""
    engine: Any = field(default=None, compare=False, repr=False)
    """The engine (``hmrec.engine.Engine``) that builds the week's ``Partial`` tables
    (``aggregate``) and the per-customer work of its global tables (the learned cut's pools);
    None: in this process, in one pass."""

    @classmethod
    def before(
        cls,
        transactions: pl.LazyFrame,
        cutoff: date,
        customers: pl.Series | None = None,
        articles: pl.LazyFrame | None = None,
        customer_table: pl.LazyFrame | None = None,
    ) -> WeekInput:
        """The rows of ``transactions`` before ``cutoff`` (no later row is ever read), the given
        customers (default none), the catalogue tables (default empty: for models that read
        only the log)."""
        who = pl.Series(Col.CUSTOMER, [], dtype=INDEX_DTYPE) if customers is None else customers
        return cls(
            history=history(transactions, cutoff),
            customers=pl.LazyFrame({Col.CUSTOMER: who.cast(INDEX_DTYPE)}).unique(),
            cutoff=cutoff,
            articles=pl.LazyFrame({Col.ARTICLE: pl.Series([], dtype=INDEX_DTYPE)}) if articles is None else articles,
            customer_table=pl.LazyFrame({Col.CUSTOMER: pl.Series([], dtype=INDEX_DTYPE)})
            if customer_table is None
            else customer_table,
        )

    @classmethod
    def of(cls, dataset: Dataset, split: Split, customers: pl.Series) -> WeekInput:
        """The split's history and cutoff, the given customers, the dataset's tables."""
        return cls.before(split.history, split.cutoff, customers, dataset.articles(), dataset.customers())

    def global_table(self, key: Hashable, build: Callable[[], Any], local: bool = False) -> Any:
        """The week's value under ``key`` (a name and every setting it depends on), computed by
        ``build()`` once per week, from all customers' rows (``past``, ``recent``); ``local``: read
        by other global tables only, never sent to another process (``Shared.portable``)."""
        return self.shared.get(key, build, self.strict, local)

    def partial_table(self, partial: Partial, local: bool = False) -> pl.LazyFrame:
        """The week's table of ``partial`` (under its key, as ``global_table``): built from the
        counts of its customers' rows, by the week's ``engine`` (shard by shard on Ray) or in one
        pass, the same table either way; the tables its finish reads (``needs``) first."""
        for needed in partial.needs:
            self.partial_table(needed)
        build = one_pass if self.engine is None else self.engine.aggregate
        return self.global_table(partial.key, lambda: build(self, partial), local)

    def for_part(self, rows: pl.LazyFrame) -> WeekInput:
        """This week over ``rows`` (every row of some customers; only those before the cutoff are
        read), for a ``Partial``'s part: no global table may be read or computed from them."""
        return replace(self, history=rows, shared=Shared(), strict=True, states=None, engine=None)

    def earlier(self, cutoff: date, customers: pl.Series | None = None) -> WeekInput:
        """The week at an earlier ``cutoff`` of the same shop: its rows, catalogue, the state of
        that cutoff (``state_at``), the shop's other states and the same ``engine``."""
        week = WeekInput.before(self.past(), cutoff, customers, self.articles, self.customer_table)
        return replace(week, shared=self.state_at(cutoff), states=self.states, engine=self.engine)

    def state_at(self, cutoff: date) -> Shared:
        """The global state of ``cutoff`` (this week's own at its cutoff, another week's from
        ``states``, or a fresh one)."""
        if cutoff == self.cutoff:
            return self.shared
        return Shared() if self.states is None else self.states.setdefault(cutoff, Shared())

    def chunk(self, customers: pl.Series, rows: pl.LazyFrame | None = None) -> WeekInput:
        """The input for ``customers`` only: the week's global state, and their own rows before the
        cutoff (read here, once; ``rows``, when given, are a superset of them, such as the rows of
        a shard). Global tables must have been computed before (see ``strict``)."""
        who = pl.LazyFrame({Col.CUSTOMER: customers.cast(INDEX_DTYPE)}).unique()
        source = self.past() if rows is None else history(rows, self.cutoff)
        own = source.join(who, on=Col.CUSTOMER, how="semi").collect()
        return replace(self, history=own.lazy(), customers=who, strict=True, states=None, engine=None)

    def past(self) -> pl.LazyFrame:
        """History rows before the cutoff (whatever the history was given)."""
        return history(self.history, self.cutoff)

    def served(self) -> pl.LazyFrame:
        """Past rows of the served customers only: filter first, aggregate after."""
        return self.past().join(self.customers, on=Col.CUSTOMER, how="semi")

    def recent(self, weeks: float) -> pl.LazyFrame:
        """History rows of the last ``weeks`` weeks before the cutoff."""
        start = self.cutoff - timedelta(days=round(7 * weeks))
        return self.past().filter(pl.col(Col.DATE) >= start)


def once_per_week(build: Callable[..., pl.LazyFrame]) -> Callable[..., pl.LazyFrame]:
    """Make ``build(data, *settings)`` (or a method ``build(self, data)`` of a frozen dataclass)
    a global table of the week: computed once from all customers' rows, then read by every chunk
    (``WeekInput.global_table``). Only for tables that do not depend on the served customers."""

    @functools.wraps(build)
    def cached(*args: Any) -> pl.LazyFrame:
        data_at = next(i for i, a in enumerate(args) if isinstance(a, WeekInput))
        data = args[data_at]
        settings = args[:data_at] + args[data_at + 1 :]
        key = (build.__module__, build.__qualname__, *settings)
        return data.global_table(key, lambda: build(*args))

    return cached
