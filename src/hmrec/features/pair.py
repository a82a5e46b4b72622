"""Customer-article features: how often and how recently the customer bought the article, its
product (other colours), and the article's department, section, garment group, colour and
product type (the customer's taste)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from hmrec.data.split import days_before
from hmrec.data.week import WeekInput
from hmrec.features.lookup import packed
from hmrec.schema import Col

DAYS = "__days"


def served_rows(data: WeekInput, keys: Iterable[str] = ()) -> pl.DataFrame:
    """The served customers' rows before the cutoff: ``customer, article, __days`` (days before
    the cutoff) and the catalogue's ``keys`` (null for an article not in it), read once for
    every block that counts them."""
    rows = data.served().select(Col.CUSTOMER, Col.ARTICLE, days_before(data.cutoff).alias(DAYS))
    wanted = [k for k in dict.fromkeys(keys) if k not in (Col.CUSTOMER, Col.ARTICLE)]
    if wanted:
        rows = rows.join(data.articles.select(Col.ARTICLE, *wanted), on=Col.ARTICLE, how="left")
    return rows.collect()


def bought(rows: pl.DataFrame, key: str, prefix: str) -> pl.DataFrame:
    """``customer, <key>, <prefix>_n, <prefix>_days_since`` from ``served_rows``: units with each
    value of ``key`` and days since the last, sorted by customer then value (one sort of the
    rows, then a group-by over runs of equal keys). Rows whose value is null are not counted."""
    keyed = (
        rows.lazy()
        .filter(pl.col(key).is_not_null())
        .select(packed([Col.CUSTOMER, key]).alias("__key"), Col.CUSTOMER, key, DAYS)
        .sort("__key")
    )
    return (
        keyed.group_by("__key", maintain_order=True)
        .agg(
            pl.col(Col.CUSTOMER).first(),
            pl.col(key).first(),
            pl.len().cast(pl.UInt32).alias(f"{prefix}_n"),
            pl.col(DAYS).min().cast(pl.Int32).alias(f"{prefix}_days_since"),
        )
        .drop("__key")
        .collect()
    )


def _bought(data: WeekInput, key: str, prefix: str) -> pl.LazyFrame:
    """``bought`` over the served customers' history."""
    return bought(served_rows(data, [key]), key, prefix).lazy()


def pair_features(data: WeekInput) -> pl.LazyFrame:
    """``customer, article, p_n, p_days_since``: units of this article, days since the last."""
    return _bought(data, Col.ARTICLE, "p")


def product_features(data: WeekInput) -> pl.LazyFrame:
    """``customer, product_code, pp_n, pp_days_since``: the same for any colour of the product."""
    return _bought(data, Col.PRODUCT_CODE, "pp")


TASTE: dict[str, str] = {
    Col.DEPARTMENT_NO: "pd",
    Col.SECTION_NO: "ps",
    Col.GARMENT_GROUP_NO: "pg",
    Col.COLOUR_GROUP_CODE: "pc",
    Col.PRODUCT_TYPE_NO: "pt",
}
"""Catalogue attributes whose purchase counts describe a customer's taste, with their prefixes."""


def taste_features(data: WeekInput, key: str) -> pl.LazyFrame:
    """``customer, <key>, <prefix>_n, <prefix>_days_since`` for one attribute of ``TASTE``."""
    return _bought(data, key, TASTE[key])


WINDOWS = (1, 4, 12)
"""The windows (weeks before the cutoff) of the ``u_`` block's shares."""
UNITS: dict[str, str] = {
    **TASTE,
    Col.INDEX_GROUP_NO: "pi",
    "graphical_appearance_no": "pa",
    "perceived_colour_value_id": "pv",
    "perceived_colour_master_id": "pm",
}
"""Every categorical attribute of the catalogue (``article.ATTRIBUTES``) with the short name of
its ``u_`` columns."""


def unit_columns(key: str) -> list[str]:
    """The ``u_`` columns of one attribute: its share in each window, and over all the history
    for the attributes ``TASTE`` does not already cover (``<prefix>_share``)."""
    windows = [f"{w}w" for w in WINDOWS] + ([] if key in TASTE else ["all"])
    return [f"u_{UNITS[key]}_{w}" for w in windows]


def window_units(data: WeekInput, key: str, rows: pl.DataFrame | None = None) -> pl.LazyFrame:
    """``customer, <key>, __u_<prefix>_<window>...``: the served customer's units with each value
    of ``key`` in each window of ``unit_columns`` (turned into shares in ``join``); from ``rows``
    (``served_rows`` holding ``key``) when given, so that the attributes share one read."""
    source = served_rows(data, [key]) if rows is None else rows
    days = pl.col(DAYS)
    counts = [(days <= 7 * w).sum().alias(f"__{c}") for w, c in zip(WINDOWS, unit_columns(key), strict=False)]
    if key not in TASTE:
        counts.append(pl.len().alias(f"__{unit_columns(key)[-1]}"))
    return source.lazy().drop_nulls(key).group_by(Col.CUSTOMER, key).agg(counts)
