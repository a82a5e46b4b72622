"""The time split: history is every row before the cutoff, labels the 7 days from it."""

from __future__ import annotations

from collections.abc import Callable
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


STRAY_GAP_DAYS = 28
"""Days without a sale that cut a log's last dates off from the rest (when those hold few rows)."""
FEW_BUYERS = 0.1
"""A holdout week with fewer buyers than this share of the weeks before it is refused."""


def date_counts(transactions: pl.LazyFrame) -> pl.DataFrame:
    """``t_dat, n``: the rows of each date of the log, oldest first."""
    return transactions.group_by(Col.DATE).agg(pl.len().alias("n")).sort(Col.DATE).collect()


def stray_dates(log: pl.LazyFrame | pl.DataFrame, late: bool = True) -> tuple[date, date, int] | None:
    """Dates typed wrong at an end of the log (``log``: transactions, or their ``date_counts``).

    ``late``: ``(end of the log, first stray date, stray rows)`` when the last dates come more than
    ``STRAY_GAP_DAYS`` days after the rest and hold under 1% of its rows (say 2031 for 2021).
    Otherwise the first dates: ``(last stray date, start of the log proper, stray rows)`` when they
    come that long before the rest (say 1920 for 2020; only old history to a model). None when
    that end of the log is normal."""
    days = date_counts(log) if isinstance(log, pl.LazyFrame) else log
    if days.height < 2:
        return None
    gaps = days[Col.DATE].diff().dt.total_days().fill_null(0).to_list()
    big = [i for i, gap in enumerate(gaps) if gap > STRAY_GAP_DAYS]
    if not big:
        return None
    i = big[-1] if late else big[0]
    stray = int((days["n"][i:] if late else days["n"][:i]).sum())
    if stray >= 0.01 * int(days["n"].sum()):
        return None
    return days[Col.DATE][i - 1], days[Col.DATE][i], stray


def refuse_stray_dates(transactions: pl.LazyFrame, consequence: str, advice: Callable[[date], str]) -> None:
    """Raise ``ValueError`` naming the stray late dates of ``stray_dates``, if any: what they
    would do (``consequence``) and what to do (``advice`` of the log's last real date)."""
    stray = stray_dates(transactions)
    if stray is not None:
        end, first, rows = stray
        raise ValueError(
            f"{rows} transaction row(s) are dated from {first} on, {(first - end).days} days after the rest "
            f"of the log (which ends {end}): {consequence}. {advice(end)}"
        )


def check_default_holdout(transactions: pl.LazyFrame) -> None:
    """Refuse a default holdout week that cannot be a real week of the log: one made of stray
    late dates, or one with far fewer buyers than the weeks before it. The message names the
    rows and the ``--cutoff`` to use instead."""
    refuse_stray_dates(
        transactions,
        "the holdout week would hold only them",
        lambda end: (
            f"Fix those dates, or pass --cutoff {end - timedelta(days=LABEL_DAYS - 1)} to hold out "
            "the log's last real week"
        ),
    )
    cutoff = default_cutoff(transactions)
    start = cutoff - timedelta(days=28)
    week = ((pl.col(Col.DATE) - pl.lit(start)).dt.total_days() // 7).alias("__week")
    counts = (
        transactions.filter(pl.col(Col.DATE) >= start)
        .group_by(week)
        .agg(pl.col(Col.CUSTOMER).n_unique().alias("__buyers"))
        .collect()
    )
    per_week = dict(zip(counts["__week"].to_list(), counts["__buyers"].to_list(), strict=True))
    buyers = [per_week.get(k, 0) for k in range(4, -1, -1)]  # the holdout week first
    before = sorted(buyers[1:])
    usual = (before[1] + before[2]) / 2
    if usual > 0 and buyers[0] < FEW_BUYERS * usual:
        raise ValueError(
            f"the holdout week from {cutoff} has {buyers[0]} buyer(s) against {usual:g} in a usual week "
            f"before it (the log may end early in a week, or hold a few stray late dates): pass "
            f"--cutoff {cutoff - timedelta(days=7)} to hold out the week before, or fix the data"
        )


def days_before(cutoff: date) -> pl.Expr:
    """Whole days between a transaction and the cutoff (1 for the day before it)."""
    return (pl.lit(cutoff) - pl.col(Col.DATE)).dt.total_days()


def history(transactions: pl.LazyFrame, cutoff: date) -> pl.LazyFrame:
    """Rows strictly before ``cutoff``: all a model may see."""
    return transactions.filter(pl.col(Col.DATE) < cutoff)


def label_rows(transactions: pl.LazyFrame, cutoff: date, days: int = LABEL_DAYS) -> pl.LazyFrame:
    """Rows in ``[cutoff, cutoff + days)``."""
    return transactions.filter(pl.col(Col.DATE).is_between(cutoff, cutoff + timedelta(days=days), closed="left"))


def buyers(truth: pl.DataFrame) -> pl.Series:
    """The customers of a week's purchases (``customer, article`` rows), each once, sorted: the
    customers a holdout week is scored on and a labelled week trains on."""
    return truth[Col.CUSTOMER].unique().sort()


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
