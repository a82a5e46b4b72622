"""One suite for every recommender, plus hand-made cases per baseline."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import hmrec
from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.recommenders.base import Recommender, fill_with
from hmrec.recommenders.baselines import PopularRecommender, RepurchaseRecommender, popular_articles
from hmrec.registry import MODELS, make_model
from hmrec.schema import RECOMMENDATION_SCHEMA, Col
from hmrec.settings import Settings


@pytest.fixture(scope="module")
def split(tiny_dataset: Dataset) -> Split:
    return Split.at(tiny_dataset.transactions())


def customers_of(tiny_dataset: Dataset) -> pl.Series:
    return tiny_dataset.submission_customers().collect()[Col.CUSTOMER]


@pytest.mark.parametrize("name", list(MODELS))
class TestEveryRecommender:
    def test_is_a_recommender(self, name: str, tiny_dataset: Dataset) -> None:
        assert isinstance(make_model(name, tiny_dataset), Recommender)

    def test_twelve_distinct_articles_for_each_customer_asked(
        self, name: str, split: Split, tiny_dataset: Dataset
    ) -> None:
        customers = customers_of(tiny_dataset)
        recs = make_model(name, tiny_dataset).fit(WeekInput.before(split.history, split.cutoff)).recommend(customers)
        assert dict(recs.schema) == RECOMMENDATION_SCHEMA
        assert set(recs[Col.CUSTOMER]) == set(customers)
        per = recs.group_by(Col.CUSTOMER).agg(
            n=pl.len(), distinct=pl.col(Col.ARTICLE).n_unique(), ranks=pl.col(Col.RANK).sort()
        )
        assert per["n"].to_list() == [12] * len(customers)
        assert per["distinct"].to_list() == [12] * len(customers)
        assert all(r == list(range(1, 13)) for r in per["ranks"].to_list())
        assert recs[Col.ARTICLE].max() < tiny_dataset.n_articles()

    def test_deterministic(self, name: str, split: Split, tiny_dataset: Dataset) -> None:
        customers = customers_of(tiny_dataset)
        first = make_model(name, tiny_dataset).fit(WeekInput.before(split.history, split.cutoff)).recommend(customers)
        second = make_model(name, tiny_dataset).fit(WeekInput.before(split.history, split.cutoff)).recommend(customers)
        assert_frame_equal(first.sort(Col.CUSTOMER, Col.RANK), second.sort(Col.CUSTOMER, Col.RANK))

    def test_a_second_fit_gives_the_same_model(self, name: str, split: Split, tiny_dataset: Dataset) -> None:
        customers = customers_of(tiny_dataset)
        model = make_model(name, tiny_dataset).fit(WeekInput.before(split.history, split.cutoff))
        first = model.recommend(customers, details=True)
        second = model.fit(WeekInput.before(split.history, split.cutoff)).recommend(customers, details=True)
        assert_frame_equal(first, second)

    def test_save_and_load_give_the_same_recommendations(
        self, name: str, tiny_dataset: Dataset, tmp_path: Path
    ) -> None:
        model = hmrec.fit(tiny_dataset, Settings(model=name))
        model.save(tmp_path / name)
        loaded = hmrec.load_model(tmp_path / name)
        assert loaded.name == name and loaded.settings == model.settings
        assert_frame_equal(model.recommend(tiny_dataset, details=True), loaded.recommend(tiny_dataset, details=True))

    def test_customer_without_history_gets_popular_articles(
        self, name: str, split: Split, tiny_dataset: Dataset
    ) -> None:
        stranger = pl.Series([10**6], dtype=pl.UInt32)
        recs = make_model(name, tiny_dataset).fit(WeekInput.before(split.history, split.cutoff)).recommend(stranger)
        assert recs[Col.ARTICLE].to_list() == popular_articles(split.history, split.cutoff)[:12]


def history(rows: list[tuple[str, int, int]]) -> pl.LazyFrame:
    """(date, customer, article) rows as a prepared transactions frame."""
    return pl.LazyFrame(
        {
            Col.DATE: [date.fromisoformat(r[0]) for r in rows],
            Col.CUSTOMER: pl.Series([r[1] for r in rows], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[2] for r in rows], dtype=pl.UInt32),
        }
    )


FILLER = [("2020-01-01", 9, a) for a in range(100, 130)]  # old sales of 30 other articles


def test_popular_counts_only_the_last_week() -> None:
    rows = [
        *FILLER,
        *[("2020-09-01", c, 1) for c in range(5)],  # article 1: 5 sales, but 3 weeks ago
        ("2020-09-20", 0, 2),  # article 2: 2 sales last week
        ("2020-09-21", 1, 2),
        ("2020-09-21", 2, 3),  # article 3: 1 sale last week
    ]
    top = PopularRecommender().fit(WeekInput.before(history(rows), date(2020, 9, 22))).fill
    assert top[:2] == [2, 3]
    assert 1 in top  # the older articles only fill the list after last week's


def test_repurchase_ranks_own_purchases_by_decayed_count() -> None:
    rows = [
        *FILLER,
        ("2020-09-20", 0, 5),  # bought once, two days ago
        ("2020-06-01", 0, 6),  # bought twice, long ago: decayed below article 5
        ("2020-06-01", 0, 6),
        ("2020-09-19", 0, 7),  # twice, recently: the strongest
        ("2020-09-19", 0, 7),
        ("2019-01-01", 0, 8),  # outside the 26-week window: forgotten
    ]
    model = RepurchaseRecommender().fit(WeekInput.before(history(rows), date(2020, 9, 22)))
    recs = model.recommend(pl.Series([0], dtype=pl.UInt32))
    assert recs[Col.ARTICLE].to_list()[:3] == [7, 5, 6]
    assert 8 not in recs[Col.ARTICLE].to_list()[:3]
    assert recs[Col.ARTICLE].to_list()[3:] == [a for a in model.fill if a not in (5, 6, 7)][:9]


def test_fill_skips_articles_already_listed() -> None:
    own = pl.LazyFrame({Col.CUSTOMER: [0, 0], Col.ARTICLE: [3, 1], Col.RANK: [1, 2]})
    recs = fill_with(own, pl.Series([0, 1], dtype=pl.UInt32), list(range(20)), k=4)
    assert recs.filter(pl.col(Col.CUSTOMER) == 0)[Col.ARTICLE].to_list() == [3, 1, 0, 2]
    assert recs.filter(pl.col(Col.CUSTOMER) == 1)[Col.ARTICLE].to_list() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="distinct fill articles"):
        fill_with(own, pl.Series([0], dtype=pl.UInt32), [1, 2], k=4)


def test_fill_counts_distinct_articles_of_a_full_list() -> None:
    own = pl.LazyFrame(
        {
            Col.CUSTOMER: [2, 2, 2, 2, 3, 3, 3, 3, 3],  # 2: four rows, three articles; 3: five articles
            Col.ARTICLE: [5, 5, 6, 7, 9, 8, 7, 6, 5],
            Col.RANK: [1, 2, 3, 4, 1, 2, 3, 4, 5],
        }
    )
    recs = fill_with(own, pl.Series([2, 3], dtype=pl.UInt32), list(range(20)), k=4)
    assert recs.filter(pl.col(Col.CUSTOMER) == 2)[Col.ARTICLE].to_list() == [5, 6, 7, 0]
    assert recs.filter(pl.col(Col.CUSTOMER) == 3)[Col.ARTICLE].to_list() == [9, 8, 7, 6]


def test_fill_serves_full_partial_and_empty_lists_in_one_order() -> None:
    own = pl.LazyFrame(  # given out of order; customer 9 is not asked for
        {
            Col.CUSTOMER: [4, 1, 4, 1, 1, 4, 9, 1, 4],
            Col.ARTICLE: [2, 12, 7, 10, 11, 7, 1, 13, 8],  # 4 has article 7 twice
            Col.RANK: [3, 2, 1, 4, 3, 2, 1, 1, 4],
        }
    )
    fallback = [7, 7, 3, 2, 5, 6, 0, 9]  # a repeat: what a customer without articles gets is 7, 3, 2, 5
    recs = fill_with(own, pl.Series([6, 4, 1], dtype=pl.UInt32), fallback, k=4)
    assert recs[Col.CUSTOMER].to_list() == [1] * 4 + [4] * 4 + [6] * 4  # sorted by customer, then rank
    assert recs[Col.RANK].to_list() == [1, 2, 3, 4] * 3
    assert recs.filter(pl.col(Col.CUSTOMER) == 1)[Col.ARTICLE].to_list() == [13, 12, 11, 10]  # full: its own
    assert recs.filter(pl.col(Col.CUSTOMER) == 4)[Col.ARTICLE].to_list() == [7, 2, 8, 3]  # 3 distinct, then 3
    assert recs.filter(pl.col(Col.CUSTOMER) == 6)[Col.ARTICLE].to_list() == [7, 3, 2, 5]  # none of its own
    alone = fill_with(None, pl.Series([5, 2], dtype=pl.UInt32), fallback, k=4)
    assert alone.rows() == [(2, 7, 1), (2, 3, 2), (2, 2, 3), (2, 5, 4), (5, 7, 1), (5, 3, 2), (5, 2, 3), (5, 5, 4)]
