"""All feature blocks joined onto a candidate set, with the features derived from two blocks."""

from __future__ import annotations

import polars as pl

from hmrec.data.week import WeekInput
from hmrec.features.article import article_features
from hmrec.features.customer import customer_features
from hmrec.features.pair import TASTE, pair_features, product_features, taste_features
from hmrec.schema import Col


def join_features(candidates: pl.LazyFrame, data: WeekInput) -> pl.LazyFrame:
    """``candidates`` (keyed by customer, article) with every block's columns added, row for row.

    Counts of pairs never bought are 0 and their recencies null. Derived: ``x_age_gap`` (the
    customer's age minus the article's mean buyer age), ``x_price_ratio`` (the article's usual
    price over what the customer pays on average) and, per taste attribute, ``<prefix>_share``
    (the customer's units with the article's value over all their units; null without any).
    """
    keys = data.articles.select(Col.ARTICLE, Col.PRODUCT_CODE, *TASTE)
    counts = ["p_n", "pp_n", *(f"{prefix}_n" for prefix in TASTE.values())]
    joined = (
        candidates.join(keys, on=Col.ARTICLE, how="left")
        .join(customer_features(data), on=Col.CUSTOMER, how="left")
        .join(article_features(data), on=Col.ARTICLE, how="left")
        .join(pair_features(data), on=[Col.CUSTOMER, Col.ARTICLE], how="left")
        .join(product_features(data), on=[Col.CUSTOMER, Col.PRODUCT_CODE], how="left")
    )
    for key in TASTE:
        joined = joined.join(taste_features(data, key), on=[Col.CUSTOMER, key], how="left")
    return joined.with_columns(
        pl.col(counts).fill_null(0),
        (pl.col("c_age") - pl.col("a_buyer_age")).cast(pl.Float32).alias("x_age_gap"),
        (pl.col("a_price_usual") / pl.col("c_price_mean")).cast(pl.Float32).alias("x_price_ratio"),
        *(
            pl.when(pl.col("c_n_all") > 0)
            .then(pl.col(f"{prefix}_n").fill_null(0) / pl.col("c_n_all"))
            .cast(pl.Float32)
            .alias(f"{prefix}_share")
            for prefix in TASTE.values()
        ),
    ).drop(Col.PRODUCT_CODE, *TASTE)
