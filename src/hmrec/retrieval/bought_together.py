"""Item-to-item co-occurrence: what customers who bought X also bought within a few days."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import polars as pl

from hmrec.data.lists import decayed_counts
from hmrec.data.partial import Partial
from hmrec.data.week import WeekInput
from hmrec.retrieval.base import ranked
from hmrec.schema import INDEX_DTYPE, Col

PAIR = "other"


KEY_BITS = 64
"""A (customer, article, other) triple is packed into one integer of this many bits where its
three ids fit (the customer's bits and twice the article's), else kept as three columns."""


def _counted_pairs(within: pl.LazyFrame, bought: pl.LazyFrame) -> pl.LazyFrame:
    """``article, other, together``: how many customers hold each pair of ``within`` (``customer,
    article, other`` rows, a pair repeated on several days), its ids bounded by ``bought``'s."""
    highest = bought.select(pl.col(Col.CUSTOMER).max(), pl.col(Col.ARTICLE).max()).collect().row(0)
    customer_bits, article_bits = (max(int(v or 0).bit_length(), 1) for v in highest)
    if customer_bits + 2 * article_bits > KEY_BITS:
        return (
            within.select(Col.CUSTOMER, Col.ARTICLE, PAIR).unique().group_by(Col.ARTICLE, PAIR).agg(together=pl.len())
        )
    # one integer per triple, then per pair (its low bits): a unique and a group-by over one
    # column each (the whole table a fifth faster at full size than over three and two)
    pair_of = 1 << (2 * article_bits)
    triple = (
        pl.col(Col.CUSTOMER).cast(pl.UInt64) * pair_of
        + pl.col(Col.ARTICLE).cast(pl.UInt64) * (1 << article_bits)
        + pl.col(PAIR).cast(pl.UInt64)
    )
    return (
        within.select(triple.alias("__key"))
        .unique()
        .group_by(pl.col("__key") % pair_of)
        .agg(together=pl.len())
        .select(
            (pl.col("__key") // (1 << article_bits)).cast(INDEX_DTYPE).alias(Col.ARTICLE),
            (pl.col("__key") % (1 << article_bits)).cast(INDEX_DTYPE).alias(PAIR),
            "together",
        )
    )


def _bought(data: WeekInput, weeks: int) -> pl.LazyFrame:
    """``customer, article, t_dat``: each article bought by each customer on each day of the last
    ``weeks`` weeks, once (collected once: read by the pairs and their id bounds)."""
    return data.recent(weeks).select(Col.CUSTOMER, Col.ARTICLE, Col.DATE).unique().collect().lazy()


def _pair_counts(data: WeekInput, weeks: int, days: int) -> pl.LazyFrame:
    """``article, other, together`` of ``data``'s customers: how many of them bought ``other`` the
    same day as ``article`` or up to ``days`` days later, in the last ``weeks`` weeks (counts of
    customers: those of any split of the customers add up)."""
    bought = _bought(data, weeks)
    later = bought.rename({Col.ARTICLE: PAIR, Col.DATE: "later"})
    within = bought.join(later, on=Col.CUSTOMER).filter(
        pl.col(PAIR) != pl.col(Col.ARTICLE),
        (pl.col("later") - pl.col(Col.DATE)).dt.total_days().is_between(0, days),
    )
    return _counted_pairs(within, bought)


def _buyer_counts(data: WeekInput, weeks: int) -> pl.LazyFrame:
    """``article, buyers``: how many of ``data``'s customers bought the article in the last
    ``weeks`` weeks."""
    return data.recent(weeks).group_by(Col.ARTICLE).agg(buyers=pl.col(Col.CUSTOMER).n_unique())


def _buyers(weeks: int) -> Partial:
    return Partial((__name__, "co_occurrence_buyers", weeks), partial(_buyer_counts, weeks=weeks), (Col.ARTICLE,))


def _confidences(data: WeekInput, pairs: pl.LazyFrame, weeks: int, per_article: int) -> pl.LazyFrame:
    """The ``per_article`` best ``other`` of each article of ``pairs`` (summed ``together``) by
    confidence: ``together`` over the article's buyers (``_buyers``, built before: ``needs``)."""
    buyers = data.partial_table(_buyers(weeks))
    scored = pairs.join(buyers, on=Col.ARTICLE).with_columns(confidence=pl.col("together") / pl.col("buyers"))
    # the best per article by a top-k in each group, not a sort of every pair (a third less time
    # on a grocery log)
    best = scored.group_by(Col.ARTICLE).agg(
        pl.col(PAIR, "confidence").top_k_by(["confidence", PAIR], k=per_article, reverse=[False, True])
    )
    return best.explode(PAIR, "confidence").select(Col.ARTICLE, PAIR, "confidence")


def co_occurrence(data: WeekInput, weeks: int, days: int, per_article: int) -> pl.LazyFrame:
    """``article, other, confidence``: share of ``article``'s buyers (last ``weeks``) who bought
    ``other`` the same day or up to ``days`` days later; the ``per_article`` best per article,
    sorted by article, then confidence (highest first), then ``other``. A global table from
    counts of customers (``data/partial.py``): the buyers, then the pairs, each summed over
    shards of customers on Ray; the best per article are picked where the pairs are summed."""
    pairs = Partial(
        (__name__, "co_occurrence", weeks, days, per_article),
        partial(_pair_counts, weeks=weeks, days=days),
        (Col.ARTICLE, PAIR),
        finish=partial(_confidences, weeks=weeks, per_article=per_article),
        sort_by=(Col.ARTICLE, "confidence", PAIR),
        descending=(False, True, False),
        needs=(_buyers(weeks),),
    )
    return data.partial_table(pairs)


@dataclass(frozen=True)
class BoughtTogetherSource:
    """Expand the customer's purchases of the last ``recent_weeks`` through co-occurrence.

    Pairs are counted over the last ``weeks`` weeks, a pair being two articles one customer
    bought within ``days`` days. A candidate's score sums, over the customer's recent articles,
    their decayed count times the pair's confidence. Articles already bought are left out.
    """

    n: int = 30
    weeks: int = 8
    days: int = 7
    per_article: int = 10
    recent_weeks: int = 8
    decay: float = 0.03
    name: str = "bought_together"

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        pairs = co_occurrence(data, self.weeks, self.days, self.per_article)
        mine = decayed_counts(data.served(), data.cutoff, self.recent_weeks, self.decay)
        scored = (
            mine.join(pairs, on=Col.ARTICLE)
            .group_by(Col.CUSTOMER, PAIR)
            .agg((pl.col(Col.SCORE) * pl.col("confidence")).sum().alias(Col.SCORE))
            .rename({PAIR: Col.ARTICLE})
            .join(mine.select(Col.CUSTOMER, Col.ARTICLE), on=[Col.CUSTOMER, Col.ARTICLE], how="anti")
        )
        return ranked(scored, self.n)
