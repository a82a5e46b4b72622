"""Validation of the raw Kaggle files: every check is a lazy boolean "this row is bad" expression.

A file's checks run as one streaming aggregation (a count per check); only when some check
fails is the file scanned again to fetch the first offending rows for the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from hmrec.schema import ARTICLE_ID_PATTERN, CUSTOMER_ID_PATTERN, Col
from hmrec.text import quoted

DATE_FORMAT = "%Y-%m-%d"
SHOWN_ROWS = 5


class DataError(ValueError):
    """Input data a user must fix; the message names the file, the column and the rows."""


@dataclass(frozen=True)
class Check:
    """One rule over one column: ``bad`` is true on the rows that break it."""

    column: str
    bad: pl.Expr
    problem: str


def parsed_date(column: str) -> pl.Expr:
    return pl.col(column).str.to_date(DATE_FORMAT, strict=False)


def parsed_float(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)


def parsed_int(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().cast(pl.Int64, strict=False)


def required_date(column: str) -> Check:
    return Check(column, parsed_date(column).is_null(), f"is not a date ({DATE_FORMAT})")


def required_pattern(column: str, pattern: str, what: str) -> Check:
    return Check(column, ~pl.col(column).str.contains(pattern).fill_null(False), f"is not {what}")


FLOAT32_MAX = 3.4028234663852886e38
"""Prices are stored as 32-bit floats: a larger value would become infinity."""


def price_check(column: str) -> Check:
    value = parsed_float(column)
    bad = value.is_null() | value.is_nan() | value.is_infinite() | (value < 0) | (value > FLOAT32_MAX)
    return Check(column, bad.fill_null(True), "is not a finite non-negative number")


CHANNELS = (1, 2)


def channel_check(column: str) -> Check:
    bad = ~parsed_int(column).is_in(list(CHANNELS)).fill_null(False)
    return Check(column, bad, "is not 1 (store) or 2 (online)")


def required_int(column: str) -> Check:
    return Check(column, parsed_int(column).is_null(), "is not an integer")


def optional_number(column: str, low: float, high: float) -> Check:
    value = parsed_float(column)
    present = pl.col(column).is_not_null()
    bad = present & (value.is_null() | ~value.is_between(low, high)).fill_null(True)
    return Check(column, bad, f"is neither empty nor a number in [{low:g}, {high:g}]")


def unique(column: str) -> Check:
    return Check(column, pl.col(column).is_duplicated(), "is repeated (ids must be unique)")


CUSTOMER_ID_CHECK = required_pattern(Col.CUSTOMER_ID, CUSTOMER_ID_PATTERN, "64 lowercase hex characters")
ARTICLE_ID_CHECK = required_pattern(Col.ARTICLE_ID, ARTICLE_ID_PATTERN, "an article id of at most 10 digits")


def transaction_checks() -> list[Check]:
    return [
        required_date(Col.DATE),
        CUSTOMER_ID_CHECK,
        ARTICLE_ID_CHECK,
        price_check(Col.PRICE),
        channel_check(Col.CHANNEL),
    ]


def customer_checks() -> list[Check]:
    return [
        CUSTOMER_ID_CHECK,
        unique(Col.CUSTOMER_ID),
        optional_number(Col.FN, 0, 1),
        optional_number(Col.ACTIVE, 0, 1),
        optional_number(Col.AGE, 0, 130),
    ]


def article_checks(int_columns: list[str]) -> list[Check]:
    return [ARTICLE_ID_CHECK, unique(Col.ARTICLE_ID), *(required_int(c) for c in int_columns)]


def submission_checks() -> list[Check]:
    return [CUSTOMER_ID_CHECK, unique(Col.CUSTOMER_ID)]


def run_checks(lf: pl.LazyFrame, path: Path, checks: list[Check]) -> int:
    """Raise :class:`DataError` naming every failing check; return the number of rows."""
    counts = lf.select(
        pl.len().alias("__rows"),
        *(c.bad.sum().alias(f"__check{i}") for i, c in enumerate(checks)),
    ).collect(engine="streaming")
    n_rows = int(counts["__rows"][0])
    if n_rows == 0:
        raise DataError(f"{path}: the file has no rows")
    failures = [(c, int(counts[f"__check{i}"][0])) for i, c in enumerate(checks)]
    failures = [(c, n) for c, n in failures if n > 0]
    if failures:
        raise DataError("\n".join(describe(lf, path, c, n) for c, n in failures))
    return n_rows


def first_rows(lf: pl.LazyFrame, path: Path, bad: pl.Expr, column: str) -> tuple[str, list[tuple[int, object]]]:
    """Where the first ``SHOWN_ROWS`` rows of a raw file where ``bad`` holds are, with their
    ``column``: ``("line", [(line, value), ...])`` for a CSV (its header is line 1), ``"row"``
    and 1-based row numbers for parquet."""
    is_csv = path.suffix.lower() == ".csv"
    rows = (
        lf.with_row_index("__line", offset=2 if is_csv else 1)
        .filter(bad)
        .select("__line", column)
        .head(SHOWN_ROWS)
        .collect(engine="streaming")
    )
    return "line" if is_csv else "row", list(rows.iter_rows())


def describe(lf: pl.LazyFrame, path: Path, check: Check, n_bad: int) -> str:
    word, rows = first_rows(lf, path, check.bad, check.column)
    shown = ", ".join(f"{word} {line}: {quoted(value)}" for line, value in rows)
    return f"{path}: column '{check.column}' {check.problem} in {n_bad} row(s); first: {shown}"
