"""The time split: history is every row before the cutoff, labels the 7 days from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from hmrec.schema import Col
from hmrec.text import quoted

LABEL_DAYS = 7


def parse_cutoff(text: str) -> date:
    """A ``YYYY-MM-DD`` cutoff date, with a message a user can act on when it is not one."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"cutoff {quoted(text)} is not a date of the form YYYY-MM-DD") from exc


def default_cutoff(transactions: pl.LazyFrame) -> date:
    """The first day of the last 7 days in the data: those days are the holdout week."""
    last = transactions.select(pl.col(Col.DATE).max()).collect().item()
    if last is None:
        raise ValueError("there are no transactions to split")
    return last - timedelta(days=LABEL_DAYS - 1)


def days_before(cutoff: date) -> pl.Expr:
    """Whole days between a transaction and the cutoff (1 for the day before it)."""
    return (pl.lit(cutoff) - pl.col(Col.DATE)).dt.total_days()


def history(transactions: pl.LazyFrame, cutoff: date) -> pl.LazyFrame:
    """Rows strictly before ``cutoff``: all a model may see."""
    return transactions.filter(pl.col(Col.DATE) < cutoff)


def label_rows(transactions: pl.LazyFrame, cutoff: date, days: int = LABEL_DAYS) -> pl.LazyFrame:
    """Rows in ``[cutoff, cutoff + days)``."""
    return transactions.filter(pl.col(Col.DATE).is_between(cutoff, cutoff + timedelta(days=days), closed="left"))


def purchases(labels: pl.LazyFrame) -> pl.LazyFrame:
    """Distinct ``(customer, article)`` pairs bought in the label rows."""
    return labels.select(Col.CUSTOMER, Col.ARTICLE).unique()


@dataclass(frozen=True)
class Split:
    """A cutoff with the history before it and the purchases of the week from it."""

    cutoff: date
    history: pl.LazyFrame
    truth: pl.LazyFrame

    @classmethod
    def at(cls, transactions: pl.LazyFrame, cutoff: date | None = None) -> Split:
        cutoff = cutoff or default_cutoff(transactions)
        return cls(cutoff, history(transactions, cutoff), purchases(label_rows(transactions, cutoff)))
