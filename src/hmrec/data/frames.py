"""A dataset from frames in memory (``Dataset.from_frames``): the frames are written as the Kaggle
files would be and prepared by the same code, so they are validated exactly as files are.

The frames may be polars (eager or lazy) or pandas; pandas columns of numbers, booleans and dates
come across through numpy, text column by column (pyarrow is not needed).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from hmrec.data import outputs
from hmrec.data.atomic import staged
from hmrec.data.outputs import refuse_folder
from hmrec.data.validate import DataError
from hmrec.schema import FILES, Col

RAW_DIRNAME = "raw"
"""Where, inside the folder, the frames are written as Kaggle files (parquet)."""


def to_polars(frame: Any, name: str) -> pl.DataFrame:
    """``frame`` (a polars DataFrame or LazyFrame, or a pandas DataFrame) as a polars DataFrame."""
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pl.DataFrame):
        return frame
    if type(frame).__module__.startswith("pandas") and hasattr(frame, "columns"):
        return _from_pandas(frame)
    raise TypeError(f"{name} must be a polars or pandas DataFrame, got {type(frame).__name__}")


def _from_pandas(frame: Any) -> pl.DataFrame:
    columns = []
    for column in frame.columns:
        series = frame[column]
        kind = getattr(series.dtype, "kind", "O")
        if kind in "iufbM" and type(series.dtype).__module__ == "numpy":  # plain numpy storage
            values = pl.Series(str(column), series.to_numpy())
            columns.append(values.fill_nan(None) if kind == "f" else values)
        else:  # text, or a nullable extension type: Python values, missing ones as null
            items = [None if _missing(x) else x for x in series.tolist()]
            columns.append(pl.Series(str(column), items, strict=False))
    return pl.DataFrame(columns)


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT, pandas.NA
    except TypeError:
        return True  # pandas.NA refuses to be a bool


def write_frames(
    folder: Path,
    transactions: Any,
    articles: Any,
    customers: Any,
    sample_submission: Any | None = None,
) -> Path:
    """Write the frames as the Kaggle files (parquet) into ``folder/raw``, replaced whole (or
    left as it was on a failure); returns that folder."""
    raw = folder / RAW_DIRNAME
    frames = {"transactions": transactions, "articles": articles, "customers": customers}
    if sample_submission is not None:
        frames["sample_submission"] = sample_submission
    tables = {key: to_polars(frame, key) for key, frame in frames.items()}  # refused before anything is written
    with staged(raw) as tmp:
        for key, table in tables.items():
            if key == "transactions" and Col.DATE in table.columns and table[Col.DATE].dtype == pl.Datetime:
                table = table.with_columns(pl.col(Col.DATE).dt.date())  # a day, as the Kaggle file has it
            table.write_parquet(tmp / f"{FILES[key]}.parquet")
    return raw


def frames_folder(folder: Path | str | None) -> Path:
    """``folder`` (made if missing; refused when it holds files hmrec did not write), marked as
    hmrec's; or a temporary folder removed when the interpreter exits."""
    if folder is None:
        made = Path(tempfile.mkdtemp(prefix="hmrec-frames-"))
        atexit.register(shutil.rmtree, made, ignore_errors=True)
        return made
    folder = Path(folder)
    refuse_folder(folder, "Dataset.from_frames' folder")
    folder.mkdir(parents=True, exist_ok=True)
    outputs.mark(folder)
    return folder


@contextmanager
def named_as_frames(raw: Path) -> Iterator[None]:
    """A ``DataError`` about a file written from a frame names the frame instead (``the
    transactions frame: missing column(s) ...``)."""
    try:
        yield
    except DataError as exc:
        message = str(exc)
        for key, stem in FILES.items():
            message = message.replace(str(raw / f"{stem}.parquet"), f"the {key} frame")
        raise DataError(message) from None
