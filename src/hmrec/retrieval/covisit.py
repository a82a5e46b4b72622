"""Item-to-item co-visitation weighted by recency and by how close in time two purchases were.

The pair table is article-level (it depends on the history and the cutoff only); a customer's
candidates are the best partners of their last purchases. An optional source: the accuracy
matrix found it no help as a default, and none as a feature block (docs/accuracy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmrec.data.lists import decayed_counts
from hmrec.data.split import days_before
from hmrec.data.week import WeekInput, once_per_week
from hmrec.retrieval.base import ranked
from hmrec.schema import Col

PAIR = "other"
WEIGHT = "weight"


@dataclass(frozen=True)
class CoVisitation:
    """How pairs are counted: purchases of one customer at most ``days`` apart, in the last
    ``weeks`` weeks; a pair weighs ``exp(-decay * days before the cutoff of its later purchase)
    / (1 + days between the two)``; weights are summed per article pair and divided by the
    article's own decayed purchases; each article keeps its ``per_article`` best partners."""

    weeks: int = 8
    days: int = 14
    decay: float = 0.05
    per_article: int = 20

    @once_per_week
    def pairs(self, data: WeekInput) -> pl.LazyFrame:
        """``article, other, weight`` (both directions; an article is never its own partner)."""
        bought = (
            data.recent(self.weeks)
            .select(Col.CUSTOMER, Col.ARTICLE, Col.DATE)
            .unique()
            .with_columns(days_before(data.cutoff).cast(pl.Int32).alias("ago"))
        )
        other = bought.select(Col.CUSTOMER, pl.col(Col.ARTICLE).alias(PAIR), pl.col("ago").alias("other_ago"))
        gap = (pl.col("ago") - pl.col("other_ago")).abs()
        weighted = (
            bought.join(other, on=Col.CUSTOMER)
            .filter(pl.col(PAIR) != pl.col(Col.ARTICLE), gap <= self.days)
            .group_by(Col.ARTICLE, PAIR)
            .agg(((-self.decay * pl.min_horizontal("ago", "other_ago")).exp() / (1 + gap)).sum().alias(WEIGHT))
        )
        own = bought.group_by(Col.ARTICLE).agg((-self.decay * pl.col("ago")).exp().sum().alias("own"))
        return (
            weighted.join(own, on=Col.ARTICLE)
            .select(Col.ARTICLE, PAIR, (pl.col(WEIGHT) / pl.col("own")).cast(pl.Float32).alias(WEIGHT))
            .sort([Col.ARTICLE, WEIGHT, PAIR], descending=[False, True, False])
            .filter(pl.int_range(pl.len()).over(Col.ARTICLE) < self.per_article)
        )


@dataclass(frozen=True)
class CoVisitSource:
    """The best co-visitation partners of the customer's purchases of the last ``recent_weeks``
    weeks that they have not bought in that time (see :class:`CoVisitation`)."""

    n: int = 30
    recent_weeks: int = 4
    decay: float = 0.1
    table: CoVisitation = CoVisitation()
    name: str = "covisit"

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        """Score: the sum over the customer's recent articles of their decayed count (each unit
        ``exp(-decay * days)``) times the pair's weight."""
        mine = decayed_counts(data.served(), data.cutoff, self.recent_weeks, self.decay)
        scored = (
            mine.join(self.table.pairs(data), on=Col.ARTICLE)
            .group_by(Col.CUSTOMER, PAIR)
            .agg((pl.col(Col.SCORE) * pl.col(WEIGHT)).sum().alias(Col.SCORE))
            .rename({PAIR: Col.ARTICLE})
            .join(mine.select(Col.CUSTOMER, Col.ARTICLE), on=[Col.CUSTOMER, Col.ARTICLE], how="anti")
        )
        return ranked(scored, self.n)
