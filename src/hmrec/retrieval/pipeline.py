"""Running the sources on a split and measuring them: what ``hmrec candidates`` prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from hmrec.data.atomic import write_folder_atomic
from hmrec.data.split import LABEL_DAYS, label_rows, purchases
from hmrec.data.split import buyers as week_buyers
from hmrec.data.week import WeekInput
from hmrec.engine import Engine, LocalEngine
from hmrec.retrieval.base import CandidateSource
from hmrec.retrieval.bought_together import BoughtTogetherSource
from hmrec.retrieval.covisit import CoVisitSource
from hmrec.retrieval.cut import Cut, band_counts, fit_counts
from hmrec.retrieval.measure import CandidateQuality, measure
from hmrec.retrieval.mf import MFSource
from hmrec.retrieval.popular import AgePopularSource, PopularSource, PostalPopularSource, TrendingSource
from hmrec.retrieval.repurchase import RepurchaseSource
from hmrec.retrieval.same_product import SameProductSource
from hmrec.retrieval.taste import TasteSource
from hmrec.retrieval.union import rank_column, union
from hmrec.schema import Col

SOURCES: dict[str, Callable[[int], CandidateSource]] = {
    "repurchase": lambda n: RepurchaseSource(n=n),
    "same_product": lambda n: SameProductSource(n=n),
    "bought_together": lambda n: BoughtTogetherSource(n=n),
    "covisit": lambda n: CoVisitSource(n=n),
    "mf": lambda n: MFSource(n=n),
    "popular_taste": lambda n: TasteSource(n=n),
    "popular_age": lambda n: AgePopularSource(n=n),
    "popular_postal": lambda n: PostalPopularSource(n=n),
    "popular": lambda n: PopularSource(n=n),
    "trending": lambda n: TrendingSource(n=n),
}
"""Every source by name, built for ``n`` candidates per customer, in the union's priority order:
the customer's own history first (the strongest signal), then the lists shared by many."""


@dataclass(frozen=True)
class SourceRun:
    """A source's candidates (collected) and the seconds it took."""

    name: str
    candidates: pl.DataFrame
    seconds: float


def run_sources(
    data: WeekInput, names: Sequence[str], n: int, on_done: Callable[[str], None] | None = None
) -> list[SourceRun]:
    """Collect each named source's ``n`` candidates per customer, timing each.

    Runs come back in ``SOURCES`` order, the union's priority, whatever the order of ``names``.
    """
    runs = []
    for name in sorted(names, key=lambda s: list(SOURCES).index(s) if s in SOURCES else -1):
        if name not in SOURCES:
            raise ValueError(f"unknown candidate source {name!r}; choose from {', '.join(SOURCES)}")
        start = time.perf_counter()
        frame = SOURCES[name](n).candidates(data).collect()
        runs.append(SourceRun(name, frame, time.perf_counter() - start))
        if on_done:
            on_done(name)
    return runs


SOURCE, SECONDS = "__source", "__seconds"


@dataclass(frozen=True)
class SourcesWork:
    """``run_sources`` on some customers of a week with its global state (an engine's work): the
    runs as one frame, rows tagged with their source, plus one row per source (no customer)
    holding the seconds it took."""

    names: tuple[str, ...]
    n: int

    def __call__(self, week: WeekInput, customers: pl.Series, on_chunk: object = None) -> pl.DataFrame:
        runs = run_sources(week.chunk(customers), self.names, self.n)
        timings = pl.DataFrame({SOURCE: [r.name for r in runs], SECONDS: [r.seconds for r in runs]})
        tagged = [r.candidates.with_columns(pl.lit(r.name).alias(SOURCE)) for r in runs]
        return pl.concat([*tagged, timings], how="diagonal_relaxed")


def run_sources_on(engine: Engine, data: WeekInput, names: Sequence[str], n: int) -> list[SourceRun]:
    """``run_sources`` for the customers of ``data``, the per-customer part on ``engine``: each
    source's global tables first (on no customers), then its candidates part by part. A run's
    seconds add its global part and every part's (CPU seconds when parts run at once)."""
    customers = data.customers.select(Col.CUSTOMER).unique().sort(Col.CUSTOMER).collect()[Col.CUSTOMER]
    week = replace(data, customers=data.customers.clear())
    warm = {r.name: r.seconds for r in run_sources(week, names, n)}
    frame = pl.concat(engine.map(week, customers, SourcesWork(tuple(names), n)))
    spent = frame.filter(pl.col(Col.CUSTOMER).is_null()).group_by(SOURCE).agg(pl.col(SECONDS).sum())
    seconds = dict(zip(spent[SOURCE], spent[SECONDS], strict=True))
    rows = frame.filter(pl.col(Col.CUSTOMER).is_not_null()).drop(SECONDS)
    return [
        SourceRun(
            name,
            rows.filter(pl.col(SOURCE) == name).drop(SOURCE).sort(Col.CUSTOMER, Col.RANK),
            warm[name] + seconds.get(name, 0.0),
        )
        for name in warm
    ]


def read_candidates(out_dir: Path) -> pl.LazyFrame:
    """The candidates ``write_candidates`` wrote to ``out_dir``, its parts in order."""
    return pl.scan_parquet(sorted(out_dir.glob("part-*.parquet")), glob=False)


def write_candidates(
    data: WeekInput,
    names: Sequence[str],
    n: int,
    cap: int,
    out_dir: Path,
    chunk_size: int = 250_000,
    on_chunk: Callable[[int, int], None] | None = None,
) -> Path:
    """The union of the named sources for every customer of ``data``, in customer chunks.

    Each chunk's union is written to ``out_dir/part-NNNNN.parquet`` (read them back with
    ``read_candidates``); memory is bounded by the chunk, not by all customers.
    The folder is written under a temporary name and renamed when complete.
    """
    customers = data.customers.select(Col.CUSTOMER).unique().sort(Col.CUSTOMER).collect()[Col.CUSTOMER]
    chunks = range(0, max(len(customers), 1), chunk_size)

    def write(tmp: Path) -> None:
        for i, lo in enumerate(chunks):
            part = replace(data, customers=pl.LazyFrame({Col.CUSTOMER: customers.slice(lo, chunk_size)}))
            runs = run_sources(part, names, n)
            union_of(runs, cap).sink_parquet(tmp / f"part-{i:05d}.parquet")
            if on_chunk:
                on_chunk(i + 1, len(chunks))

    return write_folder_atomic(out_dir, write)


def at_most(frame: pl.DataFrame, n: int) -> pl.DataFrame:
    """A source's candidates cut to its ``n`` best per customer."""
    return frame.filter(pl.col(Col.RANK) <= n)


def union_of(runs: Sequence[SourceRun], cap: int, cut: Cut | None = None) -> pl.LazyFrame:
    """The union of the runs' candidates (in the runs' priority order), capped at ``cap`` per
    customer (by the ``cut``'s order when given)."""
    return union({r.name: r.candidates.lazy() for r in runs}, cap, cut)


CUT_LABEL = "label"
POOL_KEY = "cut_pool"
"""The first part of the key of a week's ``pool_week`` counts in its global state."""
POOL_CHUNK = 5_000
"""Buyers whose pool is built at once (the cut's counts are sums over customers): at full size
20,000 at once held 1.26 GB more on the driver."""


@dataclass(frozen=True)
class PoolWork:
    """An engine's work for a ``pool_week``: the ``band_counts`` of some of its buyers' pools
    (every source at ``per_source``, labelled by ``bought``), built ``POOL_CHUNK`` buyers at a
    time. Counts of customers: any split of the buyers adds up to the same counts."""

    names: tuple[str, ...]
    per_source: int
    bought: pl.DataFrame

    def __call__(self, week: WeekInput, customers: pl.Series, on_chunk: object = None) -> pl.DataFrame:
        ranks = {s: rank_column(s) for s in self.names}
        parts = []
        theirs = week.chunk(customers)  # the buyers' rows, read once
        for first in range(0, max(customers.len(), 1), POOL_CHUNK):
            runs = run_sources(theirs.chunk(customers.slice(first, POOL_CHUNK)), self.names, self.per_source)
            pool = union_of(runs, self.per_source * len(runs)).collect()
            labelled = pool.join(self.bought, on=[Col.CUSTOMER, Col.ARTICLE], how="left")
            labelled = labelled.with_columns(pl.col(CUT_LABEL).fill_null(0))
            parts.append(band_counts(labelled, self.names, ranks, CUT_LABEL))
        return _summed(parts, self.names)


def _summed(counts: Sequence[pl.DataFrame], names: tuple[str, ...]) -> pl.DataFrame:
    return pl.concat(counts).group_by(list(names)).agg(pl.col("n").sum(), pl.col("y").sum())


def pool_week(data: WeekInput, start: date, names: tuple[str, ...], per_source: int, buyers: int) -> pl.DataFrame:
    """The week from ``start`` (before ``data``'s cutoff) as the cut learns from it: a seeded sample
    of at most ``buyers`` of its buyers, their whole pool (every source at ``per_source``) from the
    rows before ``start``, and ``label`` 1 where they bought the article in the week; as
    ``band_counts`` (built on the week's engine: on Ray in a task per shard of the buyers, whose
    counts are summed here). Kept in the global state of the week's end (it reads nothing
    later), and the sources' tables at ``start`` in that cutoff's state: the cuts of several
    cutoffs and the labelled weeks of the same shop share them (``WeekInput.states``)."""

    def build() -> pl.DataFrame:
        truth = purchases(label_rows(data.past(), start)).collect()
        who = week_buyers(truth)
        if who.len() > buyers:
            who = who.sample(buyers, seed=0).sort()
        earlier = data.earlier(start, who.clear())
        run_sources(earlier, names, per_source)  # the sources' tables at ``start``, once
        bought = truth.select(Col.CUSTOMER, Col.ARTICLE).unique().with_columns(pl.lit(1, pl.UInt8).alias(CUT_LABEL))
        engine = data.engine or LocalEngine()
        return _summed(engine.map(earlier, who, PoolWork(names, per_source, bought)), names)

    key = (POOL_KEY, start, names, per_source, buyers)
    return data.state_at(start + timedelta(days=LABEL_DAYS)).get(key, build).collect()


def learned_cut(data: WeekInput, names: Sequence[str], per_source: int, buyers: int, weeks: int) -> Cut | None:
    """The cut of ``data``'s cutoff (a global table: fitted once per week on the ``pool_week`` of
    each of the ``weeks`` weeks before it, pooled: a shared list's rank holds one article a week,
    so one week alone says more about that article than about the rank); None when those weeks
    hold no bought candidate (the union keeps its fixed order then)."""
    ordered = tuple(s for s in SOURCES if s in names)

    def fit() -> Cut | None:
        starts = [data.cutoff - timedelta(days=LABEL_DAYS * k) for k in range(1, weeks + 1)]
        counts = pl.concat([pool_week(data, start, ordered, per_source, buyers) for start in starts])
        return fit_counts(counts, ordered)

    return data.global_table(("learned_cut", ordered, per_source, buyers, weeks), fit)


def union_at(runs: list[SourceRun], n: int, cut: Cut | None = None, cap: int | None = None) -> pl.DataFrame:
    """The union of the sources, each cut to ``n``, capped at ``cap`` (default ``n``) per customer
    (by the ``cut``'s order when given)."""
    return union_of([replace(r, candidates=at_most(r.candidates, n)) for r in runs], cap or n, cut).collect()


@dataclass(frozen=True)
class QualityRow:
    """One row of the candidate quality table: a source (or the union, cut, pool), how good its
    candidates are for the week's buyers, and the seconds it took."""

    name: str
    quality: CandidateQuality
    seconds: float


POOL, CUT = "pool", "cut"


def quality_table(runs: list[SourceRun], truth: pl.DataFrame, n: int, cut: Cut | None = None) -> list[QualityRow]:
    """Each source at ``n`` per customer, then the union capped at ``n`` in the fixed order, with
    a ``cut`` the union capped at ``n`` by it, and the ``pool`` (every source's ``n``, uncapped)."""
    rows = [QualityRow(r.name, measure(at_most(r.candidates, n), truth), r.seconds) for r in runs]
    spent = sum(r.seconds for r in runs)
    unions = [("union", None, n)] + ([(CUT, cut, n), (POOL, None, n * len(runs))] if cut is not None else [])
    for name, order, cap in unions:
        start = time.perf_counter()
        merged = union_at(runs, n, order, cap)
        rows.append(QualityRow(name, measure(merged, truth), time.perf_counter() - start + spent))
    return rows


def quality_tables(
    runs: list[SourceRun], truth: pl.DataFrame, sizes: Sequence[int], cut: Cut | None = None
) -> dict[int, list[QualityRow]]:
    """``quality_table`` at each size (``runs`` hold at least the largest size per source)."""
    return {size: quality_table(runs, truth, size, cut) for size in sizes}


def recall_curve(tables: dict[int, list[QualityRow]]) -> dict[str, list[float]]:
    """Recall of each source and of the union, one value per size of ``tables`` (from
    ``quality_table`` at each size), in the order of the sizes."""
    sizes = list(tables)
    names = [row.name for row in tables[sizes[0]]]
    return {name: [tables[size][i].quality.recall for size in sizes] for i, name in enumerate(names)}
