"""Column names, dtypes and id formats: the one place that spells them.

Raw names are the Kaggle files' own. Inside the pipeline a customer is a dense ``UInt32``
index (:attr:`Col.CUSTOMER`) and an article one too (:attr:`Col.ARTICLE`); the 64-hex
``customer_id`` and the 10-digit ``article_id`` appear only at the edges.
"""

from __future__ import annotations

import polars as pl


class Col:
    """Column names used across hmrec."""

    # transactions_train.csv
    DATE = "t_dat"
    CUSTOMER_ID = "customer_id"
    ARTICLE_ID = "article_id"
    PRICE = "price"
    CHANNEL = "sales_channel_id"
    # customers.csv
    FN = "FN"
    ACTIVE = "Active"
    CLUB_STATUS = "club_member_status"
    NEWS_FREQUENCY = "fashion_news_frequency"
    AGE = "age"
    POSTAL_CODE = "postal_code"
    # articles.csv (the ones the pipeline uses by name)
    PRODUCT_CODE = "product_code"
    PROD_NAME = "prod_name"
    PRODUCT_TYPE_NO = "product_type_no"
    PRODUCT_GROUP = "product_group_name"
    COLOUR_GROUP_CODE = "colour_group_code"
    COLOUR_GROUP = "colour_group_name"
    DEPARTMENT_NO = "department_no"
    SECTION_NO = "section_no"
    INDEX_GROUP_NO = "index_group_no"
    GARMENT_GROUP_NO = "garment_group_no"
    DETAIL_DESC = "detail_desc"
    # sample_submission.csv
    PREDICTION = "prediction"
    # pipeline-internal
    CUSTOMER = "customer"
    ARTICLE = "article"
    POSTAL = "postal"
    RANK = "rank"
    SCORE = "score"
    SOURCES = "sources"  # the retrieval sources behind a recommendation, comma-separated
    EXPLAIN = "explain"  # the features that moved a ranked recommendation's score most


CUSTOMER_ID_PATTERN = r"^[0-9a-f]{64}$"
"""A customer id: 64 lowercase hex characters."""
ARTICLE_ID_PATTERN = r"^[0-9]{1,10}$"
"""An article id: digits, written with 10 digits (leading zeros) at the edges."""
ARTICLE_ID_WIDTH = 10
POSTAL_CODE_PATTERN = CUSTOMER_ID_PATTERN
K = 12
"""Kaggle's cut-off: 12 predictions per customer."""

INDEX_DTYPE = pl.UInt32
TRANSACTION_COLUMNS = [Col.DATE, Col.CUSTOMER_ID, Col.ARTICLE_ID, Col.PRICE, Col.CHANNEL]
CUSTOMER_COLUMNS = [
    Col.CUSTOMER_ID,
    Col.FN,
    Col.ACTIVE,
    Col.CLUB_STATUS,
    Col.NEWS_FREQUENCY,
    Col.AGE,
    Col.POSTAL_CODE,
]
ARTICLE_COLUMNS = [
    Col.ARTICLE_ID,
    Col.PRODUCT_CODE,
    Col.PROD_NAME,
    Col.PRODUCT_TYPE_NO,
    "product_type_name",
    Col.PRODUCT_GROUP,
    "graphical_appearance_no",
    "graphical_appearance_name",
    Col.COLOUR_GROUP_CODE,
    Col.COLOUR_GROUP,
    "perceived_colour_value_id",
    "perceived_colour_value_name",
    "perceived_colour_master_id",
    "perceived_colour_master_name",
    Col.DEPARTMENT_NO,
    "department_name",
    "index_code",
    "index_name",
    Col.INDEX_GROUP_NO,
    "index_group_name",
    Col.SECTION_NO,
    "section_name",
    Col.GARMENT_GROUP_NO,
    "garment_group_name",
    Col.DETAIL_DESC,
]
ARTICLE_INT_COLUMNS = [
    Col.PRODUCT_CODE,
    Col.PRODUCT_TYPE_NO,
    "graphical_appearance_no",
    Col.COLOUR_GROUP_CODE,
    "perceived_colour_value_id",
    "perceived_colour_master_id",
    Col.DEPARTMENT_NO,
    Col.INDEX_GROUP_NO,
    Col.SECTION_NO,
    Col.GARMENT_GROUP_NO,
]
"""Article columns holding integer codes; the rest are text."""
SUBMISSION_COLUMNS = [Col.CUSTOMER_ID, Col.PREDICTION]

# Prepared (typed parquet) schemas.
TRANSACTIONS_SCHEMA: dict[str, pl.DataType] = {
    Col.DATE: pl.Date(),
    Col.CUSTOMER: INDEX_DTYPE(),
    Col.ARTICLE: INDEX_DTYPE(),
    Col.PRICE: pl.Float32(),
    Col.CHANNEL: pl.Int8(),
}
CUSTOMER_MAP_SCHEMA: dict[str, pl.DataType] = {Col.CUSTOMER: INDEX_DTYPE(), Col.CUSTOMER_ID: pl.String()}
ARTICLE_MAP_SCHEMA: dict[str, pl.DataType] = {Col.ARTICLE: INDEX_DTYPE(), Col.ARTICLE_ID: pl.String()}
RECOMMENDATION_SCHEMA: dict[str, pl.DataType] = {
    Col.CUSTOMER: INDEX_DTYPE(),
    Col.ARTICLE: INDEX_DTYPE(),
    Col.RANK: pl.UInt16(),
}
"""What every recommender's ``recommend`` returns: rank 1 is the best."""

FILES = {
    "transactions": "transactions_train",
    "articles": "articles",
    "customers": "customers",
    "sample_submission": "sample_submission",
}
"""The Kaggle file stems; each is read as ``.csv`` or ``.parquet``."""
