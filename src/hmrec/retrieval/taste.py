"""Taste-matched popularity (2nd and 11th places): the best sellers within the catalogue values
a customer buys most, mixed by the customer's own shares."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmrec.data.split import days_before
from hmrec.data.week import WeekInput, once_per_week
from hmrec.features.lookup import KEY, OFFSET, halves, joined32
from hmrec.retrieval.base import ranked
from hmrec.schema import INDEX_DTYPE, Col

TASTE_ATTRIBUTES = (
    Col.PRODUCT_TYPE_NO,
    Col.COLOUR_GROUP_CODE,
    Col.DEPARTMENT_NO,
    Col.INDEX_GROUP_NO,
    Col.GARMENT_GROUP_NO,
    Col.SECTION_NO,
)
"""The catalogue attributes whose values describe a customer's taste here."""

ATTR, VALUE, SHARE, POP, POS = "__attr", "__value", "__share", "__pop", "__pos"


def _attributes(data: WeekInput, wanted: tuple[str, ...]) -> list[str]:
    """The attributes of ``wanted`` that the catalogue has (a bare catalogue has none)."""
    names = data.articles.collect_schema().names()
    return [a for a in wanted if a in names]


def _unsigned(attribute: str) -> pl.Expr:
    """The attribute's value (a strict cast: 32 signed bits) as 0 .. 2**32 - 1, in its order."""
    return (pl.col(attribute).cast(pl.Int32).cast(pl.Int64) + OFFSET).cast(pl.UInt32)


def _long(frame: pl.LazyFrame, attributes: list[str]) -> pl.LazyFrame:
    """``frame``'s rows once per attribute: ``__attr`` (its position in ``attributes``) and
    ``__value`` (the article's value of it), nulls left out."""
    parts = [
        frame.with_columns(pl.lit(i, pl.UInt8).alias(ATTR), pl.col(a).cast(pl.Int64).alias(VALUE)).drop(attributes)
        for i, a in enumerate(attributes)
    ]
    return pl.concat(parts).drop_nulls(VALUE)


@dataclass(frozen=True)
class TasteSource:
    """For each attribute of ``attributes``, the customer's ``values`` most bought values (by
    their share of the customer's units), and within each value the articles that sold best over
    the last week and the last 3 days (each article's share of the value's units in each window,
    added); an article's score is the customer's share of the value times that popularity, summed
    over the attributes. A value with share ``s`` offers its ``ceil(n * s)`` best articles, so the
    rows per customer stay near ``n`` per attribute. Customers without history get none.
    """

    n: int = 12
    values: int = 3
    attributes: tuple[str, ...] = TASTE_ATTRIBUTES
    name: str = "popular_taste"

    @once_per_week
    def top(self, data: WeekInput) -> pl.LazyFrame:
        """``__attr, __value, article, __pop, __pos``: each value's ``n`` best sellers (``__pos``
        from 0; ties: lower article index)."""
        attributes = _attributes(data, self.attributes)
        days = days_before(data.cutoff)
        sold = (
            data.recent(1)
            .group_by(Col.ARTICLE)
            .agg(pl.len().alias("__w"), (days <= 3).sum().alias("__d"))
            .join(data.articles.select(Col.ARTICLE, *attributes), on=Col.ARTICLE)
        )
        per_value = [ATTR, VALUE]
        pop = (pl.col("__w") / pl.col("__w").sum().over(per_value)) + (
            pl.col("__d") / pl.col("__d").sum().over(per_value).clip(1)
        )
        return (
            _long(sold, attributes)
            .with_columns(pop.cast(pl.Float64).alias(POP))
            .sort([ATTR, VALUE, POP, Col.ARTICLE], descending=[False, False, True, False])
            .with_columns(pl.int_range(pl.len()).over(per_value).alias(POS))
            .filter(pl.col(POS) < self.n)
            .select(ATTR, VALUE, Col.ARTICLE, POP, POS)
        )

    def shares(self, data: WeekInput) -> pl.LazyFrame:
        """``customer, __attr, __value, __share``: the served customers' ``values`` most bought values
        of each attribute and their share of the customer's units (ties: lower value)."""
        attributes = _attributes(data, self.attributes)
        rows = data.served().select(Col.CUSTOMER, Col.ARTICLE)
        rows = rows.join(data.articles.select(Col.ARTICLE, *attributes), on=Col.ARTICLE)
        # each attribute's units per (customer, value), grouped on one integer of the two
        units = pl.concat(
            [
                rows.drop_nulls(a)
                .group_by(joined32(pl.col(Col.CUSTOMER), _unsigned(a)).alias(KEY))
                .agg(pl.len().alias("__u"))
                .with_columns(pl.lit(i, pl.UInt8).alias(ATTR))
                for i, a in enumerate(attributes)
            ]
        )
        customer, value = halves(KEY)
        units = units.select(
            customer.cast(INDEX_DTYPE).alias(Col.CUSTOMER), ATTR, (value.cast(pl.Int64) - OFFSET).alias(VALUE), "__u"
        )
        per = [Col.CUSTOMER, ATTR]
        # the values' order within (customer, attribute): more units first, then the lower value
        # (a value is 32 bits: one integer orders by both)
        order = pl.col("__u").cast(pl.Int64) * (1 << 32) - pl.col(VALUE)
        return (
            units.with_columns((pl.col("__u") / pl.col("__u").sum().over(per)).alias(SHARE))
            .filter(order.rank("ordinal", descending=True).over(per) <= self.values)
            .select(Col.CUSTOMER, ATTR, VALUE, SHARE)
        )

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        quota = (pl.col(SHARE) * self.n).ceil()
        mixed = (
            self.shares(data)
            .join(self.top(data), on=[ATTR, VALUE])
            .filter(pl.col(POS) < quota)
            .group_by(joined32(pl.col(Col.CUSTOMER), pl.col(Col.ARTICLE)).alias(KEY))  # one integer: faster
            .agg((pl.col(SHARE) * pl.col(POP)).sum().alias(Col.SCORE))
        )
        customer, article = halves(KEY)
        return ranked(mixed.select(customer.alias(Col.CUSTOMER), article.alias(Col.ARTICLE), Col.SCORE), self.n)
