"""Writing a Kaggle submission: the edge where indices become ids again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl

from hmrec.data.atomic import write_atomic
from hmrec.data.dataset import Dataset
from hmrec.data.outputs import data_inputs, refuse_file
from hmrec.schema import SUBMISSION_COLUMNS, Col, K

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
"""How many customers' lines of a submission are gathered and written at a time."""


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
    (``Model.submission_parts``), each read and turned into its customers' predictions before
    the next: their lists are never all held at once. Raises before the first frame if a
    customer lacks ``k`` distinct articles, since Kaggle would score the gap as a miss.
    """
    parts = [recs] if isinstance(recs, pl.DataFrame) else recs
    per_customer = pl.concat([predictions(part, k) for part in parts])
    customers = (dataset.submission_customers().collect() if order is None else order)[Col.CUSTOMER]
    # each customer's row of ``per_customer`` (null: none), found on integers; the strings are
    # gathered a block at a time, in that order, never joined and sorted with the ids
    rows = (
        customers.to_frame()
        .lazy()
        .with_row_index("__pos")
        .join(per_customer.lazy().select(Col.CUSTOMER).with_row_index("__row"), on=Col.CUSTOMER, how="left")
        .sort("__pos")
        .collect()["__row"]
    )
    ids = dataset.ids.ids(Col.CUSTOMER_ID) if order is None else None  # the id of index i at i

    def ids_of(start: int, length: int) -> pl.Series:
        if ids is None:
            return order[Col.CUSTOMER_ID].slice(start, length)  # type: ignore[index]
        return ids.gather(customers.slice(start, length))

    short = (per_customer[_N].gather(rows).fill_null(0) < k).arg_true()
    if short.len():
        first = ids_of(short[0], 1)[0]
        raise ValueError(f"{short.len()} customer(s) have fewer than {k} predictions, e.g. {first}")
    article_ids = dataset.ids.ids(Col.ARTICLE_ID)
    for start in range(0, max(customers.len(), 1), block):
        lines = _lines(per_customer[_ARTICLES].gather(rows.slice(start, block)), article_ids, k)
        yield pl.DataFrame([ids_of(start, block), lines]).select(SUBMISSION_COLUMNS)


def submission_frame(
    dataset: Dataset, recs: pl.DataFrame | Iterable[pl.DataFrame], k: int = K, order: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``submission_blocks`` as one frame."""
    return pl.concat(list(submission_blocks(dataset, recs, k, order)))


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
    submission's; ``submission_frame``) atomically (a temporary file renamed into place); never
    over one of the files ``dataset`` was prepared from, nor into its prepared folder. Every way
    hmrec writes a submission ends here."""
    refuse_submission_path(dataset, Path(path))
    blocks = submission_blocks(dataset, recs, k, order, BLOCK)
    return write_atomic(Path(path), lambda tmp: _write_blocks(blocks, tmp))
