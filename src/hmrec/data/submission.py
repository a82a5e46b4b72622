"""Writing a Kaggle submission: the edge where indices become ids again."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from hmrec.data.atomic import write_atomic
from hmrec.data.dataset import Dataset
from hmrec.data.outputs import data_inputs, refuse_file
from hmrec.schema import INDEX_DTYPE, SUBMISSION_COLUMNS, Col, K

_N = "__n"
"""The column of how many distinct articles a customer has (``predictions``)."""
_ARTICLES = "__articles"
"""The column of a customer's first ``k`` distinct articles, prepared indices (``predictions``)."""


def predictions(recs: pl.DataFrame, k: int = K) -> pl.DataFrame:
    """``customer, __articles, __n``: each customer's ``k`` first distinct articles of ``recs``
    (``customer, article, rank``) by rank, as prepared indices, and how many there are (an
    index stands for one Kaggle id: distinct indices are distinct ids)."""
    return (
        recs.lazy()
        .select(Col.CUSTOMER, Col.ARTICLE, Col.RANK)
        .sort(Col.CUSTOMER, Col.RANK)
        .group_by(Col.CUSTOMER, maintain_order=True)
        .agg(pl.col(Col.ARTICLE).unique(maintain_order=True).head(k).alias(_ARTICLES))
        .with_columns(pl.col(_ARTICLES).list.len().alias(_N))
        .collect()
    )


def _lines(articles: pl.Series, article_ids: pl.Series, k: int) -> pl.Series:
    """The prediction strings of ``articles`` (lists of exactly ``k`` article indices): each
    index's Kaggle id (``article_ids``: the id of index i at i), joined by spaces."""
    ids = article_ids.gather(articles.explode())
    return ids.reshape((-1, k)).arr.join(" ").alias(Col.PREDICTION)


BLOCK = 250_000
"""How many of a submission's lines (in its order) one bucket holds: each customer's list and
id go to disk in the bucket of their line, then each bucket is read, sorted and written."""

SLICE = 1_000_000
"""How many rows of the customer id map are read at a time."""

_POS, _BUCKET, _NONE = "__pos", "__bucket", np.iinfo(np.uint32).max


def _positions(customers: pl.Series) -> np.ndarray:
    """``pos[c]``: the line of customer index ``c`` in ``customers`` (``_NONE``: not there)."""
    pos = np.full(int(customers.max() or 0) + 1, _NONE, dtype=np.uint32)
    pos[customers.to_numpy()] = np.arange(customers.len(), dtype=np.uint32)
    return pos


def _placed(frame: pl.DataFrame, pos: np.ndarray, block: int) -> pl.DataFrame:
    """``frame``'s rows of customers with a line, with ``__pos`` (the line) and ``__bucket``."""
    customers = frame[Col.CUSTOMER].to_numpy()
    inside = customers < len(pos)
    lines = np.full(len(customers), _NONE, dtype=np.uint32)
    lines[inside] = pos[customers[inside]]
    return (
        frame.with_columns(pl.Series(_POS, lines))
        .filter(pl.col(_POS) != _NONE)
        .with_columns((pl.col(_POS) // block).alias(_BUCKET))
    )


@dataclass
class _Spill:
    """Pieces of frames on disk by bucket of their lines: ``files[bucket]``, ``rows[bucket]``."""

    folder: Path
    kind: str
    files: dict[int, list[Path]] = field(default_factory=lambda: defaultdict(list))
    rows: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, placed: pl.DataFrame) -> None:
        for (bucket,), rows in placed.partition_by(_BUCKET, as_dict=True).items():
            path = self.folder / f"{self.kind}-{bucket:06d}-{len(self.files[bucket]):06d}.parquet"
            rows.drop(_BUCKET).write_parquet(path)
            self.files[bucket].append(path)
            self.rows[bucket] += rows.height

    def read(self, bucket: int, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        """The bucket's rows sorted by line (none: an empty frame of ``schema``)."""
        files = self.files.get(bucket)
        return pl.read_parquet(files, glob=False).sort(_POS) if files else pl.DataFrame(schema=schema)


def submission_blocks(
    dataset: Dataset,
    recs: pl.DataFrame | Iterable[pl.DataFrame],
    k: int = K,
    order: pl.DataFrame | None = None,
    block: int = BLOCK,
) -> Iterator[pl.DataFrame]:
    """``customer_id, prediction`` for every customer of ``order`` (``customer, customer_id``;
    default: the submission's customers), in that order, ``block`` customers a frame.

    ``recs`` holds ``customer, article, rank``, or is frames of disjoint sets of customers
    (``Model.submission_parts``). Each is turned into its customers' lists (article indices),
    which go to disk in the bucket of their lines, as do the customers' ids; then each bucket is
    read and written. Neither the lists nor the ids are ever all held at once: what is held is a
    part, a bucket and one integer per customer. Raises before the first frame if a customer
    lacks ``k`` distinct articles, since Kaggle would score the gap as a miss.
    """
    parts = [recs] if isinstance(recs, pl.DataFrame) else recs
    customers = (dataset.submission_customers().collect() if order is None else order)[Col.CUSTOMER]
    pos, total = _positions(customers), customers.len()
    del customers
    with tempfile.TemporaryDirectory(prefix="hmrec-submission-") as scratch:
        lists, ids = _Spill(Path(scratch), "lists"), _Spill(Path(scratch), "ids")
        for part in parts:
            found = predictions(part, k).filter(pl.col(_N) >= k).select(Col.CUSTOMER, _ARTICLES)
            lists.add(_placed(found, pos, block).drop(Col.CUSTOMER))
        if order is None:
            mapping = dataset.ids.customers()
            for first in range(0, mapping.select(pl.len()).collect().item(), SLICE):
                ids.add(_placed(mapping.slice(first, SLICE).collect(), pos, block).drop(Col.CUSTOMER))
        buckets = range(0, max(-(-total // block), 1))
        sizes = [min(block, total - b * block) for b in buckets]
        missing = total - sum(lists.rows.values())
        if missing:
            bucket = next(b for b in buckets if lists.rows[b] < sizes[b])
            have = set(lists.read(bucket, {_POS: pl.UInt32})[_POS].to_list())
            line = next(bucket * block + i for i in range(sizes[bucket]) if bucket * block + i not in have)
            example = _id_at(ids, order, block, line)
            raise ValueError(f"{missing} customer(s) have fewer than {k} predictions, e.g. {example}")
        article_ids = dataset.ids.ids(Col.ARTICLE_ID)
        for b in buckets:
            found = lists.read(b, {_POS: pl.UInt32, _ARTICLES: pl.List(INDEX_DTYPE)})
            who = (
                order[Col.CUSTOMER_ID].slice(b * block, block)
                if order is not None
                else ids.read(b, {_POS: pl.UInt32, Col.CUSTOMER_ID: pl.String})[Col.CUSTOMER_ID]
            )
            if found.height != sizes[b] or who.len() != sizes[b]:
                raise ValueError(f"the lists of {found.height:,} customers for {sizes[b]:,} lines: parts overlap")
            yield pl.DataFrame([who, _lines(found[_ARTICLES], article_ids, k)]).select(SUBMISSION_COLUMNS)


def _id_at(ids: _Spill, order: pl.DataFrame | None, block: int, line: int) -> str:
    """The customer id of ``line``."""
    if order is not None:
        return str(order[Col.CUSTOMER_ID][line])
    found = ids.read(line // block, {_POS: pl.UInt32, Col.CUSTOMER_ID: pl.String}).filter(pl.col(_POS) == line)
    return str(found[Col.CUSTOMER_ID][0])


def _write_blocks(blocks: Iterator[pl.DataFrame], path: Path) -> None:
    """Write ``blocks`` (at least one) to ``path`` as one CSV: the header once, then each block's
    lines as it comes (the bytes of the blocks' concatenation written whole)."""
    with open(path, "wb") as sink:
        for i, frame in enumerate(blocks):
            frame.write_csv(sink, include_header=i == 0)


def refuse_submission_path(dataset: Dataset, path: Path) -> None:
    """Raise ``outputs.UnsafeOutput`` when ``path`` is one of the Kaggle files ``dataset`` was
    prepared from (any of their names, present or not) or lies in its prepared folder."""
    sources = data_inputs(dataset.source) if dataset.source is not None else []
    refuse_file(path, "the submission", inputs=sources, read_from=[dataset.root])


def write_submission(
    dataset: Dataset,
    recs: pl.DataFrame | Iterable[pl.DataFrame],
    path: Path | str,
    k: int = K,
    order: pl.DataFrame | None = None,
) -> Path:
    """Write the submission CSV of ``recs`` for the customers of ``order`` (default: the
    submission's; ``submission_blocks``) atomically (a temporary file renamed into place); never
    over one of the files ``dataset`` was prepared from, nor into its prepared folder. Every way
    hmrec writes a submission ends here."""
    refuse_submission_path(dataset, Path(path))
    blocks = submission_blocks(dataset, recs, k, order, BLOCK)
    return write_atomic(Path(path), lambda tmp: _write_blocks(blocks, tmp))
