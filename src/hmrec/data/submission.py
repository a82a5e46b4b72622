"""Writing a Kaggle submission: the edge where indices become ids again."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from hmrec.data.atomic import write_atomic
from hmrec.data.dataset import Dataset
from hmrec.data.outputs import data_inputs, refuse_file
from hmrec.schema import SUBMISSION_COLUMNS, Col, K

_N = "__n"
"""The column of how many predictions a customer has (``predictions``)."""


def predictions(dataset: Dataset, recs: pl.DataFrame, k: int = K) -> pl.DataFrame:
    """``customer, prediction, __n``: each customer's ``k`` first distinct Kaggle article ids of
    ``recs`` (``customer, article, rank``) by rank, joined by spaces, and how many there are."""
    return (
        dataset.ids.to_kaggle(recs.lazy().select(Col.CUSTOMER, Col.ARTICLE, Col.RANK), keep=True, in_order=False)
        .sort(Col.CUSTOMER, Col.RANK)
        .group_by(Col.CUSTOMER, maintain_order=True)
        .agg(pl.col(Col.ARTICLE_ID).unique(maintain_order=True).head(k))
        .select(
            Col.CUSTOMER,
            pl.col(Col.ARTICLE_ID).list.join(" ").alias(Col.PREDICTION),
            pl.col(Col.ARTICLE_ID).list.len().alias(_N),
        )
        .collect()
    )


def submission_frame(
    dataset: Dataset, recs: pl.DataFrame | Iterable[pl.DataFrame], k: int = K, order: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``customer_id, prediction`` for every customer of ``order`` (``customer, customer_id``;
    default: the submission's customers), in that order.

    ``recs`` holds ``customer, article, rank``, or is frames of disjoint sets of customers
    (``Model.submission_parts``), each read and turned into its customers' predictions before
    the next: their lists are never all held at once. Raises if a customer lacks ``k``
    distinct articles, since Kaggle would score the gap as a miss.
    """
    parts = [recs] if isinstance(recs, pl.DataFrame) else recs
    per_customer = pl.concat([predictions(dataset, part, k) for part in parts])
    if order is None:
        order = dataset.ids.to_kaggle(dataset.submission_customers(), keep=True).collect()
    # each of ``order``'s customers' row of ``per_customer`` (null: none), found on integers; the
    # strings are then gathered once, in that order, never joined and sorted with the ids
    rows = (
        order.lazy()
        .select(Col.CUSTOMER)
        .with_row_index("__pos")
        .join(per_customer.lazy().select(Col.CUSTOMER).with_row_index("__row"), on=Col.CUSTOMER, how="left")
        .sort("__pos")
        .collect()["__row"]
    )
    short = order[Col.CUSTOMER_ID].filter(per_customer[_N].gather(rows).fill_null(0) < k)
    if short.len():
        raise ValueError(f"{short.len()} customer(s) have fewer than {k} predictions, e.g. {short[0]}")
    return pl.DataFrame([order[Col.CUSTOMER_ID], per_customer[Col.PREDICTION].gather(rows)]).select(SUBMISSION_COLUMNS)


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
    frame = submission_frame(dataset, recs, k, order)
    return write_atomic(Path(path), frame.write_csv)
