"""Labelled weeks kept on disk until LightGBM bins them (docs/scale-out.md): each week's float32
matrix goes to a temporary file as soon as it is built, and LightGBM reads the files a batch of
rows at a time (``lightgbm.Sequence``) when it bins them, so the fit never holds the matrices of
the weeks the trees learn from. The bins, so the trees, are those of the matrices held in memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import lightgbm as lgb
import numpy as np

from hmrec.ranking.config import RankerConfig
from hmrec.ranking.model import FitDataset, Rows, TrainingSet, ValidationSet


class StoredWeeks:
    """Labelled weeks on disk, in the order they are added: their matrices in a temporary folder
    (removed by ``close``), their labels and query sizes in memory."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="hmrec-weeks-")
        self._files: list[tuple[Path, int, int]] = []
        self._labels: list[np.ndarray] = []
        self._sizes: list[np.ndarray] = []

    def add(self, rows: Rows) -> None:
        """Write ``rows``' matrix to the folder (a week without rows adds nothing)."""
        if not rows.height:
            return
        path = Path(self._folder.name) / f"week-{len(self._files):03d}.f32"
        np.ascontiguousarray(rows.features, dtype=np.float32).tofile(path)
        self._files.append((path, rows.height, rows.features.shape[1]))
        self._labels.append(rows.labels)
        self._sizes.append(rows.sizes)

    def add_parts(self, parts: Iterable[Rows]) -> None:
        """One week from parts of other customers, each sorted by customer (as an engine hands
        them over, in any order): each part's matrix written as it comes, then the queries put
        in customer order on disk, a run of rows at a time. The same file, labels and query
        sizes as ``add`` of the week sorted whole, without ever holding it."""
        folder = Path(self._folder.name)
        raw = folder / f"week-{len(self._files):03d}.parts"
        labels, sizes, customers, columns = [], [], [], 0
        with open(raw, "wb") as out:
            for rows in parts:
                if rows.height:
                    np.ascontiguousarray(rows.features, dtype=np.float32).tofile(out)
                    labels.append(rows.labels)
                    sizes.append(rows.sizes)
                    customers.append(rows.customers)
                    columns = rows.features.shape[1]
        if not labels:
            raw.unlink()
            return
        size, label = np.concatenate(sizes).astype(np.int64), np.concatenate(labels)
        order = np.argsort(np.concatenate(customers), kind="stable")
        start = np.cumsum(size) - size  # each query's first row in the parts' file
        path = raw.with_suffix(".f32")
        _copy_queries(raw, path, start[order], size[order], columns * 4)
        raw.unlink()
        rows_in_order = np.repeat(start[order] - (np.cumsum(size[order]) - size[order]), size[order])
        rows_in_order += np.arange(len(label))
        self._files.append((path, len(label), columns))
        self._labels.append(label[rows_in_order])
        self._sizes.append(size[order])

    @property
    def height(self) -> int:
        return sum(n for _, n, _ in self._files)

    def binned(self, features: Sequence[str], config: RankerConfig) -> TrainingSet:
        """The weeks binned into LightGBM's dataset under ``config``'s parameters: the dataset
        ``TrainingSet.of`` makes of the same weeks held as matrices."""
        if not self._files:
            raise ValueError("no training rows: no week had a buyer whose candidates include an article they bought")
        data = FitDataset(
            self._sequences(),
            label=np.concatenate(self._labels),
            group=np.concatenate(self._sizes),
            feature_name=list(features),
            params=config.params(),
            free_raw_data=True,
        )
        return TrainingSet(data.construct(), self.height, config)

    def validation(self, features: Sequence[str], train: TrainingSet) -> ValidationSet:
        """The weeks binned under ``train``'s bins (LightGBM's reference), as the week that picks
        the rounds: the dataset ``fit_ranker`` bins from the same weeks held as matrices."""
        if not self._files:
            return ValidationSet(None, 0)
        data = FitDataset(
            self._sequences(),
            label=np.concatenate(self._labels),
            group=np.concatenate(self._sizes),
            feature_name=list(features),
            params=train.config.params(),
            reference=train.dataset,
            free_raw_data=True,
        )
        return ValidationSet(data.construct(), self.height)

    def _sequences(self) -> list[lgb.Sequence]:
        return [_WeekFile(path, n, columns) for path, n, columns in self._files]

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> StoredWeeks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy_queries(source: Path, target: Path, starts: np.ndarray, sizes: np.ndarray, row_bytes: int) -> None:
    """``target``: the rows of ``source`` in the order of the queries (``starts``, ``sizes`` in
    rows), each run of consecutive queries copied at once."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        i = 0
        while i < len(starts):
            j = i + 1
            while j < len(starts) and starts[j] == starts[j - 1] + sizes[j - 1]:
                j += 1
            src.seek(int(starts[i]) * row_bytes)
            remaining = int(starts[j - 1] + sizes[j - 1] - starts[i]) * row_bytes
            while remaining:
                chunk = src.read(min(remaining, 1 << 24))
                dst.write(chunk)
                remaining -= len(chunk)
            i = j


class _WeekFile(lgb.Sequence):
    """One week's float32 matrix in a file (rows one after another), read a batch at a time: a
    slice reads those rows; one row (the rows the bins are found from, asked in rising order)
    reads its whole batch once and keeps it until a row of another is asked for."""

    batch_size = 8192

    def __init__(self, path: Path, rows: int, columns: int) -> None:
        self.path, self.rows, self.columns = path, rows, columns
        self._block, self._cached = -1, np.empty((0, columns), np.float32)

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, index: int | slice) -> np.ndarray:  # type: ignore[override]
        if isinstance(index, slice):
            start, stop, _ = index.indices(self.rows)
            return self._read(start, stop - start)
        block = int(index) // self.batch_size
        if block != self._block:
            start = block * self.batch_size
            self._block, self._cached = block, self._read(start, min(self.batch_size, self.rows - start))
        return self._cached[int(index) - block * self.batch_size].astype(np.float64)  # as LightGBM samples

    def _read(self, start: int, count: int) -> np.ndarray:
        with open(self.path, "rb") as handle:
            handle.seek(start * self.columns * 4)
            return np.fromfile(handle, dtype=np.float32, count=count * self.columns).reshape(count, self.columns)
