"""The rule baselines: last week's best sellers, and the customer's own time-decayed purchases."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from hmrec.data.lists import decayed_counts, fill_with, popular_articles, top_per_customer
from hmrec.data.week import WeekInput
from hmrec.recommenders.base import Persisted, with_details
from hmrec.schema import INDEX_DTYPE, Col, K


@dataclass
class PopularRecommender(Persisted):
    """Everyone gets the most bought articles of the last week before the cutoff."""

    days: int = 7
    name: str = "popular"
    fill: list[int] = field(default_factory=list)

    def fit(self, week: WeekInput) -> PopularRecommender:
        self.fill = popular_articles(week.history, week.cutoff, self.days)
        if len(self.fill) < K:
            raise ValueError(f"the history before {week.cutoff} holds fewer than {K} distinct articles")
        return self

    def refresh(self, week: WeekInput) -> PopularRecommender:
        """Keep the fitted list: it is the whole model."""
        return self

    def recommend(self, customers: pl.Series, k: int = K, details: bool = False) -> pl.DataFrame:
        recs = fill_with(None, customers, self.fill, k)
        return with_details(recs, None, self.name) if details else recs


@dataclass
class RepurchaseRecommender(Persisted):
    """The customer's own purchases of the last ``weeks`` weeks, by time-decayed count.

    An article bought ``d`` days before the cutoff counts ``exp(-decay * d)`` per unit; the
    list is filled up with last week's best sellers.
    """

    weeks: int = 26
    decay: float = 0.03
    name: str = "repurchase"
    fill: list[int] = field(default_factory=list)
    counts: pl.DataFrame | None = None

    def fit(self, week: WeekInput) -> RepurchaseRecommender:
        self.fill = PopularRecommender().fit(week).fill
        return self.refresh(week)

    def refresh(self, week: WeekInput) -> RepurchaseRecommender:
        """The customers' own purchases before the week's cutoff; the fitted fill list is kept."""
        self.counts = decayed_counts(week.history, week.cutoff, self.weeks, self.decay).collect()
        return self

    def recommend(self, customers: pl.Series, k: int = K, details: bool = False) -> pl.DataFrame:
        if self.counts is None:
            raise RuntimeError("call fit() before recommend()")
        who = pl.LazyFrame({Col.CUSTOMER: customers.cast(INDEX_DTYPE)})
        own = top_per_customer(self.counts.lazy().join(who, on=Col.CUSTOMER, how="semi"), k)
        recs = fill_with(own, customers, self.fill, k)
        return with_details(recs, None, self.name) if details else recs
