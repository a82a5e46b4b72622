"""Other colours and variants (same ``product_code``) of what the customer bought recently."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmrec.data.lists import decayed_counts
from hmrec.data.week import WeekInput, once_per_week
from hmrec.retrieval.base import ranked
from hmrec.schema import Col


@dataclass(frozen=True)
class SameProductSource:
    """Siblings of the articles bought in the last ``weeks`` weeks that sold in the last ``alive_weeks``.

    Score: the customer's decayed count for the product, times ``log1p`` of the sibling's
    units sold in the last ``alive_weeks`` weeks. The bought article itself is left out.
    """

    n: int = 30
    weeks: int = 12
    decay: float = 0.03
    alive_weeks: int = 4
    name: str = "same_product"

    @once_per_week
    def alive(self, data: WeekInput) -> pl.LazyFrame:
        """``article, units, product_code``: the articles sold in the last ``alive_weeks`` weeks."""
        product = data.articles.select(Col.ARTICLE, Col.PRODUCT_CODE)
        return data.recent(self.alive_weeks).group_by(Col.ARTICLE).agg(units=pl.len()).join(product, on=Col.ARTICLE)

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        product = data.articles.select(Col.ARTICLE, Col.PRODUCT_CODE)
        bought = decayed_counts(data.served(), data.cutoff, self.weeks, self.decay).join(product, on=Col.ARTICLE)
        affinity = bought.group_by(Col.CUSTOMER, Col.PRODUCT_CODE).agg(pl.col(Col.SCORE).sum().alias("affinity"))
        siblings = (
            affinity.join(self.alive(data), on=Col.PRODUCT_CODE)
            .join(bought.select(Col.CUSTOMER, Col.ARTICLE), on=[Col.CUSTOMER, Col.ARTICLE], how="anti")
            .select(Col.CUSTOMER, Col.ARTICLE, (pl.col("affinity") * pl.col("units").log1p()).alias(Col.SCORE))
        )
        return ranked(siblings, self.n)
