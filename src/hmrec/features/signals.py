"""Signals from the competition's winners: article trends (prefix ``t_``), co-visitation of the
candidate with the customer's last purchases (``v_``), cohort popularity by age and postal code
(``k_``), and the candidate's price against the customer's price band (``b_``, in ``join``)."""

from __future__ import annotations

import polars as pl

from hmrec.data.split import days_before
from hmrec.data.week import WeekInput
from hmrec.retrieval.covisit import CoVisitation
from hmrec.schema import Col

AGE_BUCKET = "k_age_bucket"
AGE_YEARS = 5


def trend_features(data: WeekInput) -> pl.LazyFrame:
    """``article, t_n_3d, t_share_1w, t_share_3d, t_velocity, t_accel, t_day_slope`` for the
    articles sold in the last 3 weeks. Shares are of all units sold in the window (comparable
    between weeks of different volume); velocity is last week's units over the week before's
    (+1); acceleration the change of that change over three weeks; day slope the daily rate of
    the last 3 days over that of the 4 days before (+1)."""
    days = days_before(data.cutoff)
    sold = data.recent(3)
    counts = sold.group_by(Col.ARTICLE).agg(
        (days <= 3).sum().alias("n3"),
        (days <= 7).sum().alias("w1"),
        days.is_between(8, 14).sum().alias("w2"),
        days.is_between(15, 21).sum().alias("w3"),
    )
    totals = sold.select((days <= 3).sum().alias("all3"), (days <= 7).sum().alias("all1"))
    return counts.join(totals, how="cross").select(
        Col.ARTICLE,
        pl.col("n3").cast(pl.UInt32).alias("t_n_3d"),
        (pl.col("w1") / pl.col("all1").clip(1)).cast(pl.Float32).alias("t_share_1w"),
        (pl.col("n3") / pl.col("all3").clip(1)).cast(pl.Float32).alias("t_share_3d"),
        (pl.col("w1") / (pl.col("w2") + 1)).cast(pl.Float32).alias("t_velocity"),
        ((pl.col("w1") - pl.col("w2")) - (pl.col("w2") - pl.col("w3"))).cast(pl.Float32).alias("t_accel"),
        ((pl.col("n3") / 3) / ((pl.col("w1") - pl.col("n3")) / 4 + 1)).cast(pl.Float32).alias("t_day_slope"),
    )


def covisit_features(data: WeekInput, table: CoVisitation | None = None) -> pl.LazyFrame:
    """``customer, article, v_score, v_best``: for the served customers, the co-visitation score of
    every article partnered with what they bought in the last 4 weeks (see ``CoVisitation.scores``)."""
    scored = (table or CoVisitation()).scores(data, recent_weeks=4, decay=0.1)
    return scored.select(
        Col.CUSTOMER,
        Col.ARTICLE,
        pl.col(Col.SCORE).cast(pl.Float32).alias("v_score"),
        pl.col("best").cast(pl.Float32).alias("v_best"),
    )


def customer_cohorts(data: WeekInput) -> pl.LazyFrame:
    """``customer, k_age_bucket, postal`` of every customer in the table (age in 5-year buckets,
    -1 where unknown)."""
    return data.customer_table.select(
        Col.CUSTOMER,
        (pl.col(Col.AGE) // AGE_YEARS).fill_null(-1).cast(pl.Int16).alias(AGE_BUCKET),
        pl.col(Col.POSTAL),
    )


def _cohort_share(data: WeekInput, key: str, weeks: int, prefix: str) -> pl.LazyFrame:
    """``<key>, article, <prefix>_n, <prefix>_share``: units of the article bought by the cohort in
    the last ``weeks`` weeks, and their share of all the cohort's units then."""
    rows = data.recent(weeks).join(customer_cohorts(data), on=Col.CUSTOMER, how="left").drop_nulls(key)
    per = rows.group_by(key, Col.ARTICLE).agg(pl.len().cast(pl.UInt32).alias(f"{prefix}_n"))
    total = rows.group_by(key).agg(pl.len().alias("__total"))
    return per.join(total, on=key).select(
        key,
        Col.ARTICLE,
        f"{prefix}_n",
        (pl.col(f"{prefix}_n") / pl.col("__total")).cast(pl.Float32).alias(f"{prefix}_share"),
    )


def age_cohort_features(data: WeekInput) -> pl.LazyFrame:
    """``k_age_bucket, article, k_age_n, k_age_share`` over last week."""
    return _cohort_share(data, AGE_BUCKET, 1, "k_age")


def postal_cohort_features(data: WeekInput) -> pl.LazyFrame:
    """``postal, article, k_postal_n, k_postal_share`` over the last 4 weeks."""
    return _cohort_share(data, Col.POSTAL, 4, "k_postal")
