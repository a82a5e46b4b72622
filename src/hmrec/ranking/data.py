"""The ranker's rows: each customer's candidates with their features, labelled by one week.

A week's frame is the union of the candidate sources for some customers, every feature block
joined on (all computed from the history before the week's cutoff), and, for training weeks,
a ``label``: 1 when the customer bought the article in the 7 days from the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import polars as pl

from hmrec.data.split import buyers as week_buyers
from hmrec.data.split import label_rows, purchases
from hmrec.data.week import Shared, WeekInput
from hmrec.engine import Engine, LocalEngine
from hmrec.features.article import buyer_days
from hmrec.features.blocks import FEATURE_BLOCKS, check_blocks
from hmrec.features.embedding import ArticleFactors
from hmrec.features.join import join_features
from hmrec.features.lookup import packed
from hmrec.ranking.config import in_range
from hmrec.retrieval.pipeline import POOL_KEY, SOURCES, learned_cut, run_sources, union_of
from hmrec.schema import INDEX_DTYPE, Col

LABEL = "label"
RULE_SOURCES = ("repurchase", "same_product", "bought_together", "popular_taste", "popular_age", "popular", "trending")
"""The ranker's default sources: cheap rules (``mf`` can be added; it trains a model per week;
``covisit`` and ``popular_postal`` are optional). ``popular_taste`` is one since the matrix of
pools of 100 (docs/accuracy.md, "Taste-matched popularity")."""


@dataclass(frozen=True)
class CandidateConfig:
    """Which sources propose candidates, how many each, and how many a customer keeps; with
    ``embedding``, the MF features (``features/embedding.py``: an ALS model per cutoff) are
    joined on as well."""

    sources: tuple[str, ...] = RULE_SOURCES
    per_source: int = 100
    cap: int = 100
    """100 per source and per customer, with ``RankerConfig.train_negatives`` 50: the accuracy
    matrix's choice over 50 (docs/accuracy.md, "Pools of 100")."""
    embedding: bool = False
    cut: bool = True
    """Keep each customer's ``cap`` best of the pool by the learned cut (``retrieval/cut.py``);
    False: by the sources' fixed order (docs/accuracy.md has the matrix that chose the cut)."""
    cut_buyers: int = 20_000
    """How many buyers of each week the cut learns from."""
    cut_weeks: int = 3
    """How many weeks before the cutoff the cut learns from."""
    units: bool = False
    """Join the ``u_`` block (``features/pair.py``: the customer's share of units with each
    categorical value of the candidate over 1, 4 and 12 weeks)."""

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("the ranker needs at least one candidate source")
        if not all(isinstance(name, str) for name in self.sources):
            raise ValueError(f"sources must be names of candidate sources, got {list(self.sources)!r}")
        unknown = [name for name in self.sources if name not in SOURCES]
        if unknown:
            raise ValueError(f"unknown candidate source(s) {', '.join(unknown)}; choose from {', '.join(SOURCES)}")
        in_range("candidates per source (per_source)", self.per_source, 1, 10_000)
        in_range("candidates per customer (cap)", self.cap, 1, 10_000)
        in_range("buyers the cut learns from (cut_buyers)", self.cut_buyers, 1, 10_000_000)
        in_range("weeks the cut learns from (cut_weeks)", self.cut_weeks, 1, 52)


def feature_columns(columns: Iterable[str], drop_blocks: Sequence[str] = ()) -> list[str]:
    """The columns of ``columns`` that belong to a feature block not in ``drop_blocks``, in order."""
    check_blocks(drop_blocks)
    kept = [owns for name, owns in FEATURE_BLOCKS.items() if name not in drop_blocks]
    return [c for c in columns if any(owns(c) for owns in kept)]


FACTOR_WEEKS = 8
"""The MF features' article factors are fitted from scratch at one cutoff in every 8 weeks, and
at each other cutoff warm-started from that one's (``factor_anchor``)."""
FACTORS_KEY = ArticleFactors.__qualname__
_EPOCH = date(1970, 1, 1)


def factor_anchor(cutoff: date) -> date:
    """The cutoff whose cold fit ``cutoff``'s MF features start from: the first of its block of
    ``FACTOR_WEEKS`` weeks on a calendar grid (never after ``cutoff``), so that each cutoff's
    factors are the same whichever week is computed first."""
    return cutoff - timedelta(days=7 * (((cutoff - _EPOCH).days // 7) % FACTOR_WEEKS))


def article_factors(data: WeekInput) -> ArticleFactors:
    """The week's MF feature model (a global table), on all customers' rows before the cutoff:
    a cold fit at the cutoff's anchor (``factor_anchor``), warm-started from the anchor's
    factors elsewhere (kept in the anchor's global state, ``WeekInput.states``)."""
    anchor = factor_anchor(data.cutoff)

    def fit() -> ArticleFactors:
        if anchor == data.cutoff:
            return ArticleFactors.fit(data.history, data.cutoff)
        return ArticleFactors.fit(data.history, data.cutoff, start=article_factors(data.earlier(anchor)))

    return data.global_table((FACTORS_KEY,), fit)


def candidate_features(data: WeekInput, config: CandidateConfig) -> pl.DataFrame:
    """``customer, article``, the union's score/rank columns and every feature, for the customers
    of ``data`` (at most ``config.cap`` rows each; customers without candidates have none),
    sorted by customer and article: the same input gives the same rows in the same order.
    With ``config.embedding``, the ``m_`` columns too (``article_factors``)."""
    cut = (
        learned_cut(data, config.sources, config.per_source, config.cut_buyers, config.cut_weeks)
        if config.cut
        else None
    )
    merged = union_of(run_sources(data, config.sources, config.per_source), config.cap, cut)
    frame = join_features(merged, data, config.units)
    return frame.with_columns(article_factors(data).features(data, frame)) if config.embedding else frame


@dataclass(frozen=True)
class LabelWork:
    """An engine's work for a labelled week: ``candidate_features`` for some of its buyers,
    labelled by ``truth`` (``customer, article`` bought in the week), customers without a bought
    candidate dropped and, with ``negatives``, each one's not-bought candidates sampled
    (``sample_negatives``). Every step is per customer, so the parts of any split of the buyers,
    put together and sorted, are the rows of the whole week; on Ray only those rows come back."""

    config: CandidateConfig
    truth: pl.DataFrame
    negatives: int | None = None
    seed: int = 0

    def __call__(self, week: WeekInput, customers: pl.Series, on_chunk: object = None) -> pl.DataFrame:
        frame = candidate_features(week.chunk(customers), self.config)
        labelled = groups_with_a_positive(with_labels(frame, self.truth))
        return sample_negatives(labelled, self.negatives, self.seed)


def with_labels(frame: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``label`` (UInt8), row for row in its order: 1 where ``truth`` (``customer,
    article`` bought) holds the pair."""
    pair = packed([Col.CUSTOMER, Col.ARTICLE])
    bought = truth.select(pair).to_series().unique()
    return frame.with_columns(pair.is_in(bought.implode()).cast(pl.UInt8).alias(LABEL))


def groups_with_a_positive(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of the customers of a labelled frame with at least one bought candidate, in the
    frame's order (a ranker learns nothing from a group of negatives only)."""
    return frame.filter(pl.col(LABEL).max().over(Col.CUSTOMER) == 1)


def sample_negatives(frame: pl.DataFrame, most: int | None, seed: int = 0) -> pl.DataFrame:
    """The rows of a labelled frame, in its order, with each customer's not-bought candidates cut
    to at most ``most`` (chosen by a seeded hash of the pair, so the same rows whatever the
    frame's order); every bought one kept. ``None`` keeps everything."""
    if most is None or frame.is_empty():
        return frame
    draw = packed([Col.CUSTOMER, Col.ARTICLE]).hash(seed)
    order = draw.rank("ordinal").over(Col.CUSTOMER, LABEL)
    return frame.filter((pl.col(LABEL) == 1) | (order <= most))


def training_cutoffs(cutoff: date, weeks: int) -> list[date]:
    """The cutoffs of the ``weeks`` full weeks before ``cutoff``, newest first."""
    if weeks < 1:
        raise ValueError(f"need at least one training week, got {weeks}")
    return [cutoff - timedelta(days=7 * k) for k in range(1, weeks + 1)]


@dataclass(frozen=True)
class Tables:
    """The prepared catalogue tables every week's input shares, and each cutoff's global state
    (``Shared``: article statistics, co-occurrence, popular lists, the MF feature model), kept
    from the first week that computed it. One ``Tables`` serves one shop (like a ``WeekCache``):
    a cutoff's state depends only on the shop's rows before that cutoff."""

    articles: pl.LazyFrame
    customers: pl.LazyFrame
    states: dict[date, Shared] = field(default_factory=dict, compare=False, repr=False)

    def week(
        self, transactions: pl.LazyFrame, cutoff: date, config: CandidateConfig, engine: Engine | None = None
    ) -> WeekInput:
        """The week at ``cutoff`` (only rows before it are ever read) with every global table
        ``config`` reads computed (from a run on no customers; the partial-aggregate ones by
        ``engine``, shard by shard on Ray); serve customers with ``WeekInput.chunk``."""
        data = self._at(transactions, cutoff, engine)
        candidate_features(data, config)
        return data

    def prime(self, transactions: pl.LazyFrame, cutoff: date, engine: Engine | None = None) -> None:
        """Compute at ``cutoff`` the global tables that also serve every earlier cutoff of the shop
        (``features/article.buyer_days``: each earlier week reads only its days before its own
        cutoff), so that the labelled weeks before ``cutoff`` read them instead of each computing
        its own. Only rows before ``cutoff`` are read."""
        buyer_days(self._at(transactions, cutoff, engine))

    def _at(self, transactions: pl.LazyFrame, cutoff: date, engine: Engine | None) -> WeekInput:
        nobody = pl.Series(Col.CUSTOMER, [], dtype=INDEX_DTYPE)
        data = WeekInput.before(transactions, cutoff, nobody, self.articles, self.customers)
        return replace(data, shared=self.states.setdefault(cutoff, Shared()), states=self.states, engine=engine)

    def release(self, cutoff: date) -> None:
        """Drop ``cutoff``'s tables that only other global tables read (``Shared.local``: the buyer
        table ``prime`` computed), once its week's global state is computed: the ranking of its
        customers never reads them (at full size 250 MB less while it runs); a later fit at an
        earlier cutoff computes its own."""
        state = self.states.get(cutoff)
        if state is not None:
            for key in list(state.local):
                del state.values[key]
            state.local.clear()

    def forget(self, before: date) -> None:
        """Drop the global state of every cutoff before ``before`` (memory; a later week at one
        recomputes it), all but the learned cut's small per-week counts (``pool_week``), which
        the cut of a later cutoff reads again, and the MF features' article factors, which a
        later cutoff's fit starts from (``article_factors``)."""
        for cutoff in [c for c in self.states if c < before]:
            kept = {k: v for k, v in self.states[cutoff].values.items() if k[0] in (POOL_KEY, FACTORS_KEY)}
            self.states[cutoff] = Shared(kept)


def labelled_parts(
    transactions: pl.LazyFrame,
    cutoff: date,
    tables: Tables,
    config: CandidateConfig,
    max_buyers: int | None = None,
    seed: int = 0,
    engine: Engine | None = None,
    negatives: int | None = None,
) -> Iterator[pl.DataFrame]:
    """``labelled_week``'s rows a part of its buyers at a time (the engine's parts, each of other
    customers and sorted by customer and article; in shard order, so not sorted across parts),
    each handed over before the next is read: the whole week is never one frame. Nothing for a
    week without buyers."""
    truth = purchases(label_rows(transactions, cutoff)).collect()
    buyers = week_buyers(truth)
    if buyers.is_empty():
        return
    if max_buyers is not None and buyers.len() > max_buyers:
        buyers = buyers.sample(max_buyers, seed=seed).sort()
    week = tables.week(transactions, cutoff, config, engine)
    work = LabelWork(config, truth.select(Col.CUSTOMER, Col.ARTICLE), negatives, seed)
    with closing((engine or LocalEngine()).each(week, buyers, work)) as parts:
        yield from parts


def labelled_week(
    transactions: pl.LazyFrame,
    cutoff: date,
    tables: Tables,
    config: CandidateConfig,
    max_buyers: int | None = None,
    seed: int = 0,
    engine: Engine | None = None,
    negatives: int | None = None,
) -> pl.DataFrame:
    """Training rows for the week from ``cutoff``: its buyers' candidates (features from the rows
    before ``cutoff`` only), labelled by the week's purchases, groups without a positive dropped,
    sorted by customer and article.

    With ``max_buyers``, a seeded sample of that many of the week's buyers (bounds time and memory
    on large shops; each customer keeps all their candidates); with ``negatives``, each buyer's
    not-bought candidates sampled to that many where they are built (``sample_negatives``, seeded
    by ``seed``), so the whole week is never held. ``engine`` builds the buyers' rows (default: in
    this process)."""
    parts = list(labelled_parts(transactions, cutoff, tables, config, max_buyers, seed, engine, negatives))
    if not parts:
        return pl.DataFrame()
    frame = pl.concat([p for p in parts if p.height] or parts[:1])
    if not frame.select(packed([Col.CUSTOMER, Col.ARTICLE])).to_series().is_sorted():  # parts out of order
        frame = frame.sort(Col.CUSTOMER, Col.ARTICLE)
    return frame


class WeekCache:
    """Labelled weeks kept in memory under a key naming everything they depend on, so that
    several rankers trained on the same weeks (the ablation) build each week once; and the
    shop's ``Tables``, so that they share each cutoff's global state too (a fit at an earlier
    cutoff, as the accuracy matrix's next holdout week, finds the learned cut's pool weeks
    computed). One cache serves one shop."""

    def __init__(self) -> None:
        self._weeks: dict[Hashable, pl.DataFrame] = {}
        self._tables: Tables | None = None

    def tables(self, articles: pl.LazyFrame, customers: pl.LazyFrame) -> Tables:
        """The ``Tables`` every fit through this cache shares (made from the first fit's tables)."""
        if self._tables is None:
            self._tables = Tables(articles, customers)
        return self._tables

    def get(self, key: Hashable, build: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """The frame stored under ``key``, built by ``build()`` the first time."""
        if key not in self._weeks:
            self._weeks[key] = build()
        return self._weeks[key]
