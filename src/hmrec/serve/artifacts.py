"""What ``hmrec submit --artifacts DIR`` (and ``evaluate``) leave for ``hmrec serve``: the
recommendations with their scores and sources, the article names, each customer's recent
purchases, the popular list, and (for a holdout week) what was really bought.

Everything is keyed by the Kaggle ids (64-hex ``customer_id``, 10-digit ``article_id``), so the
server never needs the prepared data or the training code.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from hmrec import faults
from hmrec.data.atomic import write_atomic
from hmrec.data.dataset import Dataset
from hmrec.data.split import history as before
from hmrec.schema import INDEX_DTYPE, Col

if TYPE_CHECKING:
    from hmrec.engine import Engine

RECOMMENDATIONS = "recommendations.parquet"
ARTICLES = "articles.parquet"
HISTORY = "history.parquet"
TRUTH = "truth.parquet"
SIMILAR = "similar.parquet"
META = "meta.json"
SIMILAR_K = 12
"""Similar articles kept per article (``GET /articles/{id}/similar?k=`` answers up to this many)."""
ARTICLE_FIELDS = [
    Col.PROD_NAME,
    "product_type_name",
    Col.PRODUCT_GROUP,
    Col.COLOUR_GROUP,
    "department_name",
    "detail_desc",
]
"""The catalogue columns the API returns with an article."""
CUSTOMER_ORDER, ARTICLE_ORDER = "__customer_order", "__article_order"
"""An id's place among the map's ids sorted as text (the files' order, by integers)."""
HISTORY_ROWS = 30
HISTORY_ORDER = [Col.CUSTOMER, Col.DATE, Col.ARTICLE, Col.PRICE, Col.CHANNEL]
"""Purchases kept per customer for the explorer page (the most recent)."""


def digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


BLOCK = 100_000
"""Customers (a range of them in id order) whose recommendations and history are built and
sorted at once: those files are written a block at a time, never all customers' rows at once
(at full size both files from 16.5M recommendations: 0.74 GiB peak in 32.1 s, against 1.13 GiB
in 27.3 s with blocks of 250,000)."""


def _write_blocks(path: Path, blocks: Iterable[pl.LazyFrame]) -> None:
    """The frames of ``blocks``, one after another, as one parquet file at ``path``: each block
    collected and written to a temporary file before the next is built, then the files streamed
    into ``path`` in row groups of a fixed size (the same bytes whatever the blocks' chunks)."""
    with tempfile.TemporaryDirectory(prefix=".blocks-", dir=path.parent) as tmp:
        files = []
        for i, block in enumerate(blocks):
            files.append(Path(tmp) / f"block-{i:05d}.parquet")
            block.collect().write_parquet(files[-1])
        every = pl.scan_parquet(files, glob=False)
        write_atomic(path, lambda out: every.sink_parquet(out, row_group_size=ROW_GROUP, engine="streaming"))


ROW_GROUP = 131_072
"""Rows per row group of a file written in blocks."""


def _write(path: Path, frame: pl.LazyFrame) -> None:
    """``frame`` collected and written to ``path`` as one chunk: the chunks of a collect vary with
    thread timing, and parquet's row groups follow them (equal frames gave other bytes)."""
    write_atomic(path, frame.collect().rechunk().write_parquet)


def write_artifacts(
    folder: Path,
    dataset: Dataset,
    recs: pl.DataFrame | pl.LazyFrame,
    model: str,
    cutoff: date,
    fill: list[int],
    truth: pl.DataFrame | None = None,
    factors: np.ndarray | None = None,
    engine: Engine | None = None,
) -> Path:
    """Write the serving files for ``recs`` (``customer, article, rank, score, sources``, and
    ``explain`` when the recommendations were explained) into ``folder``, with each article's
    similar articles (``retrieval/similar.py``; ``factors``: an MF model's article factors for
    the embedding neighbours; their co-occurrence built by ``engine``, shard by shard on Ray);
    each file is written to a temporary name and renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    recs = recs.lazy()
    customer_order = dataset.ids.id_order(Col.CUSTOMER_ID, CUSTOMER_ORDER).collect()
    blocks = [(lo, lo + BLOCK) for lo in range(0, max(customer_order.height, 1), BLOCK)]
    _write_blocks(folder / RECOMMENDATIONS, (_ranked(dataset, recs, customer_order, b) for b in blocks))
    _write_blocks(folder / HISTORY, (_history(dataset, recs, cutoff, customer_order, b) for b in blocks))
    articles = dataset.ids.to_kaggle(dataset.articles()).select(Col.ARTICLE_ID, *ARTICLE_FIELDS)
    fill_ids = dataset.ids.to_kaggle(pl.DataFrame({Col.ARTICLE: pl.Series(fill, dtype=INDEX_DTYPE)}))[
        Col.ARTICLE_ID
    ].to_list()
    _write(folder / ARTICLES, articles.sort(Col.ARTICLE_ID))
    _write(folder / SIMILAR, _similar(dataset, cutoff, factors, engine))
    if truth is not None:
        truth_ids = dataset.ids.to_kaggle(truth.lazy()).select(Col.CUSTOMER_ID, Col.ARTICLE_ID)
        _write(folder / TRUTH, truth_ids.sort(Col.CUSTOMER_ID, Col.ARTICLE_ID))
    elif (folder / TRUTH).exists():
        (folder / TRUTH).unlink()
    faults.point("artifacts:before-meta")
    written = [RECOMMENDATIONS, HISTORY, ARTICLES, SIMILAR, *([TRUTH] if truth is not None else [])]
    meta = {
        "model": model,
        "cutoff": cutoff.isoformat(),
        "popular": fill_ids,  # the fill list (the key of the file format)
        "holdout_known": truth is not None,
        "files": {name: digest(folder / name) for name in written},
    }
    # meta.json goes last: it names the exact bytes of the set it belongs to, so files of
    # different runs (a run killed between two files) are refused by hmrec serve
    write_atomic(folder / META, lambda path: Path(path).write_text(json.dumps(meta, indent=2)))
    return folder


def _ranked(
    dataset: Dataset, recs: pl.LazyFrame, customer_order: pl.DataFrame, block: tuple[int, int] | None = None
) -> pl.LazyFrame:
    """What the recommendations file holds (of the customers whose place in id order is in
    ``block``; None: all): the recommendations by customer id and rank."""
    explained = [Col.EXPLAIN] if Col.EXPLAIN in recs.collect_schema().names() else []
    # the files are sorted by the Kaggle ids through integer keys: each id's place in the sorted
    # id map (the same order, so the same bytes; a sort of 16.5M rows on 64-character strings
    # took most of the 12 s the recommendations file did at full size)
    article_order = dataset.ids.id_order(Col.ARTICLE_ID, ARTICLE_ORDER)
    return (
        _of_block(recs, customer_order, block)
        .join(_in_block(customer_order, block), on=Col.CUSTOMER, how="inner")
        .join(article_order, on=Col.ARTICLE, how="left")
        .sort(CUSTOMER_ORDER, Col.RANK)
        .select(Col.CUSTOMER_ID, Col.ARTICLE_ID, Col.RANK, Col.SCORE, Col.SOURCES, *explained)
    )


def _history(
    dataset: Dataset,
    recs: pl.LazyFrame,
    cutoff: date,
    customer_order: pl.DataFrame,
    block: tuple[int, int] | None = None,
) -> pl.LazyFrame:
    """What the history file holds (of the customers whose place in id order is in ``block``;
    None: all): each recommended customer's latest purchases before ``cutoff``, newest first."""
    order = _in_block(customer_order, block)
    customers = _of_block(recs, customer_order, block).select(Col.CUSTOMER).unique()
    article_order = dataset.ids.id_order(Col.ARTICLE_ID, ARTICLE_ORDER)
    history = (
        _of_block(before(dataset.transactions(), cutoff), customer_order, block)
        .join(customers, on=Col.CUSTOMER, how="semi")
        # every column breaks ties: the same input keeps the same rows of a customer's last day
        .sort(HISTORY_ORDER, descending=[False, True, False, False, False])
        .group_by(Col.CUSTOMER, maintain_order=True)
        .head(HISTORY_ROWS)
    )
    return (
        history.join(order, on=Col.CUSTOMER, how="left")
        .join(article_order, on=Col.ARTICLE, how="left")
        .sort(
            [CUSTOMER_ORDER, Col.DATE, ARTICLE_ORDER, Col.PRICE, Col.CHANNEL],
            descending=[False, True, False, False, False],
        )
        .select(Col.CUSTOMER_ID, Col.DATE, Col.ARTICLE_ID, Col.PRICE, Col.CHANNEL)
    )


def _of_block(rows: pl.LazyFrame, customer_order: pl.DataFrame, block: tuple[int, int] | None) -> pl.LazyFrame:
    """``rows`` of the block's customers, as a filter the parquet reader applies while it reads
    (a join would read every row first: at full size most of a block's memory)."""
    if block is None:
        return rows
    mine = _in_block(customer_order, block).select(Col.CUSTOMER).collect().to_series()
    return rows.filter(pl.col(Col.CUSTOMER).is_in(mine.implode()))


def _in_block(customer_order: pl.DataFrame, block: tuple[int, int] | None) -> pl.LazyFrame:
    order = customer_order.lazy()
    return order if block is None else order.filter(pl.col(CUSTOMER_ORDER).is_between(*block, closed="left"))


def _similar(dataset: Dataset, cutoff: date, factors: np.ndarray | None, engine: Engine | None) -> pl.LazyFrame:
    """``article_id, similar_article_id, rank, sources`` (sources joined by commas) for every
    article of the catalogue, from the history before ``cutoff``."""
    from hmrec.data.week import WeekInput
    from hmrec.retrieval.similar import OTHER, similar_articles

    week = WeekInput.before(dataset.transactions(), cutoff, None, dataset.articles(), dataset.customers())
    week = replace(week, engine=engine)
    every = pl.Series(Col.ARTICLE, range(dataset.n_articles()), dtype=INDEX_DTYPE)
    similar = similar_articles(week, every, SIMILAR_K, factors)
    return (
        dataset.ids.to_kaggle(similar.lazy(), articles={OTHER: "similar_article_id"})
        .select(Col.ARTICLE_ID, "similar_article_id", "rank", pl.col(Col.SOURCES).list.join(","))
        .sort(Col.ARTICLE_ID, "rank")
    )
