"""Kaggle submissions: every customer, in the sample's order, 12 distinct 10-digit ids."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest

import hmrec
from hmrec.data import submission
from hmrec.data.dataset import Dataset
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.submission import write_submission
from hmrec.schema import Col
from tests.conftest import write_kaggle


def read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def test_submission_follows_sample_submission(tiny_shop: Path, tiny_dataset: Dataset, tmp_path: Path) -> None:
    out = write_submission(
        tiny_dataset,
        hmrec.fit(tiny_dataset, hmrec.Settings(model="repurchase")).submission_recommendations(tiny_dataset),
        tmp_path / "s.csv",
    )
    sub = read(out)
    sample = read(tiny_shop / "sample_submission.csv")
    assert sub.columns == ["customer_id", "prediction"]
    assert sub[Col.CUSTOMER_ID].to_list() == sample[Col.CUSTOMER_ID].to_list()
    preds = sub[Col.PREDICTION].str.split(" ")
    assert (preds.list.len() == 12).all()
    assert (preds.list.unique().list.len() == 12).all()
    assert preds.explode().str.contains(r"^0\d{9}$").all()
    known = set(read(tiny_shop / "articles.csv")[Col.ARTICLE_ID])
    assert set(preds.explode()) <= known


def test_without_sample_submission_customers_csv_sets_the_order(tmp_path: Path) -> None:
    rows = [("2020-09-01", c, a, 0.01, 1) for c in (3, 1) for a in range(14)]
    folder = write_kaggle(tmp_path / "in", rows, customers=[5, 3, 1])
    ds = prepare_dataset(folder).dataset
    out = write_submission(
        ds, hmrec.fit(ds, hmrec.Settings(model="popular")).submission_recommendations(ds), tmp_path / "s.csv"
    )
    expected = read(folder / "customers.csv")[Col.CUSTOMER_ID].to_list()
    assert read(out)[Col.CUSTOMER_ID].to_list() == expected


def test_incomplete_recommendations_are_refused(tiny_dataset: Dataset, tmp_path: Path) -> None:
    recs = (
        hmrec.fit(tiny_dataset, hmrec.Settings(model="popular"))
        .submission_recommendations(tiny_dataset)
        .filter(pl.col(Col.RANK) <= 11)
    )
    with pytest.raises(ValueError, match="fewer than 12"):
        write_submission(tiny_dataset, recs, tmp_path / "s.csv")
    assert list(tmp_path.iterdir()) == []


def test_the_lines_written_a_block_at_a_time_are_each_customers_first_distinct_ids(
    tiny_dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs = hmrec.fit(tiny_dataset, hmrec.Settings(model="repurchase")).submission_recommendations(tiny_dataset)
    # every customer's first article repeated at rank 0: the lines must hold distinct ids
    recs = pl.concat(
        [recs.filter(pl.col(Col.RANK) == 1).with_columns(pl.lit(0, recs[Col.RANK].dtype).alias(Col.RANK)), recs]
    )
    whole = write_submission(tiny_dataset, recs, tmp_path / "whole.csv")
    monkeypatch.setattr(submission, "BLOCK", 7)  # buckets of 7 lines, the id map read 5 rows at a time
    monkeypatch.setattr(submission, "SLICE", 5)
    scratch = tmp_path / "scratch"  # where the buckets go: emptied after every write, failed or not
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    blocks = write_submission(tiny_dataset, recs, tmp_path / "blocks.csv")
    assert blocks.read_bytes() == whole.read_bytes()
    assert list(scratch.iterdir()) == []
    written = read(blocks)
    assert written.height == tiny_dataset.submission_customers().collect().height > 7
    expected = (
        tiny_dataset.ids.to_kaggle(recs.lazy(), keep=False)
        .sort(Col.CUSTOMER_ID, Col.RANK)
        .group_by(Col.CUSTOMER_ID)
        .agg(pl.col(Col.ARTICLE_ID).unique(maintain_order=True).head(12).str.join(" ").alias("expected"))
        .collect()
    )
    joined = written.join(expected, on=Col.CUSTOMER_ID, how="left")
    assert (joined[Col.PREDICTION] == joined["expected"]).all()

    # a customer of a later bucket without a list: refused, named, nothing written
    lost = written[Col.CUSTOMER_ID][10]
    index = tiny_dataset.ids.to_index(pl.Series(Col.CUSTOMER_ID, [lost]))[0]
    with pytest.raises(ValueError, match=f"1 customer\\(s\\) have fewer than 12 predictions, e.g. {lost}"):
        write_submission(tiny_dataset, recs.filter(pl.col(Col.CUSTOMER) != index), tmp_path / "short.csv")
    assert not (tmp_path / "short.csv").exists()
    assert list(scratch.iterdir()) == []
