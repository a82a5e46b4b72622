"""What every model's own files share when a fitted model is saved and read back
(``model.Model.save``/``load``): the error a user sees for a folder that cannot score, the
reading guard that turns any library's failure into it, and the names of the model-specific
files. A saved model is data: tensors, LightGBM's text and parquet, never a pickle of code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from hmrec.text import first_line

MODEL_FILE = "model.json"
"""The hmrec version, the model format, the model's name, its cutoff and fill list."""
SETTINGS_FILE = "settings.toml"
"""The settings it was fitted with, which ``--config`` reads back."""
ARTICLES_FILE = "articles.parquet"
"""The article ids of the catalogue it was fitted on, in that data's index order."""
RANKER_DIR = "ranker"
"""The two-stage model's trees, feature list and importance (``ranking.model.FittedRanker``)."""
MF_FILE = "mf.pt"
"""The MF model's tensors and plain settings (read with ``torch.load(weights_only=True)``)."""
CUSTOMERS_FILE = "customers.parquet"
"""The MF model's customer ids, in the order of its factor rows."""
AGAIN = "fit the model again with hmrec fit"


class ModelError(ValueError):
    """A saved model that cannot score the data at hand; the message says what to do."""


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Any failure to read a model file becomes one :class:`ModelError` naming it."""
    try:
        yield
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail in any library's own way
        text = first_line(exc, 300)
        if text.startswith(str(path)):  # the message already names the file (one inside ``path``)
            raise ModelError(f"{text}; {AGAIN}") from None
        raise ModelError(f"{path}: cannot be read ({first_line(exc)}); {AGAIN}") from None


def id_column(path: Path, column: str) -> pl.Series:
    """The ``column`` of ids in a model's parquet file, checked (text, no nulls)."""
    with reading(path):
        frame = pl.read_parquet(path, glob=False)
    if column not in frame.columns or frame.schema[column] != pl.String or frame[column].null_count():
        raise ModelError(f"{path}: needs a {column} column of ids (text, no empty values); fit the model again")
    return frame[column]
