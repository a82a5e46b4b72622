"""The calls users of RecTools and implicit reach for: a dataset from frames in memory, similar
items, explanations of the ranker's scores, sources as lists."""

from __future__ import annotations

import shutil
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
import pytest

import hmrec
from hmrec.api import RankerConfig
from hmrec.data.validate import DataError
from hmrec.ranking.model import FittedRanker
from hmrec.settings import Settings
from tests.conftest import article_id, write_kaggle

QUICK = Settings(ranker=RankerConfig(train_weeks=2))
FILES = ("transactions_train", "articles", "customers", "sample_submission")


def _prepared_tables(dataset: hmrec.Dataset) -> list[pl.DataFrame]:
    return [
        dataset.transactions().collect(),
        dataset.articles().collect(),
        dataset.customers().collect(),
        dataset.customer_map().collect(),
        dataset.article_map().collect(),
        dataset.submission_customers().collect(),
    ]


def test_a_dataset_from_polars_frames_is_the_dataset_of_the_files(tiny_shop: Path, tmp_path: Path) -> None:
    from_files = hmrec.load(shutil.copytree(tiny_shop, tmp_path / "files"))
    tx, articles, customers, submission = (pl.read_csv(tiny_shop / f"{f}.csv") for f in FILES)
    made = hmrec.Dataset.from_frames(tx.lazy(), articles, customers, submission, folder=tmp_path / "frames")
    for ours, theirs in zip(_prepared_tables(made), _prepared_tables(from_files), strict=True):
        assert ours.equals(theirs)
    assert made.root == tmp_path / "frames" / "prepared"
    again = hmrec.Dataset.from_frames(tx, articles, customers, folder=tmp_path / "frames")  # its own folder: reused
    assert again.transactions().collect().equals(from_files.transactions().collect())


def test_a_dataset_from_pandas_frames_as_read_csv_gives_them(tiny_shop: Path, tmp_path: Path) -> None:
    from_files = hmrec.load(shutil.copytree(tiny_shop, tmp_path / "files"))
    tx, articles, customers = (pd.read_csv(tiny_shop / f"{f}.csv") for f in FILES[:3])
    assert tx["article_id"].dtype.kind == "i" and customers["age"].isna().any()  # leading zeros lost, NaN ages
    tx["t_dat"] = pd.to_datetime(tx["t_dat"])  # a date column of datetimes, as users parse it
    made = hmrec.Dataset.from_frames(tx, articles, customers)
    for ours, theirs in zip(_prepared_tables(made)[:5], _prepared_tables(from_files)[:5], strict=True):
        assert ours.equals(theirs)
    assert made.root.parent.name.startswith("hmrec-frames-")
    recs = hmrec.fit(made, Settings(model="repurchase")).recommend(made, customers["customer_id"].head(3))
    assert recs["customer_id"].unique(maintain_order=True).to_list() == customers["customer_id"].head(3).tolist()


def test_frames_are_validated_as_files_are_and_named(tiny_shop: Path, tmp_path: Path) -> None:
    tx, articles, customers = (pl.read_csv(tiny_shop / f"{f}.csv") for f in FILES[:3])
    with pytest.raises(DataError, match="^the transactions frame: missing column\\(s\\) price"):
        hmrec.Dataset.from_frames(tx.drop("price"), articles, customers)
    with pytest.raises(DataError, match="^the customers frame: .*customer_id"):
        hmrec.Dataset.from_frames(tx, articles, customers.with_columns(pl.lit("x").alias("customer_id")))
    with pytest.raises(TypeError, match="articles must be a polars or pandas DataFrame, got dict"):
        hmrec.Dataset.from_frames(tx, {"article_id": [1]}, customers)


def test_from_frames_never_writes_into_a_folder_of_the_users(tiny_shop: Path, tmp_path: Path) -> None:
    tx, articles, customers = (pl.read_csv(tiny_shop / f"{f}.csv") for f in FILES[:3])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(Exception, match="did not write"):
        hmrec.Dataset.from_frames(tx, articles, customers, folder=mine)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep"


def _similar_shop(folder: Path) -> Path:
    day = "2020-09-0{}".format
    rows = [(day(1), c, 1, 0.05, 2) for c in (1, 2, 3)]  # article 1, then 2 two days later, by all three
    rows += [(day(3), c, 2, 0.05, 2) for c in (1, 2, 3)]
    rows += [(day(4), 1, 4, 0.05, 2)]  # one of the three also bought 4
    rows += [(day(6), c, 3, 0.05, 2) for c in (5, 6)]  # 3, by others, twice
    rows += [(day(8), 7, 5, 0.05, 2)]
    rows += [(day(8), 20 + a, a, 0.05, 2) for a in range(10, 23)]  # the rest of a shop, each bought alone
    folder = write_kaggle(folder, rows, articles=[1, 2, 3, 4, 5, 6, *range(10, 23)])
    articles = pl.read_csv(folder / "articles.csv", infer_schema=False)
    same = pl.col("article_id").is_in([article_id(a) for a in (1, 2, 3, 6)])
    articles.with_columns(pl.when(same).then(pl.lit("777")).otherwise("product_code").alias("product_code")).write_csv(
        folder / "articles.csv"
    )
    return folder


def test_similar_items_lists_what_was_bought_with_it_then_its_other_colours(tmp_path: Path) -> None:
    data = hmrec.load(_similar_shop(tmp_path / "shop"))
    model = hmrec.fit(data, Settings(model="popular"))
    similar = model.similar_items([article_id(1)], k=10)
    assert similar.columns == ["article_id", "similar_article_id", "rank", "sources"]
    # bought together by its buyers: 2 (3 of its 3 buyers), 4 (1 of 3); its product's others: 2
    # (sold 3 times), 3 (twice), 6 (never); 2 found by both, listed once, at its best place
    assert similar.rows() == [
        (article_id(1), article_id(2), 1, ["bought_together", "same_product"]),
        (article_id(1), article_id(4), 2, ["bought_together"]),
        (article_id(1), article_id(3), 3, ["same_product"]),
        (article_id(1), article_id(6), 4, ["same_product"]),
    ]
    assert model.similar_items(article_id(1), k=2)["similar_article_id"].to_list() == [article_id(2), article_id(4)]
    assert model.similar_items([int(article_id(5))], k=5).is_empty()  # given as a number; nothing like it
    with pytest.raises(ValueError, match="not in the catalogue: 0999999999"):
        model.similar_items(["0999999999"])


def test_an_mf_model_adds_its_nearest_articles(tiny_dataset: hmrec.Dataset) -> None:
    model = hmrec.fit(tiny_dataset, Settings(model="mf", tune=False))
    some = tiny_dataset.article_map().collect()["article_id"].head(20).to_list()
    similar = model.similar_items(some, k=12)
    assert similar["rank"].max() == 12 and (similar["article_id"] != similar["similar_article_id"]).all()
    by_embedding = similar.filter(pl.col("sources").list.contains("embedding"))
    assert by_embedding.height > 0
    assert (
        not hmrec.fit(tiny_dataset, Settings(model="popular"))
        .similar_items(some, 12)["sources"]
        .list.contains("embedding")
        .any()
    )


def test_reasons_name_the_features_that_moved_a_score_most() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 4))
    y = (3 * x[:, 2] + 0.3 * x[:, 0] > 0).astype(int)  # feature c decides, a a little, b and d never
    names = ["a", "b", "c", "d"]
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 7},
        lgb.Dataset(x, y, feature_name=names),
        num_boost_round=20,
    )
    ranker = FittedRanker(booster, names, 20, None)
    frame = pl.DataFrame(x[:200], schema=names)
    reasons = ranker.reasons(frame, n=4)
    first = [r[0]["feature"] for r in reasons.to_list()]
    assert first.count("c") > 180
    raw = booster.predict(x[:200], raw_score=True)
    expected = booster.predict(x[:200], pred_contrib=True)[:, -1]
    for row, listed, score, base in zip(range(200), reasons.to_list(), raw, expected, strict=True):
        sizes = [abs(r["contribution"]) for r in listed]
        assert sizes == sorted(sizes, reverse=True), row
        assert sum(r["contribution"] for r in listed) + base == pytest.approx(score)  # all four: the whole score
    assert [len(r) for r in ranker.reasons(frame).to_list()] == [3] * 200


def test_recommend_explains_the_ranked_articles_and_changes_nothing(tiny_dataset: hmrec.Dataset) -> None:
    model = hmrec.fit(tiny_dataset, QUICK)
    ids = tiny_dataset.customer_map().collect()["customer_id"].head(40)
    plain = model.recommend(tiny_dataset, ids, details=True)
    explained = model.recommend(tiny_dataset, ids, explain=True)
    assert explained.drop("explain").equals(plain)
    assert plain["sources"].dtype == pl.List(pl.String)
    ranked = explained.filter(~pl.col("sources").list.contains("popular fill"))
    assert ranked.height > 0 and ranked["explain"].list.len().unique().to_list() == [3]
    features = set(model.state.features)
    assert {r["feature"] for rs in ranked["explain"].to_list() for r in rs} <= features
    assert explained.filter(pl.col("sources").list.contains("popular fill"))["explain"].null_count() > 0
    with pytest.raises(ValueError, match="explain=True needs the ranker"):
        hmrec.fit(tiny_dataset, Settings(model="popular")).recommend(tiny_dataset, ids, explain=True)


def test_sources_are_lists_in_every_result(tiny_dataset: hmrec.Dataset) -> None:
    result = hmrec.evaluate(tiny_dataset, ["repurchase"])
    recs = result.recommendations_of("repurchase", tiny_dataset)
    assert recs["sources"].dtype == pl.List(pl.String)
    assert set(recs["sources"].explode().unique().to_list()) <= {"repurchase", "popular fill"}


def test_customers_as_a_pandas_series(tiny_dataset: hmrec.Dataset) -> None:
    model = hmrec.fit(tiny_dataset, Settings(model="repurchase"))
    ids = tiny_dataset.customer_map().collect()["customer_id"].head(5)
    expected = model.recommend(tiny_dataset, ids)
    assert model.recommend(tiny_dataset, pd.Series(ids.to_list())).equals(expected)


def test_from_frames_takes_a_folder_name_of_any_characters_literally(tiny_shop: Path, tmp_path: Path) -> None:
    tx, articles, customers = (pl.read_csv(tiny_shop / f"{f}.csv") for f in FILES[:3])
    odd = tmp_path / "my [shop]* ? 1"
    (tmp_path / "my s").mkdir()  # what the name would match as a glob pattern: never read, never written
    (tmp_path / "my s" / "keep.txt").write_text("keep")
    made = hmrec.Dataset.from_frames(tx, articles, customers, folder=odd)
    assert made.root == odd / "prepared" and made.transactions().collect().height == tx.height
    assert (tmp_path / "my s" / "keep.txt").read_text() == "keep" and sorted(
        p.name for p in (tmp_path / "my s").iterdir()
    ) == ["keep.txt"]
