"""What every model's own files share when a fitted model is saved and read back
(``model.Model.save``/``load``): the error a user sees for a folder that cannot score, the
reading guard that turns any library's failure into it, the names of the model-specific
files, and the manifest (every file's size and SHA-256, written last and checked before
anything is read). A saved model is data: tensors, LightGBM's text and parquet, never a pickle of code."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from hmrec.data import outputs
from hmrec.text import cut, first_line

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


MANIFEST_FILE = "manifest.json"
"""A model folder's list of its files with their sizes and SHA-256, written last."""


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _files(folder: Path) -> list[Path]:
    """The model's files under ``folder`` (the manifest and the owner mark left out)."""
    skip = {MANIFEST_FILE, outputs.OWNER_FILE}
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in skip]


def write_manifest(folder: Path) -> None:
    """Write ``manifest.json``: the size and SHA-256 of every file of the model in ``folder``."""
    files = {str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": _digest(p)} for p in _files(folder)}
    (folder / MANIFEST_FILE).write_text(json.dumps({"files": files}, indent=1))


def check_manifest(folder: Path) -> None:
    """Raise :class:`ModelError` naming the first file of ``folder`` that is missing, or whose
    size or SHA-256 differs from what ``manifest.json`` recorded when the model was saved."""
    path = folder / MANIFEST_FILE
    again = "fit the model again with hmrec fit"
    if not path.is_file():
        raise ModelError(f"{path}: missing, so the model folder cannot be checked (a save that did not end?); {again}")
    try:
        files = json.loads(path.read_text())["files"]
        listed = {str(k): (int(v["size"]), str(v["sha256"])) for k, v in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise ModelError(f"{path}: damaged (not the manifest hmrec writes); {again}") from None
    for required in (MODEL_FILE, SETTINGS_FILE, ARTICLES_FILE):
        if required not in listed:
            raise ModelError(f"{path}: does not list {required}; {again}")
    for name, (size, sha) in listed.items():
        file = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ModelError(f"{path}: names a file outside the model folder ({cut(name, 80)}); {again}")
        if not file.is_file():
            raise ModelError(f"{file}: missing from the saved model; {again}")
        if file.stat().st_size != size or _digest(file) != sha:
            raise ModelError(f"{file}: damaged or edited since the model was saved (its SHA-256 differs); {again}")
