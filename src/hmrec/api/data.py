"""The data calls of the Python API: prepare and load a dataset, check the files, the holdout
split, the customers of a file, a log whose last dates are typed wrong."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl

from hmrec.data.check import CheckReport
from hmrec.data.check import check as _check
from hmrec.data.dataset import Dataset, PrepareResult
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.shards import write_shards
from hmrec.data.split import Split, check_default_holdout, parse_cutoff, refuse_stray_dates
from hmrec.progress import Step
from hmrec.ranking.config import RankerConfig
from hmrec.schema import Col


def prepare(
    data: Path | str,
    prepared: Path | str | None = None,
    on_step: Step | None = None,
    rebuild: bool = False,
    shards: int | None = None,
) -> PrepareResult:
    """Validate the Kaggle files in ``data`` and write the prepared parquet (``data/prepared``,
    or ``prepared``) unless it is up to date (``rebuild`` forces it); with ``shards``, also the
    transactions split by customer for ``--engine ray``. Returns the dataset and the warnings."""
    if shards is not None and shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    result = prepare_dataset(data, prepared, on_step, rebuild)
    if shards is not None:
        if on_step:
            on_step(f"writing {shards} shards")
        write_shards(result.dataset, shards)
    return result


def load(data: Path | str, prepared: Path | str | None = None) -> Dataset:
    """The prepared dataset of the Kaggle files in ``data`` (``prepare`` when needed); what the
    files' check found worth a word comes as Python warnings."""
    result = prepare(data, prepared)
    for message in result.warnings:
        warnings.warn(message, stacklevel=2)
    return result.dataset


def check(data: Path | str, on_step: Step | None = None) -> CheckReport:
    """A data-quality summary of the Kaggle files in ``data``: date range and rows per week,
    nulls per column, unknown and duplicate ids, duplicate rows, prices; ``report.errors`` lists
    what would make a run wrong."""
    return _check(data, on_step, train_weeks=RankerConfig().train_weeks)


def holdout(dataset: Dataset, cutoff: str | None = None) -> Split:
    """The holdout split at ``cutoff`` (YYYY-MM-DD; default: the data's last 7 days, refused when
    they cannot be a real week of the log, with the ``--cutoff`` to use)."""
    if cutoff is None:
        check_default_holdout(dataset.transactions())
    return Split.at(dataset.transactions(), parse_cutoff(cutoff) if cutoff else None)


def read_customers(path: Path | str) -> pl.Series:
    """The ``customer_id`` column of a CSV or parquet file, checked (64 lowercase hex characters
    each); repeated ids are kept once, in the order of their first row."""
    from hmrec.data import validate as v
    from hmrec.data.ingest import reading, scan_raw

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with reading(path):
        frame = scan_raw(path, [Col.CUSTOMER_ID])
        v.run_checks(frame, path, [v.CUSTOMER_ID_CHECK])
        return frame.collect()[Col.CUSTOMER_ID].unique(maintain_order=True)


def refuse_stray(dataset: Dataset, consequence: str) -> None:
    """Raise ``ValueError`` naming the rows when the log's last dates come long after the rest
    (a date typed wrong): ``consequence`` says what they would do."""
    refuse_stray_dates(
        dataset.transactions(), consequence, lambda end: "Fix those dates (hmrec check --data DIR lists them)"
    )
