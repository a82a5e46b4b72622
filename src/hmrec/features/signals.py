"""Signals from the competition's winners: article trends (prefix ``t_``), cohort popularity by
age and postal code (``k_``), the candidate's price against the customer's price band (``b_``,
in ``join``), and estimates of how a basket slot is filled (``e_``): the article's share of the
customer's latest purchases, and of its section's sales times the customer's section share.

Co-visitation with the customer's last purchases was a block too (``v_score``, ``v_best``); the
accuracy matrix found it no help on average (docs/accuracy.md), so it lives on as the optional
``covisit`` candidate source, whose score and rank become features when it is used."""

from __future__ import annotations

import polars as pl

from hmrec.data.split import days_before
from hmrec.data.week import WeekInput, once_per_week
from hmrec.schema import Col

AGE_BUCKET = "k_age_bucket"
LAST_PURCHASES = (10, 30)
"""How many of the customer's latest purchased units ``e_last<N>_share`` looks at."""
AGE_YEARS = 5


@once_per_week
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


@once_per_week
def age_cohort_features(data: WeekInput) -> pl.LazyFrame:
    """``k_age_bucket, article, k_age_n, k_age_share`` over last week."""
    return _cohort_share(data, AGE_BUCKET, 1, "k_age")


@once_per_week
def postal_cohort_features(data: WeekInput) -> pl.LazyFrame:
    """``postal, article, k_postal_n, k_postal_share`` over the last 4 weeks."""
    return _cohort_share(data, Col.POSTAL, 4, "k_postal")


def recent_share_features(data: WeekInput) -> pl.LazyFrame:
    """``customer, article, e_last10_share, e_last30_share``: the article's share of the served
    customer's latest 10 (30) purchased units (recency counted in purchases, not days; ties on a
    day broken by article index)."""
    rows = data.served().select(Col.CUSTOMER, Col.ARTICLE, Col.DATE)
    order = pl.int_range(pl.len()).over(Col.CUSTOMER, order_by=[Col.DATE, Col.ARTICLE], descending=True)
    ranked = rows.with_columns(order.alias("__pos"))
    n = max(LAST_PURCHASES)
    return (
        ranked.filter(pl.col("__pos") < n)
        .with_columns(pl.len().over(Col.CUSTOMER).alias("__seen"))
        .group_by(Col.CUSTOMER, Col.ARTICLE)
        .agg(
            *(
                ((pl.col("__pos") < k).sum() / pl.col("__seen").first().clip(upper_bound=k))
                .cast(pl.Float32)
                .alias(f"e_last{k}_share")
                for k in LAST_PURCHASES
            )
        )
    )


@once_per_week
def section_share_features(data: WeekInput) -> pl.LazyFrame:
    """``article, e_section_share_1w``: the article's share of last week's units in its section."""
    section = data.articles.select(Col.ARTICLE, Col.SECTION_NO)
    units = data.recent(1).group_by(Col.ARTICLE).agg(pl.len().alias("__n")).join(section, on=Col.ARTICLE)
    return units.select(
        Col.ARTICLE,
        (pl.col("__n") / pl.col("__n").sum().over(Col.SECTION_NO)).cast(pl.Float32).alias("e_section_share_1w"),
    )


@once_per_week
def age_section_features(data: WeekInput, weeks: int = 12) -> pl.LazyFrame:
    """``k_age_bucket, section_no, e_age_section_share``: the age bucket's share of units in each
    section over the last ``weeks`` weeks (a prior for customers with few purchases of their own)."""
    section = data.articles.select(Col.ARTICLE, Col.SECTION_NO)
    rows = data.recent(weeks).join(customer_cohorts(data), on=Col.CUSTOMER, how="left").join(section, on=Col.ARTICLE)
    per = rows.group_by(AGE_BUCKET, Col.SECTION_NO).agg(pl.len().alias("__n"))
    return per.select(
        AGE_BUCKET,
        Col.SECTION_NO,
        (pl.col("__n") / pl.col("__n").sum().over(AGE_BUCKET)).cast(pl.Float32).alias("e_age_section_share"),
    )
