"""``hmrec check``: a data-quality summary of the Kaggle files in a folder, read as they are
(nothing is prepared or written). Problems that would make a run wrong are errors; what a
shop may well mean (repeated rows: the same article bought twice a day; prices far from the
median) is a warning or a plain figure.

Each file is read in a few streaming passes: the full-size shop (33.2M transaction rows) checks
in 36.9 s and 2.55 GB (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from hmrec.data import validate as v
from hmrec.data.ingest import article_id_10, both_formats, find_file, reading, scan_raw
from hmrec.data.split import FEW_BUYERS, date_counts, stray_dates
from hmrec.schema import ARTICLE_COLUMNS, ARTICLE_INT_COLUMNS, CUSTOMER_COLUMNS, TRANSACTION_COLUMNS, Col

PRICE_OUTLIER = 1000.0
"""A price this many times the median (or below it by as much) is counted as an outlier."""


@dataclass(frozen=True)
class FileSummary:
    """One input file: its path, rows and null count per column."""

    name: str
    path: Path
    rows: int
    nulls: dict[str, int]


@dataclass
class CheckReport:
    """What ``check`` found. ``errors`` make a run wrong or impossible (``hmrec check`` exits 1);
    ``warnings`` deserve a look."""

    files: list[FileSummary] = field(default_factory=list)
    first: date | None = None
    last: date | None = None
    weeks: pl.DataFrame | None = None
    """``week_start, rows, buyers``: 7-day weeks ending on the last day, oldest first."""
    prices: dict[str, float] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    """Ids the transactions (or the sample submission) use that the customer or article table lacks."""
    duplicate_ids: dict[str, int] = field(default_factory=dict)
    duplicate_rows: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check(data_dir: Path | str, on_step: Callable[[str], None] | None = None, *, train_weeks: int) -> CheckReport:
    """Check the Kaggle files in ``data_dir`` (CSV or parquet) and summarise them; ``train_weeks``
    is how many weeks before the last the ranker learns from (whether the log has them)."""
    data_dir = Path(data_dir)
    step = on_step or (lambda _text: None)
    report = CheckReport()
    if not data_dir.is_dir():
        report.errors.append(f"{data_dir}: no such folder")
        return report
    report.warnings.extend(both_formats(data_dir))
    paths = {}
    for key in ("transactions", "customers", "articles", "sample_submission"):
        try:
            paths[key] = find_file(data_dir, key, required=key != "sample_submission")
        except v.DataError as exc:
            report.errors.append(str(exc))
    frames: dict[str, pl.LazyFrame] = {}
    columns = {
        "transactions": TRANSACTION_COLUMNS,
        "customers": CUSTOMER_COLUMNS,
        "articles": ARTICLE_COLUMNS,
        "sample_submission": [Col.CUSTOMER_ID],
    }
    checks = {
        "transactions": v.transaction_checks(),
        "customers": [c for c in v.customer_checks() if c.problem != v.unique(Col.CUSTOMER_ID).problem],
        "articles": [c for c in v.article_checks(ARTICLE_INT_COLUMNS) if c.problem != v.unique(Col.ARTICLE_ID).problem],
        "sample_submission": [v.CUSTOMER_ID_CHECK],
    }
    for key, path in paths.items():
        if path is None:
            continue
        step(f"reading {path.name}")
        try:
            with reading(path):
                frame = scan_raw(path, columns[key])
                if key == "articles" or key == "transactions":
                    frame = frame.with_columns(article_id_10())
                frames[key] = frame
                _summarise(report, key, path, frame, checks[key])
        except v.DataError as exc:
            report.errors.append(str(exc))
            frames.pop(key, None)
    if "transactions" in frames:
        step("counting weeks and prices")
        _dates_and_prices(report, frames["transactions"], paths["transactions"], train_weeks)
        step("matching ids")
        _unknown_ids(report, frames)
    return report


def _summarise(report: CheckReport, key: str, path: Path, frame: pl.LazyFrame, checks: list[v.Check]) -> None:
    """Rows, nulls per column, rows breaking each format check, duplicate rows (counted by a
    64-bit hash of each row) and ids."""
    names = frame.collect_schema().names()
    id_column = {"customers": Col.CUSTOMER_ID, "articles": Col.ARTICLE_ID, "sample_submission": Col.CUSTOMER_ID}
    counts = frame.select(
        pl.len().alias("__rows"),
        *(pl.col(c).null_count().alias(f"__null_{c}") for c in names),
        *(c.bad.sum().alias(f"__check{i}") for i, c in enumerate(checks)),
        pl.struct(names).hash().n_unique().alias("__distinct"),
        *([pl.col(id_column[key]).n_unique().alias("__ids")] if key in id_column else []),
    ).collect(engine="streaming")
    rows = int(counts["__rows"][0])
    report.files.append(FileSummary(key, path, rows, {c: int(counts[f"__null_{c}"][0]) for c in names}))
    if rows == 0:
        report.errors.append(f"{path}: the file has no rows")
        return
    for i, c in enumerate(checks):
        bad = int(counts[f"__check{i}"][0])
        if bad:
            report.errors.append(v.describe(frame, path, c, bad))
    repeated = rows - int(counts["__distinct"][0])
    if repeated:
        report.duplicate_rows[key] = repeated
        if key == "transactions":
            report.warnings.append(
                f"{path.name}: {repeated:,} row(s) repeat an earlier row exactly (kept: in the Kaggle data a repeated "
                "row is one more unit of the article bought that day)"
            )
    if key in id_column:
        dupes = rows - int(counts["__ids"][0])
        report.duplicate_ids[key] = dupes
        if dupes:
            report.errors.append(
                f"{path}: {dupes:,} row(s) repeat a {id_column[key]} already listed (ids must be unique); "
                "hmrec prepare refuses the file"
            )


def _lines(tx: pl.LazyFrame, path: Path, rows: pl.Expr) -> str:
    """Where the first rows matching ``rows`` are in the file: "lines 12, 40" (a CSV counts its
    header as line 1) or "rows 11, 39" (parquet)."""
    word, found = v.first_rows(tx, path, rows, Col.DATE)
    return f"{word}s {', '.join(str(line) for line, _ in found)} of {path.name}"


def _dates_and_prices(report: CheckReport, tx: pl.LazyFrame, path: Path, train_weeks: int) -> None:
    """The log's dates and prices: its span, price range and outliers, rows and buyers per week,
    the weeks a model trains on, and dates far before or after the rest."""
    typed = tx.select(
        v.parsed_date(Col.DATE).alias(Col.DATE),
        Col.CUSTOMER_ID,
        v.parsed_float(Col.PRICE).alias(Col.PRICE),
    ).filter(pl.col(Col.DATE).is_not_null())
    span = typed.select(
        pl.col(Col.DATE).min().alias("first"),
        pl.col(Col.DATE).max().alias("last"),
        pl.col(Col.PRICE).min().alias("min"),
        pl.col(Col.PRICE).median().alias("median"),
        pl.col(Col.PRICE).max().alias("max"),
    ).collect(engine="streaming")
    if span["first"][0] is None:
        return
    report.first, report.last = span["first"][0], span["last"][0]
    median = span["median"][0]
    report.prices = {"min": span["min"][0], "median": median, "max": span["max"][0]}
    _price_outliers(report, typed, median)
    weeks = _weeks(report, typed)
    _training_weeks(report, train_weeks)
    _stray_dates(report, tx, path, typed, weeks.height)


def _price_outliers(report: CheckReport, typed: pl.LazyFrame, median: float | None) -> None:
    """A warning counting prices far from the median (kept: a unit to check)."""
    if median is None or median <= 0:
        return
    outliers = (
        typed.select(
            ((pl.col(Col.PRICE) > PRICE_OUTLIER * median) | (pl.col(Col.PRICE) < median / PRICE_OUTLIER)).sum()
        )
        .collect(engine="streaming")
        .item()
    )
    report.prices["outliers"] = float(outliers)
    if outliers:
        report.warnings.append(
            f"{outliers:,} transaction price(s) are over {PRICE_OUTLIER:g} times the median {median:.6g} or under "
            f"1/{PRICE_OUTLIER:g} of it (kept: check the unit)"
        )


def _weeks(report: CheckReport, typed: pl.LazyFrame) -> pl.DataFrame:
    """Rows and buyers per week back from the last day (a week without a purchase: zeros)."""
    week = ((pl.lit(report.last) - pl.col(Col.DATE)).dt.total_days() // 7).alias("__back")
    counted = (
        typed.group_by(week)
        .agg(pl.len().alias("rows"), pl.col(Col.CUSTOMER_ID).n_unique().alias("buyers"))
        .collect(engine="streaming")
    )
    every = pl.DataFrame({"__back": pl.int_range(0, counted["__back"].max() + 1, eager=True)})
    weeks = (  # a week without a purchase is a row of zeros: a gap in the log shows
        every.cast({"__back": counted.schema["__back"]})
        .join(counted, on="__back", how="left")
        .fill_null(0)
        .sort("__back", descending=True)
    )
    start = pl.lit(report.last) - pl.duration(days=pl.col("__back") * 7 + 6)
    report.weeks = weeks.select(start.cast(pl.Date).alias("week_start"), "rows", "buyers")
    return weeks


def _stray_dates(report: CheckReport, tx: pl.LazyFrame, path: Path, typed: pl.LazyFrame, n_weeks: int) -> None:
    """Dates far before the rest (a warning), far after it (an error), or a last week with far
    fewer buyers than usual (a warning naming the --cutoff to use)."""
    days = date_counts(typed.select(Col.DATE))
    early = stray_dates(days, late=False)
    if early is not None:
        last_stray, start, rows = early
        where = _lines(tx, path, v.parsed_date(Col.DATE) <= last_stray)
        report.warnings.append(
            f"{rows} transaction row(s) are dated up to {last_stray}, {(start - last_stray).days} days before the rest "
            f"of the log (which starts {start}; first: {where}): a date typed wrong? (kept: they are only old "
            "history to a model)"
        )
    stray = stray_dates(days)
    if stray is not None:
        end, first, rows = stray
        where = _lines(tx, path, v.parsed_date(Col.DATE) >= first)
        report.errors.append(
            f"{rows} transaction row(s) are dated from {first} on, {(first - end).days} days after the rest of the "
            f"log (which ends {end}; first: {where}): a holdout week or a submission would be about them. Fix those "
            f"dates, or use --cutoff {end - timedelta(days=6)} to hold out the last real week"
        )
    elif n_weeks >= 3:
        buyers = report.weeks["buyers"].to_list()
        usual = sorted(buyers[-5:-1])[len(buyers[-5:-1]) // 2]
        if usual and buyers[-1] < FEW_BUYERS * usual:
            report.warnings.append(
                f"the last week (from {report.weeks['week_start'][-1]}) has {buyers[-1]} buyer(s) against {usual} in "
                f"a usual week before it: evaluate's default holdout week would be refused; pass --cutoff "
                f"{report.weeks['week_start'][-2]}"
            )


def _training_weeks(report: CheckReport, train_weeks: int) -> None:
    """What the ranker (the default model) will learn from: ``submit`` labels the ``train_weeks``
    weeks before the last one and needs at least one with buyers and an older history (its
    candidates come from that history); without one it fails, so that is an error here. Empty
    weeks among them, or none for ``evaluate`` (a week earlier), are warnings."""
    assert report.weeks is not None
    buyers = report.weeks["buyers"].to_list()[::-1]  # index b: b weeks before the last
    starts = report.weeks["week_start"].to_list()[::-1]

    def usable(b: int) -> bool:
        return b < len(buyers) and buyers[b] > 0 and any(buyers[b + 1 :])

    submit = range(1, train_weeks + 1)
    if not any(usable(b) for b in submit):
        report.errors.append(
            f"the ranker (the default model of submit and fit) cannot learn from this log: it labels the {train_weeks} "
            f"weeks before the last and needs one with buyers and older purchases before it, but the log has "
            f"{len(buyers)} week(s) ({sum(1 for n in buyers if n)} with purchases). Use a longer log, or "
            "--model repurchase (or popular), which need no training weeks"
        )
        return
    empty = [starts[b] for b in submit if b < len(buyers) and not buyers[b]]
    if empty:
        report.warnings.append(
            f"{len(empty)} of the {train_weeks} weeks the ranker learns from have no purchases (from "
            f"{', '.join(str(d) for d in empty)}): a gap in the log? The ranker learns from the others"
        )
    if not any(usable(b) for b in range(2, train_weeks + 2)):
        report.warnings.append(
            "evaluate's ranker (trained a week earlier, the last week held out) would have no week to learn from: "
            "evaluate it with --cutoff on an earlier week, or evaluate the rules (--model repurchase)"
        )


def _unknown_ids(report: CheckReport, frames: dict[str, pl.LazyFrame]) -> None:
    tx = frames["transactions"]
    pairs = [("customers", Col.CUSTOMER_ID, "transactions"), ("articles", Col.ARTICLE_ID, "transactions")]
    if "sample_submission" in frames:
        pairs.append(("customers", Col.CUSTOMER_ID, "sample_submission"))
    for table, column, user in pairs:
        if table not in frames:
            continue
        known = frames[table].select(column).unique()
        used = (tx if user == "transactions" else frames[user]).select(column).unique()
        n = used.join(known, on=column, how="anti").select(pl.len()).collect(engine="streaming").item()
        report.unknown[f"{user}.{column}"] = n
        if n:
            report.warnings.append(
                f"{user}: {n:,} distinct {column}(s) not in {table} (kept by prepare; they have no "
                f"{'age or postal code' if table == 'customers' else 'catalogue attributes'})"
            )
