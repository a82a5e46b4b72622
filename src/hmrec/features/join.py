"""All feature blocks joined onto a candidate set, with the features derived from two blocks."""

from __future__ import annotations

import polars as pl

from hmrec.data.week import WeekInput
from hmrec.features.article import article_features
from hmrec.features.customer import customer_features
from hmrec.features.pair import TASTE, pair_features, product_features, taste_features
from hmrec.features.signals import (
    AGE_BUCKET,
    age_cohort_features,
    covisit_features,
    customer_cohorts,
    postal_cohort_features,
    trend_features,
)
from hmrec.schema import Col


def join_features(candidates: pl.LazyFrame, data: WeekInput) -> pl.LazyFrame:
    """``candidates`` (keyed by customer, article) with every block's columns added, row for row.

    Counts of pairs never bought are 0 and their recencies null. Derived: ``x_age_gap`` (the
    customer's age minus the article's mean buyer age), ``x_price_ratio`` (the article's usual
    price over what the customer pays on average) and, per taste attribute, ``<prefix>_share``
    (the customer's units with the article's value over all their units; null without any),
    ``b_price_z`` (the article's price last week, else its usual price, in standard deviations of
    the customer's prices from their mean). The trend, co-visitation and cohort blocks are in
    ``features/signals.py``; co-visitation and cohort counts of pairs never seen are 0.
    """
    keys = data.articles.select(Col.ARTICLE, Col.PRODUCT_CODE, *TASTE)
    counts = ["p_n", "pp_n", *(f"{prefix}_n" for prefix in TASTE.values())]
    zeros = ["t_n_3d", "t_share_1w", "t_share_3d", "v_score", "v_best", "k_age_n", "k_age_share"]
    zeros += ["k_postal_n", "k_postal_share"]
    joined = (
        candidates.join(keys, on=Col.ARTICLE, how="left")
        .join(customer_features(data), on=Col.CUSTOMER, how="left")
        .join(article_features(data), on=Col.ARTICLE, how="left")
        .join(pair_features(data), on=[Col.CUSTOMER, Col.ARTICLE], how="left")
        .join(product_features(data), on=[Col.CUSTOMER, Col.PRODUCT_CODE], how="left")
        .join(trend_features(data), on=Col.ARTICLE, how="left")
        .join(covisit_features(data), on=[Col.CUSTOMER, Col.ARTICLE], how="left")
        .join(customer_cohorts(data), on=Col.CUSTOMER, how="left")
        .join(age_cohort_features(data), on=[AGE_BUCKET, Col.ARTICLE], how="left")
        .join(postal_cohort_features(data), on=[Col.POSTAL, Col.ARTICLE], how="left")
    )
    for key in TASTE:
        joined = joined.join(taste_features(data, key), on=[Col.CUSTOMER, key], how="left")
    return joined.with_columns(
        pl.col(counts).fill_null(0),
        pl.col(zeros).fill_null(0),
        (
            (pl.col("a_price_1w").fill_null(pl.col("a_price_usual")) - pl.col("c_price_mean"))
            / pl.col("c_price_std").fill_null(0).clip(1e-4)
        )
        .cast(pl.Float32)
        .alias("b_price_z"),
        (pl.col("c_age") - pl.col("a_buyer_age")).cast(pl.Float32).alias("x_age_gap"),
        (pl.col("a_price_usual") / pl.col("c_price_mean")).cast(pl.Float32).alias("x_price_ratio"),
        *(
            pl.when(pl.col("c_n_all") > 0)
            .then(pl.col(f"{prefix}_n").fill_null(0) / pl.col("c_n_all"))
            .cast(pl.Float32)
            .alias(f"{prefix}_share")
            for prefix in TASTE.values()
        ),
    ).drop(Col.PRODUCT_CODE, *TASTE, AGE_BUCKET, Col.POSTAL)
