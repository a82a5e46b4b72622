"""The rule baselines: last week's best sellers, and the customer's own time-decayed purchases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from hmrec.data.split import days_before
from hmrec.recommenders.base import fill_with, top_per_customer
from hmrec.schema import Col, K


def popular_articles(history: pl.LazyFrame, cutoff: date, days: int = 7, n: int = 2 * K) -> list[int]:
    """The ``n`` most bought articles in the ``days`` before ``cutoff`` (ties: lower index).

    Falls back to the whole history when that window holds fewer than ``n`` articles.
    """

    def top(rows: pl.LazyFrame) -> list[int]:
        counts = rows.group_by(Col.ARTICLE).agg(n=pl.len()).sort(["n", Col.ARTICLE], descending=[True, False])
        return counts.head(n).collect()[Col.ARTICLE].to_list()

    recent = top(history.filter(pl.col(Col.DATE) >= cutoff - timedelta(days=days)))
    if len(recent) >= n:
        return recent
    return recent + [a for a in top(history) if a not in set(recent)][: n - len(recent)]


def decayed_counts(history: pl.LazyFrame, cutoff: date, weeks: int, decay: float) -> pl.LazyFrame:
    """``customer, article, score``: units bought in the last ``weeks``, each ``exp(-decay * days)``."""
    recent = history.filter(pl.col(Col.DATE) >= cutoff - timedelta(weeks=weeks), pl.col(Col.DATE) < cutoff)
    return recent.group_by(Col.CUSTOMER, Col.ARTICLE).agg((-decay * days_before(cutoff)).exp().sum().alias(Col.SCORE))


@dataclass
class PopularRecommender:
    """Everyone gets the most bought articles of the last week before the cutoff."""

    days: int = 7
    name: str = "popular"
    popular: list[int] = field(default_factory=list)

    def fit(self, history: pl.LazyFrame, cutoff: date) -> PopularRecommender:
        self.popular = popular_articles(history, cutoff, self.days)
        if len(self.popular) < K:
            raise ValueError(f"the history before {cutoff} holds fewer than {K} distinct articles")
        return self

    def recommend(self, customers: pl.Series, k: int = K) -> pl.DataFrame:
        return fill_with(None, customers, self.popular, k)


@dataclass
class RepurchaseRecommender:
    """The customer's own purchases of the last ``weeks`` weeks, by time-decayed count.

    An article bought ``d`` days before the cutoff counts ``exp(-decay * d)`` per unit; the
    list is filled up with last week's best sellers.
    """

    weeks: int = 26
    decay: float = 0.03
    name: str = "repurchase"
    popular: list[int] = field(default_factory=list)
    scored: pl.DataFrame | None = None

    def fit(self, history: pl.LazyFrame, cutoff: date) -> RepurchaseRecommender:
        self.popular = PopularRecommender().fit(history, cutoff).popular
        self.scored = decayed_counts(history, cutoff, self.weeks, self.decay).collect()
        return self

    def recommend(self, customers: pl.Series, k: int = K) -> pl.DataFrame:
        if self.scored is None:
            raise RuntimeError("call fit() before recommend()")
        who = pl.LazyFrame({Col.CUSTOMER: customers.cast(pl.UInt32)})
        own = top_per_customer(self.scored.lazy().join(who, on=Col.CUSTOMER, how="semi"), k)
        return fill_with(own, customers, self.popular, k)
