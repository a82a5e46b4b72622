"""The transactions partitioned by customer: shard ``s`` of ``n`` holds every row of the customers
whose index is ``s`` modulo ``n``, so that a worker reads its customers' rows, not the whole log.

``hmrec prepare --shards N`` (or the first ``--engine ray`` run) writes them beside the prepared
files, as ``prepared/shards-N/shard-SSSSS.parquet``; they go with the prepared folder when it is
rebuilt. Rows keep the order of ``transactions.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from hmrec.data.atomic import write_folder_atomic
from hmrec.data.dataset import Dataset
from hmrec.schema import Col


def shard_of(n: int) -> pl.Expr:
    """The shard of each row's (or each value's) customer."""
    return pl.col(Col.CUSTOMER) % n


def shard_folder(dataset: Dataset, n: int) -> Path:
    return dataset.root / f"shards-{n}"


def shard_file(folder: Path, shard: int) -> Path:
    return folder / f"shard-{shard:05d}.parquet"


def has_shards(dataset: Dataset, n: int) -> bool:
    """True when every shard file of ``n`` is written."""
    folder = shard_folder(dataset, n)
    return all(shard_file(folder, s).is_file() for s in range(n))


def written_shards(dataset: Dataset) -> list[int]:
    """The numbers of shards whose files are all written, smallest first."""
    counts = []
    for folder in dataset.root.glob("shards-*"):
        n = folder.name.removeprefix("shards-")
        if n.isdigit() and int(n) > 0 and has_shards(dataset, int(n)):
            counts.append(int(n))
    return sorted(counts)


def write_shards(dataset: Dataset, n: int) -> Path:
    """Write the ``n`` shard files (one streaming pass each; all or nothing) and return their
    folder."""
    if n < 1:
        raise ValueError(f"the number of shards must be at least 1, got {n}")

    def write(tmp: Path) -> None:
        for shard in range(n):
            dataset.transactions().filter(shard_of(n) == shard).sink_parquet(shard_file(tmp, shard))

    return write_folder_atomic(shard_folder(dataset, n), write)


def shard_rows(dataset: Dataset, n: int, shard: int) -> pl.LazyFrame:
    """The transactions of shard ``shard`` of ``n``, from its file (see ``write_shards``)."""
    return pl.scan_parquet(shard_file(shard_folder(dataset, n), shard), glob=False)
