"""Article features: recent sales and their trend, age on sale, markdown, buyers, attributes."""

from __future__ import annotations

import polars as pl

from hmrec.data.split import days_before
from hmrec.data.week import WeekInput, once_per_week
from hmrec.schema import ARTICLE_INT_COLUMNS, Col

ATTRIBUTES = [c for c in ARTICLE_INT_COLUMNS if c != Col.PRODUCT_CODE]
"""The catalogue's categorical codes, used as features as they are (``a_<name>``)."""


@once_per_week
def article_features(data: WeekInput) -> pl.LazyFrame:
    """One row per catalogue article: ``article, a_n_1w, a_n_2w, a_n_4w, a_trend,
    a_days_since_first, a_price_1w, a_price_usual, a_markdown, a_buyer_age, a_repurchase_rate``
    and the categorical codes. ``a_trend`` is last week's units over the mean of the three
    weeks before (+1); ``a_markdown`` last week's mean price over the article's mean price."""
    days = days_before(data.cutoff)
    sold = data.past()
    stats = sold.group_by(Col.ARTICLE).agg(
        *((days <= 7 * w).sum().cast(pl.UInt32).alias(f"a_n_{w}w") for w in (1, 2, 4)),
        days.max().cast(pl.Int32).alias("a_days_since_first"),
        pl.col(Col.PRICE).filter(days <= 7).mean().cast(pl.Float32).alias("a_price_1w"),
        pl.col(Col.PRICE).mean().cast(pl.Float32).alias("a_price_usual"),
    )
    # one row per (customer, article) bought, one pass over the history for both columns; the
    # pair was bought on more than one day when its last day is after its first (a min and a
    # max per pair: a fifth less time than counting its distinct days at full size)
    buyers = (
        sold.group_by(Col.CUSTOMER, Col.ARTICLE)
        .agg(again=pl.col(Col.DATE).max() > pl.col(Col.DATE).min())
        .join(data.customer_table.select(Col.CUSTOMER, Col.AGE), on=Col.CUSTOMER, how="left")
        .group_by(Col.ARTICLE)
        .agg(
            pl.col(Col.AGE).mean().cast(pl.Float32).alias("a_buyer_age"),
            pl.col("again").mean().cast(pl.Float32).alias("a_repurchase_rate"),
        )
    )
    attributes = data.articles.select(Col.ARTICLE, *(pl.col(c).alias(f"a_{c}") for c in ATTRIBUTES))
    return (
        attributes.join(stats, on=Col.ARTICLE, how="left")
        .join(buyers, on=Col.ARTICLE, how="left")
        .with_columns(pl.col("a_n_1w", "a_n_2w", "a_n_4w").fill_null(0))
        .with_columns(
            (pl.col("a_n_1w") / ((pl.col("a_n_4w") - pl.col("a_n_1w")) / 3 + 1)).cast(pl.Float32).alias("a_trend"),
            (pl.col("a_price_1w") / pl.col("a_price_usual")).cast(pl.Float32).alias("a_markdown"),
        )
    )
