"""Prepare: typed parquet, dense ids, id maps, reuse, unknown ids kept with a warning."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from hmrec.data import ingest
from hmrec.data.dataset import Dataset
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.schema import CUSTOMER_MAP_SCHEMA, TRANSACTIONS_SCHEMA, Col
from tests.conftest import article_id, hex_id, write_kaggle

ROWS = [
    ("2020-09-01", 1, 1, 0.05, 2),  # customer 1 buys article 1 online
    ("2020-09-01", 1, 1, 0.05, 2),  # a second unit of the same article: kept as its own row
    ("2020-09-03", 2, 2, 0.10, 1),  # customer 2, article 2 in store
]


def test_transactions_are_typed_with_dense_ids(tmp_path: Path) -> None:
    ds = prepare_dataset(write_kaggle(tmp_path / "in", ROWS)).dataset
    tx = ds.transactions().collect()
    assert dict(tx.schema) == TRANSACTIONS_SCHEMA
    assert tx.height == 3
    assert dict(ds.customer_map().collect().schema) == CUSTOMER_MAP_SCHEMA
    back = (
        tx.join(ds.customer_map().collect(), on=Col.CUSTOMER)
        .join(ds.article_map().collect(), on=Col.ARTICLE)
        .sort(Col.DATE)
    )
    assert back[Col.CUSTOMER_ID].to_list() == [hex_id(1), hex_id(1), hex_id(2)]
    assert back[Col.ARTICLE_ID].to_list() == [article_id(1), article_id(1), article_id(2)]
    assert sorted(tx[Col.CUSTOMER].unique().to_list()) == [0, 1]  # dense, from 0


def test_customers_keep_their_attributes(tmp_path: Path) -> None:
    ds = prepare_dataset(write_kaggle(tmp_path / "in", ROWS)).dataset
    customers = ds.customers().collect().sort(Col.CUSTOMER)
    assert customers[Col.AGE].to_list() == [21, 22]
    assert customers[Col.FN].to_list() == [True, False]  # 1.0 and empty
    assert customers[Col.POSTAL].dtype == pl.UInt32


def test_prepared_result_is_reused_until_an_input_changes(tmp_path: Path) -> None:
    folder = write_kaggle(tmp_path / "in", ROWS)
    first = ingest.load(folder)
    assert first.rebuilt
    again = ingest.load(folder)
    assert not again.rebuilt
    tx = folder / "transactions_train.csv"
    tx.write_text(tx.read_text() + "2020-09-04," + hex_id(2) + "," + article_id(1) + ",0.2,1\n")
    os.utime(tx, ns=(tx.stat().st_atime_ns, tx.stat().st_mtime_ns + 10**9))
    changed = ingest.load(folder)
    assert changed.rebuilt
    assert Dataset(changed.root).transactions().collect().height == 4


def test_unknown_customers_and_articles_are_kept_and_reported(tmp_path: Path) -> None:
    folder = write_kaggle(tmp_path / "in", ROWS, customers=[1], articles=[1])
    result = ingest.prepare(folder)
    tx = Dataset(result.root).transactions().collect()
    assert tx.height == 3
    assert tx[Col.CUSTOMER].null_count() == 0 and tx[Col.ARTICLE].null_count() == 0
    assert len(result.warnings) == 2
    assert "1 customer id(s) not in customers.csv" in result.warnings[0]
    assert "1 article id(s) not in articles.csv" in result.warnings[1]


def test_parquet_input_with_integer_article_ids_gets_leading_zeros(tmp_path: Path) -> None:
    folder = write_kaggle(tmp_path / "in", ROWS)
    tx = pl.read_csv(folder / "transactions_train.csv", infer_schema=False)
    tx = tx.with_columns(pl.col(Col.ARTICLE_ID).cast(pl.Int64))
    tx.write_parquet(folder / "transactions_train.parquet")
    (folder / "transactions_train.csv").unlink()
    ds = prepare_dataset(folder).dataset
    ids = ds.transactions().join(ds.article_map(), on=Col.ARTICLE).collect()[Col.ARTICLE_ID]
    assert set(ids) == {article_id(1), article_id(2)}


def test_submission_order_follows_sample_submission(tmp_path: Path) -> None:
    folder = write_kaggle(tmp_path / "in", ROWS, customers=[1, 2, 3], submission=[3, 1, 2])
    ds = prepare_dataset(folder).dataset
    order = ds.submission_customers().join(ds.customer_map(), on=Col.CUSTOMER, maintain_order="left").collect()
    assert order[Col.CUSTOMER_ID].to_list() == [hex_id(3), hex_id(1), hex_id(2)]


def test_tiny_shop_prepares_without_warnings(tiny_shop: Path, tmp_path: Path) -> None:
    result = ingest.prepare(tiny_shop, tmp_path / "prepared")
    assert result.warnings == []
    raw_rows = pl.scan_csv(tiny_shop / "transactions_train.csv").select(pl.len()).collect().item()
    assert Dataset(result.root).transactions().select(pl.len()).collect().item() == raw_rows
