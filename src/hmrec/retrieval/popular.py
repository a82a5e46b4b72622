"""Lists shared by many customers: last week's best sellers, per age bucket, and rising articles."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmrec.data.week import WeekInput
from hmrec.retrieval.base import for_everyone, ranked
from hmrec.schema import Col

BUCKET = "age_bucket"


@dataclass(frozen=True)
class PopularSource:
    """The ``n`` most bought articles of the last ``days`` days, for every customer."""

    n: int = 12
    days: int = 7
    name: str = "popular"

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        counts = data.recent(self.days / 7).group_by(Col.ARTICLE).agg(pl.len().cast(pl.Float32).alias(Col.SCORE))
        return for_everyone(data, counts, self.n)


@dataclass(frozen=True)
class AgePopularSource:
    """Last ``days`` days' best sellers among customers of the same age bucket (``bucket_years`` wide).

    Customers of unknown age are one bucket of their own.
    """

    n: int = 12
    days: int = 7
    bucket_years: int = 10
    name: str = "popular_age"

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        bucket = data.customer_table.select(
            Col.CUSTOMER, (pl.col(Col.AGE) // self.bucket_years).fill_null(-1).alias(BUCKET)
        )
        counts = (
            data.recent(self.days / 7)
            .join(bucket, on=Col.CUSTOMER, how="left")
            .with_columns(pl.col(BUCKET).fill_null(-1))
            .group_by(BUCKET, Col.ARTICLE)
            .agg(pl.len().cast(pl.Float32).alias(Col.SCORE))
            .sort([BUCKET, Col.SCORE, Col.ARTICLE], descending=[False, True, False])
            .with_columns(pos=pl.int_range(pl.len()).over(BUCKET))
            .filter(pl.col("pos") < self.n)
        )
        served = data.customers.join(bucket, on=Col.CUSTOMER, how="left").with_columns(pl.col(BUCKET).fill_null(-1))
        return ranked(served.join(counts, on=BUCKET).select(Col.CUSTOMER, Col.ARTICLE, Col.SCORE), self.n)


@dataclass(frozen=True)
class TrendingSource:
    """Articles whose sales rise: last week's units over the week before's (+1), for everyone.

    Only articles with at least ``min_units`` units last week count, so that a single sale
    is no trend.
    """

    n: int = 12
    min_units: int = 5
    name: str = "trending"

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        last = data.recent(1).group_by(Col.ARTICLE).agg(last=pl.len())
        before = data.recent(2).group_by(Col.ARTICLE).agg(both=pl.len())
        rising = (
            last.filter(pl.col("last") >= self.min_units)
            .join(before, on=Col.ARTICLE)
            .select(
                Col.ARTICLE, (pl.col("last") / (pl.col("both") - pl.col("last") + 1)).cast(pl.Float32).alias(Col.SCORE)
            )
        )
        return for_everyone(data, rising, self.n)
