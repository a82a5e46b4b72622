"""Ranking: labels by hand, no leakage into a week's features, chunked == one-shot inference,
the popular fill, saved artifacts."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.engine.base import LocalEngine
from hmrec.features.article import ATTRIBUTES
from hmrec.ranking import compiled, inference
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import (
    FEATURE_BLOCKS,
    LABEL,
    CandidateConfig,
    Tables,
    candidate_features,
    feature_columns,
    labelled_week,
    sample_negatives,
    training_cutoffs,
)
from hmrec.ranking.inference import rank_chunk, rank_customers
from hmrec.ranking.model import FittedRanker, Rows, TrainingSet, fit_ranker, matrix
from hmrec.ranking.stored import StoredWeeks
from hmrec.recommenders.base import FILL_SOURCE
from hmrec.recommenders.baselines import popular_articles
from hmrec.schema import Col
from hmrec.two_stage import TwoStageRecommender
from tests.shards import Shards

WEEK = date(2020, 9, 15)


def transactions(rows: list[tuple[str, int, int]]) -> pl.LazyFrame:
    """(date, customer, article) rows, price 0.03, online."""
    return pl.LazyFrame(
        {
            Col.DATE: [date.fromisoformat(r[0]) for r in rows],
            Col.CUSTOMER: pl.Series([r[1] for r in rows], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[2] for r in rows], dtype=pl.UInt32),
            Col.PRICE: pl.Series([0.03] * len(rows), dtype=pl.Float32),
            Col.CHANNEL: pl.Series([2] * len(rows), dtype=pl.Int8),
        }
    )


def hand_tables(n_articles: int = 6, n_customers: int = 3) -> Tables:
    articles = pl.LazyFrame(
        {
            Col.ARTICLE: pl.Series(range(n_articles), dtype=pl.UInt32),
            Col.PRODUCT_CODE: list(range(n_articles)),
            **{c: list(range(n_articles)) for c in ATTRIBUTES},
        }
    )
    customers = pl.LazyFrame(
        {
            Col.CUSTOMER: pl.Series(range(n_customers), dtype=pl.UInt32),
            Col.AGE: pl.Series([30] * n_customers, dtype=pl.Int16),
            Col.POSTAL: pl.Series([0] * n_customers, dtype=pl.UInt32),
        }
    )
    return Tables(articles, customers)


def test_labels_by_hand() -> None:
    tx = transactions(
        [
            ("2020-09-10", 0, 1),  # customer 0's history: articles 1 and 2
            ("2020-09-01", 0, 2),
            ("2020-09-12", 1, 3),  # customer 1's: article 3
            ("2020-09-05", 2, 1),  # customer 2's: article 1
            ("2020-09-15", 0, 1),  # the week: customer 0 buys article 1 again (a hit) ...
            ("2020-09-18", 0, 4),  # ... and article 4, never a candidate
            ("2020-09-21", 1, 4),  # customer 1 buys only article 4: no positive, dropped
            ("2020-09-22", 1, 3),  # after the week: no label
        ]
    )
    frame = labelled_week(tx, WEEK, hand_tables(), CandidateConfig(sources=("repurchase",)))
    # customer 2 bought nothing in the week: not a training customer
    assert frame.select(Col.CUSTOMER, Col.ARTICLE, LABEL).rows() == [(0, 1, 1), (0, 2, 0)]
    assert frame["p_n"].to_list() == [1, 1]  # features count the history before the week only


def test_a_sample_of_the_week_buyers_keeps_whole_groups(tiny_dataset: Dataset) -> None:
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    tx = tiny_dataset.transactions()
    week = Split.at(tx).cutoff - timedelta(days=7)
    every = labelled_week(tx, week, tables, CandidateConfig())
    some = labelled_week(tx, week, tables, CandidateConfig(), max_buyers=10)
    assert every[Col.CUSTOMER].n_unique() > some[Col.CUSTOMER].n_unique() > 0
    assert some[Col.CUSTOMER].n_unique() <= 10
    kept = every.join(some.select(Col.CUSTOMER).unique(), on=Col.CUSTOMER, how="semi")
    assert_frame_equal(kept, some)  # a sampled customer keeps all their rows
    assert_frame_equal(some, labelled_week(tx, week, tables, CandidateConfig(), max_buyers=10))  # seeded


def test_a_week_with_no_buyer_gives_no_rows() -> None:
    tx = transactions([("2020-09-10", 0, 1)])
    assert labelled_week(tx, WEEK, hand_tables(), CandidateConfig()).height == 0


def test_rows_in_and_after_the_week_change_no_feature(tiny_dataset: Dataset) -> None:
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    tx = tiny_dataset.transactions()
    week = Split.at(tx).cutoff - timedelta(days=7)
    in_week = tx.filter(pl.col(Col.DATE) >= week)
    # every row from the week on again, at another price and a day later: the week's purchases
    # stay the same pairs, the features must not move
    noisy = pl.concat([tx, in_week.with_columns(pl.col(Col.PRICE) * 3, pl.col(Col.DATE) + timedelta(days=1))])
    config = CandidateConfig()
    honest = labelled_week(tx.filter(pl.col(Col.DATE) < week + timedelta(days=7)), week, tables, config)
    assert honest.height > 0 and honest[LABEL].sum() > 0
    assert_frame_equal(honest, labelled_week(noisy, week, tables, config))


def test_feature_columns_follow_the_blocks() -> None:
    columns = [Col.CUSTOMER, Col.ARTICLE, "c_age", "a_n_1w", "p_n", "pd_share", "x_age_gap", "popular_rank", LABEL]
    assert feature_columns(columns) == columns[2:-1]
    assert feature_columns(columns, ["pair"]) == ["c_age", "a_n_1w", "popular_rank"]
    assert feature_columns(columns, ["retrieval", "customer"]) == ["a_n_1w", "p_n", "pd_share", "x_age_gap"]
    with pytest.raises(ValueError, match="unknown feature block"):
        feature_columns(columns, ["colour"])
    signals = [*columns[:-1], "t_velocity", "e_fresh", "k_age_share", "b_price_z", "covisit_score"]
    assert feature_columns(signals, ["estimate"]) == [
        *columns[2:-1],
        "t_velocity",
        "k_age_share",
        "b_price_z",
        "covisit_score",
    ]
    kept = feature_columns(signals, ["trend", "cohort", "price", "retrieval"])
    assert kept == ["c_age", "a_n_1w", "p_n", "pd_share", "x_age_gap", "e_fresh"]
    assert set(FEATURE_BLOCKS) == {
        "customer",
        "article",
        "pair",
        "retrieval",
        "trend",
        "cohort",
        "price",
        "estimate",
        "embedding",
        "taste",
    }
    units = ["c_age", "pd_share", "u_pd_1w", "u_pi_all"]  # the u_ columns are the taste block's, not the pair's
    assert feature_columns(units, ["taste"]) == ["c_age", "pd_share"]
    assert feature_columns(units, ["pair"]) == ["c_age", "u_pd_1w", "u_pi_all"]


def test_training_cutoffs_are_whole_weeks_back() -> None:
    assert training_cutoffs(WEEK, 2) == [date(2020, 9, 8), date(2020, 9, 1)]
    with pytest.raises(ValueError):
        training_cutoffs(WEEK, 0)


def test_a_week_as_rows_has_one_query_per_customer() -> None:
    week = pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series([4, 4, 9], dtype=pl.UInt32),
            LABEL: pl.Series([1, 0, 1], dtype=pl.UInt8),
            "f": [0.5, None, 2.0],
        }
    )
    rows = Rows.of(week, ["f", "g"])  # g: a column the week lacks, all missing
    assert rows.sizes.tolist() == [2, 1] and rows.labels.tolist() == [1, 0, 1] and rows.height == 3
    assert rows.features.dtype == np.float32 and rows.features.shape == (3, 2)
    assert np.isnan(rows.features[1, 0]) and np.isnan(rows.features[:, 1]).all()
    assert Rows.of(pl.DataFrame(), ["f"]).height == 0
    with pytest.raises(ValueError, match="no training rows"):
        fit_ranker([Rows.of(pl.DataFrame(), ["f"])], None, ["f"], RankerConfig(), rounds=1)


def test_negatives_are_sampled_per_customer_and_every_positive_kept() -> None:
    customers = [1] * 6 + [2] * 3 + [3] * 2
    labels = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    frame = pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series(customers, dtype=pl.UInt32),
            Col.ARTICLE: pl.Series(range(11), dtype=pl.UInt32),
            LABEL: pl.Series(labels, dtype=pl.UInt8),
        }
    )
    kept = sample_negatives(frame, 2, seed=3)
    per = kept.group_by(Col.CUSTOMER, LABEL).len().sort(Col.CUSTOMER, LABEL)
    assert per.rows() == [(1, 0, 2), (1, 1, 2), (2, 0, 2), (2, 1, 1), (3, 0, 2)]
    assert kept[Col.ARTICLE].is_sorted()  # the frame's order
    shuffled = sample_negatives(frame.sample(fraction=1.0, shuffle=True, seed=1), 2, seed=3)
    assert sorted(shuffled[Col.ARTICLE].to_list()) == kept[Col.ARTICLE].to_list()  # the same rows
    other = sample_negatives(frame, 2, seed=4)
    assert sample_negatives(frame, None).equals(frame) and sample_negatives(frame, 10).equals(frame)
    assert other.height == kept.height
    with pytest.raises(ValueError, match="train_negatives"):
        RankerConfig(train_negatives=0)


def test_a_fit_on_sampled_negatives_trains_on_fewer_rows(tiny_dataset: Dataset, split: Split) -> None:
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    steps: list[str] = []
    model = TwoStageRecommender(tables, config=RankerConfig(train_weeks=2, min_data_in_leaf=5, train_negatives=3))
    model.on_step = steps.append
    model.fit(WeekInput.before(split.history, split.cutoff))
    weeks = [
        labelled_week(split.history, split.cutoff - timedelta(days=7 * k), tables, CandidateConfig(), 30_000)
        for k in (2, 3)
    ]
    rows = sum(sample_negatives(week, 3).height for week in weeks)
    assert f"ranker: fitting on {rows:,} rows" in steps
    assert rows < sum(week.height for week in weeks)  # sampling took rows away
    assert model.ranker is not None


@pytest.mark.parametrize("engine", [None, Shards()], ids=["local", "shards"])
def test_a_week_sampled_where_it_is_built_is_the_whole_week_sampled(
    tiny_dataset: Dataset, engine: Shards | None
) -> None:
    tx = tiny_dataset.transactions()
    week = Split.at(tx).cutoff - timedelta(days=7)
    whole = labelled_week(tx, week, Tables(tiny_dataset.articles(), tiny_dataset.customers()), CandidateConfig())
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())  # its global state from the engine's
    sampled = labelled_week(tx, week, tables, CandidateConfig(), engine=engine, negatives=3, seed=5)
    assert 0 < sampled.height < whole.height
    assert_frame_equal(sampled, sample_negatives(whole, 3, seed=5))
    assert_frame_equal(labelled_week(tx, week, tables, CandidateConfig(), engine=engine), whole)


def test_the_fit_on_weeks_is_the_fit_on_them_stacked(tiny_dataset: Dataset) -> None:
    """One float32 matrix per week gives LightGBM the bins, so the trees, of one stacked matrix."""
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    tx = tiny_dataset.transactions()
    last = Split.at(tx).cutoff
    weeks = [labelled_week(tx, last - timedelta(days=7 * k), tables, CandidateConfig()) for k in (1, 2, 3)]
    features = feature_columns(weeks[0].columns)
    config = RankerConfig(min_data_in_leaf=5, max_rounds=20, early_stopping=5)
    fitted = fit_ranker([Rows.of(w, features) for w in weeks[1:]], Rows.of(weeks[0], features), features, config)

    def stacked(frames: list[pl.DataFrame], reference: lgb.Dataset | None = None) -> lgb.Dataset:
        both = pl.concat(frames)
        return lgb.Dataset(
            matrix(both, features),
            label=both[LABEL].to_numpy(),
            group=np.concatenate([f[Col.CUSTOMER].rle().struct.field("len").to_numpy() for f in frames]),
            feature_name=features,
            reference=reference,
        )

    train = stacked(weeks[1:])
    booster = lgb.train(
        config.params(),
        train,
        num_boost_round=config.max_rounds,
        valid_sets=[stacked(weeks[:1], train)],
        callbacks=[lgb.early_stopping(config.early_stopping, verbose=False, min_delta=1e-9)],
    )
    assert fitted.best_round == booster.best_iteration
    assert fitted.booster.model_to_string() == booster.model_to_string()


@pytest.mark.parametrize("engine", [LocalEngine(), Shards()], ids=["local", "shards"])
def test_the_fit_bins_its_weeks_before_it_labels_the_week_that_picks_the_rounds(
    tiny_dataset: Dataset, split: Split, engine: LocalEngine | Shards
) -> None:
    # the weeks the trees learn from become LightGBM's dataset (their matrices go) before the
    # newest week, all its rows, is built (through shards: a part at a time, in shard order):
    # never all held at once; the trees are those of a fit that held them all
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    config = RankerConfig(train_weeks=2, min_data_in_leaf=5, max_rounds=20, early_stopping=5, train_negatives=3)
    steps: list[str] = []
    model = TwoStageRecommender(tables, config=config, engine=engine)
    model.on_step = steps.append
    model.fit(WeekInput.before(split.history, split.cutoff))
    newest = split.cutoff - timedelta(days=7)
    labelling = [s for s in steps if s.startswith("ranker: labelling week")]
    assert labelling[-1] == f"ranker: labelling week 3/3 (from {newest})"
    binning = next(i for i, s in enumerate(steps) if s.startswith("ranker: binning"))
    assert steps.index(labelling[-2]) < binning < steps.index(labelling[-1])
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())  # the reference's state, in one pass
    weeks = [
        labelled_week(split.history, newest - timedelta(days=7 * k), tables, CandidateConfig(), 30_000)
        for k in (0, 1, 2)
    ]
    features = feature_columns(weeks[1].columns)
    older = [Rows.of(sample_negatives(w, 3), features) for w in weeks[1:]]
    held = fit_ranker(older, Rows.of(weeks[0], features), features, config)
    assert model.ranker is not None and model.ranker.features == features
    assert model.ranker.booster.model_to_string() == held.booster.model_to_string()
    assert held.valid_map is not None and model.ranker.valid_map == pytest.approx(held.valid_map, abs=1e-12)
    with pytest.raises(ValueError, match="other LightGBM parameters"):
        fit_ranker(TrainingSet.of(older, features, config), None, features, replace(config, num_leaves=7))
    with StoredWeeks() as newest:
        newest.add(Rows.of(weeks[0], features))
        binned = newest.validation(features, TrainingSet.of(older, features, config))
    with pytest.raises(ValueError, match="another training set"):  # bins of another training set
        fit_ranker(TrainingSet.of(older, features, config), binned, features, config)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="objective"):
        RankerConfig(objective="regression")
    with pytest.raises(ValueError, match="feature block"):
        RankerConfig(drop_blocks=("colour",))
    with pytest.raises(ValueError, match="source"):
        CandidateConfig(sources=())


@pytest.fixture(scope="module")
def split(tiny_dataset: Dataset) -> Split:
    return Split.at(tiny_dataset.transactions())


@pytest.fixture(scope="module")
def fitted(tiny_dataset: Dataset, split: Split, tmp_path_factory: pytest.TempPathFactory) -> TwoStageRecommender:
    model = TwoStageRecommender(
        Tables(tiny_dataset.articles(), tiny_dataset.customers()),
        config=RankerConfig(train_weeks=2, min_data_in_leaf=5),
        artifacts=tmp_path_factory.mktemp("ranker") / "model",
    )
    return model.fit(WeekInput.before(split.history, split.cutoff))


def test_chunked_inference_ranks_as_one_shot(
    fitted: TwoStageRecommender, tiny_dataset: Dataset, split: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = tiny_dataset.submission_customers().collect()[Col.CUSTOMER]
    assert fitted.ranker is not None

    def ranked(chunk: int) -> pl.DataFrame:
        week = fitted.tables.week(split.history, split.cutoff, fitted.candidates)
        return rank_customers(fitted.ranker, week, customers, fitted.candidates, 12, chunk)

    whole = ranked(10**6)
    assert whole[Col.CUSTOMER].n_unique() > 100
    assert_frame_equal(ranked(37), whole)
    monkeypatch.setattr(inference, "CHUNK_ROWS", fitted.candidates.cap * 25)  # 25 customers' rows at most
    chunks: list[tuple[int, int]] = []
    week = fitted.tables.week(split.history, split.cutoff, fitted.candidates)
    by_rows = rank_customers(
        fitted.ranker, week, customers, fitted.candidates, 12, 10**6, lambda i, n: chunks.append((i, n))
    )
    assert_frame_equal(by_rows, whole)
    served = whole[Col.CUSTOMER].n_unique()
    assert chunks[-1][1] >= -(-served // 25) and len(chunks) == chunks[-1][1]  # chunks of at most 25 customers
    assert whole[Col.SOURCES].str.len_chars().min() > 0  # every row names a source


def test_rank_chunk_of_a_shuffled_frame_ranks_as_the_sorted_one(
    fitted: TwoStageRecommender, tiny_dataset: Dataset, split: Split
) -> None:
    assert fitted.ranker is not None
    week = fitted.tables.week(split.history, split.cutoff, fitted.candidates)
    customers = week.past().select(Col.CUSTOMER).unique().sort(Col.CUSTOMER).collect()[Col.CUSTOMER].head(60)
    frame = candidate_features(week.chunk(customers), fitted.candidates)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=3)
    assert not shuffled.equals(frame)
    names = fitted.candidates.sources
    ranked = rank_chunk(fitted.ranker, frame, names, 12)
    assert ranked[Col.CUSTOMER].n_unique() > 30 and ranked.height > 30 * 12 // 2
    assert_frame_equal(rank_chunk(fitted.ranker, shuffled, names, 12), ranked)  # sorted first, then ranked


def test_compiled_trees_rank_as_lightgbm(
    fitted: TwoStageRecommender, tiny_dataset: Dataset, split: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = tiny_dataset.submission_customers().collect()[Col.CUSTOMER]
    ranker = fitted.ranker
    assert ranker is not None and ranker.forest is None
    week = fitted.tables.week(split.history, split.cutoff, fitted.candidates)
    by_lightgbm = rank_customers(ranker, week, customers, fitted.candidates, 12, 10**6)
    assert ranker.forest is None  # a few thousand rows: not worth a compile
    monkeypatch.setattr(compiled, "COMPILE_ROWS", 1)
    monkeypatch.setattr(compiled, "BLOCK_ROWS", 1000)  # several blocks
    copy = pickle.loads(pickle.dumps(ranker))
    by_compiled = rank_customers(copy, week, customers, fitted.candidates, 12, 10**6)
    assert copy.forest is not None  # compiled this time
    assert_frame_equal(by_compiled, by_lightgbm)  # scores to the bit, so the same lists
    assert pickle.loads(pickle.dumps(copy)).forest is None  # native code does not travel to another process


def test_cold_and_short_lists_are_filled_with_popular_articles(tiny_dataset: Dataset, split: Split) -> None:
    model = TwoStageRecommender(
        Tables(tiny_dataset.articles(), tiny_dataset.customers()),
        candidates=CandidateConfig(sources=("repurchase",), per_source=3, cap=3),
        config=RankerConfig(train_weeks=2, min_data_in_leaf=5),
    ).fit(WeekInput.before(split.history, split.cutoff))
    stranger = 10**6
    buyer = split.history.select(Col.CUSTOMER).first().collect().item()
    recs = model.recommend(pl.Series([stranger, buyer], dtype=pl.UInt32), details=True)
    popular = popular_articles(split.history, split.cutoff)
    assert recs.filter(pl.col(Col.CUSTOMER) == stranger)[Col.ARTICLE].to_list() == popular[:12]
    assert recs.filter(pl.col(Col.CUSTOMER) == stranger)[Col.SOURCES].unique().to_list() == [FILL_SOURCE]
    ranked = recs.filter(pl.col(Col.CUSTOMER) == buyer, pl.col(Col.SOURCES) != FILL_SOURCE).sort(Col.RANK)
    own = ranked[Col.ARTICLE].to_list()
    assert 1 <= len(own) <= 3 and ranked[Col.SCORE].null_count() == 0
    mine = recs.filter(pl.col(Col.CUSTOMER) == buyer).sort(Col.RANK)[Col.ARTICLE].to_list()
    assert mine == (own + [a for a in popular if a not in own])[:12]


def test_artifacts_hold_the_model_its_features_and_importance(fitted: TwoStageRecommender, split: Split) -> None:
    folder = fitted.artifacts
    assert folder is not None and fitted.ranker is not None
    info = json.loads((folder / "features.json").read_text())
    assert info["features"] == fitted.ranker.features and info["cutoff"] == split.cutoff.isoformat()
    assert info["ranker"]["train_weeks"] == 2
    importance = pl.read_csv(folder / "importance.csv")
    assert sorted(importance["feature"]) == sorted(fitted.ranker.features)
    assert importance["gain"].sum() > 0
    loaded = FittedRanker.load(folder)
    frame = pl.DataFrame({f: np.linspace(0, 1, 5) for f in fitted.ranker.features})
    np.testing.assert_allclose(loaded.predict(frame), fitted.ranker.predict(frame))


def test_loading_from_an_empty_folder_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model.txt"):
        FittedRanker.load(tmp_path)


def test_binary_objective_and_dropped_blocks(tiny_dataset: Dataset, split: Split) -> None:
    model = TwoStageRecommender(
        Tables(tiny_dataset.articles(), tiny_dataset.customers()),
        config=RankerConfig(train_weeks=2, min_data_in_leaf=5, objective="binary", drop_blocks=("pair",)),
    ).fit(WeekInput.before(split.history, split.cutoff))
    assert model.ranker is not None
    assert not any(FEATURE_BLOCKS["pair"](f) for f in model.ranker.features)
    assert any(FEATURE_BLOCKS["customer"](f) for f in model.ranker.features)
