"""Customer features: age, activity over several windows, recency, channel and price habits."""

from __future__ import annotations

import polars as pl

from hmrec.data.split import days_before
from hmrec.data.week import WeekInput
from hmrec.schema import Col

ONLINE = 2


def customer_features(data: WeekInput) -> pl.LazyFrame:
    """One row per served customer: ``customer, c_age, c_n_1w, c_n_4w, c_n_12w, c_n_all,
    c_days_since_last, c_online_share, c_price_mean, c_price_std`` (null without history)."""
    days = days_before(data.cutoff)
    bought = data.served()
    stats = bought.group_by(Col.CUSTOMER).agg(
        *((days <= 7 * w).sum().cast(pl.UInt32).alias(f"c_n_{w}w") for w in (1, 4, 12)),
        pl.len().cast(pl.UInt32).alias("c_n_all"),
        days.min().cast(pl.Int32).alias("c_days_since_last"),
        (pl.col(Col.CHANNEL) == ONLINE).mean().cast(pl.Float32).alias("c_online_share"),
        pl.col(Col.PRICE).mean().cast(pl.Float32).alias("c_price_mean"),
        pl.col(Col.PRICE).std().cast(pl.Float32).alias("c_price_std"),
    )
    age = data.customer_table.select(Col.CUSTOMER, pl.col(Col.AGE).alias("c_age"))
    return (
        data.customers.join(age, on=Col.CUSTOMER, how="left")
        .join(stats, on=Col.CUSTOMER, how="left")
        .with_columns(pl.col("c_n_1w", "c_n_4w", "c_n_12w", "c_n_all").fill_null(0))
    )
