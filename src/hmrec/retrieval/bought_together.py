"""Item-to-item co-occurrence: what customers who bought X also bought within a few days."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmrec.data.lists import decayed_counts
from hmrec.data.week import WeekInput, once_per_week
from hmrec.retrieval.base import ranked
from hmrec.schema import Col

PAIR = "other"


@once_per_week
def co_occurrence(data: WeekInput, weeks: int, days: int, per_article: int) -> pl.LazyFrame:
    """``article, other, confidence``: share of ``article``'s buyers (last ``weeks``) who bought
    ``other`` the same day or up to ``days`` days later; the ``per_article`` best per article.
    """
    bought = data.recent(weeks).select(Col.CUSTOMER, Col.ARTICLE, Col.DATE).unique()
    later = bought.rename({Col.ARTICLE: PAIR, Col.DATE: "later"})
    pairs = (
        bought.join(later, on=Col.CUSTOMER)
        .filter(
            pl.col(PAIR) != pl.col(Col.ARTICLE),
            (pl.col("later") - pl.col(Col.DATE)).dt.total_days().is_between(0, days),
        )
        .select(Col.CUSTOMER, Col.ARTICLE, PAIR)
        .unique()
        .group_by(Col.ARTICLE, PAIR)
        .agg(together=pl.len())
    )
    buyers = bought.group_by(Col.ARTICLE).agg(buyers=pl.col(Col.CUSTOMER).n_unique())
    scored = pairs.join(buyers, on=Col.ARTICLE).with_columns(confidence=pl.col("together") / pl.col("buyers"))
    # the best per article by a top-k in each group, not a sort of every pair (a third less time
    # on a grocery log); then sorted, so that what reads it sees the rows in one order
    best = scored.group_by(Col.ARTICLE).agg(
        pl.col(PAIR, "confidence").top_k_by(["confidence", PAIR], k=per_article, reverse=[False, True])
    )
    return (
        best.explode(PAIR, "confidence")
        .sort([Col.ARTICLE, "confidence", PAIR], descending=[False, True, False])
        .select(Col.ARTICLE, PAIR, "confidence")
    )


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
