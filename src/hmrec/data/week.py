"""One week's inputs to the retrieval and feature stages, as lazy frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split, history
from hmrec.schema import Col


@dataclass(frozen=True)
class WeekInput:
    """What a stage reads for one week: the history before ``cutoff``, whom to serve, the catalogue.

    ``customers`` is a frame with one column, ``customer``; ``articles`` and ``customer_table``
    are the prepared tables (``articles.parquet`` and ``customers.parquet``).
    """

    history: pl.LazyFrame
    customers: pl.LazyFrame
    cutoff: date
    articles: pl.LazyFrame
    customer_table: pl.LazyFrame

    @classmethod
    def before(
        cls,
        transactions: pl.LazyFrame,
        cutoff: date,
        customers: pl.Series,
        articles: pl.LazyFrame,
        customer_table: pl.LazyFrame,
    ) -> WeekInput:
        """The rows of ``transactions`` before ``cutoff`` (no later row is ever read), the given
        customers, the catalogue tables."""
        return cls(
            history=history(transactions, cutoff),
            customers=pl.LazyFrame({Col.CUSTOMER: customers.cast(pl.UInt32)}).unique(),
            cutoff=cutoff,
            articles=articles,
            customer_table=customer_table,
        )

    @classmethod
    def of(cls, dataset: Dataset, split: Split, customers: pl.Series) -> WeekInput:
        """The split's history and cutoff, the given customers, the dataset's tables."""
        return cls.before(split.history, split.cutoff, customers, dataset.articles(), dataset.customers())

    def past(self) -> pl.LazyFrame:
        """History rows before the cutoff (whatever the history was given)."""
        return self.history.filter(pl.col(Col.DATE) < self.cutoff)

    def served(self) -> pl.LazyFrame:
        """Past rows of the served customers only: filter first, aggregate after."""
        return self.past().join(self.customers, on=Col.CUSTOMER, how="semi")

    def recent(self, weeks: float) -> pl.LazyFrame:
        """History rows of the last ``weeks`` weeks before the cutoff."""
        start = self.cutoff - timedelta(days=round(7 * weeks))
        return self.past().filter(pl.col(Col.DATE) >= start)
