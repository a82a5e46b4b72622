"""Every candidate source: the contract suite on the tiny shop, then a hand-made case each."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.lists import popular_articles
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.recommenders.mf.config import MFConfig
from hmrec.retrieval import bought_together
from hmrec.retrieval.base import CANDIDATE_SCHEMA, CandidateSource, ranked
from hmrec.retrieval.bought_together import BoughtTogetherSource, co_occurrence
from hmrec.retrieval.mf import MFSource
from hmrec.retrieval.pipeline import SOURCES
from hmrec.retrieval.popular import BUCKET, AgePopularSource, PopularSource, PostalPopularSource, TrendingSource
from hmrec.retrieval.repurchase import RepurchaseSource
from hmrec.retrieval.same_product import SameProductSource
from hmrec.retrieval.taste import TasteSource
from hmrec.schema import Col


def build(name: str, n: int = 20) -> CandidateSource:
    source = SOURCES[name](n)
    if isinstance(source, MFSource):  # keep the contract suite quick
        source = replace(source, config=MFConfig(dim=8, epochs=2))
    return source


@pytest.fixture(scope="module")
def tiny_input(tiny_dataset: Dataset) -> WeekInput:
    split = Split.at(tiny_dataset.transactions())
    customers = tiny_dataset.submission_customers().collect()[Col.CUSTOMER]
    return WeekInput.of(tiny_dataset, split, customers)


@pytest.mark.parametrize("name", list(SOURCES))
class TestEverySource:
    def test_schema_and_no_duplicate_pairs(self, name: str, tiny_input: WeekInput) -> None:
        source = build(name)
        assert isinstance(source, CandidateSource) and source.name == name
        out = source.candidates(tiny_input).collect()
        assert dict(out.schema) == CANDIDATE_SCHEMA
        assert out.height > 0
        assert not out.select(Col.CUSTOMER, Col.ARTICLE).is_duplicated().any()
        per = out.group_by(Col.CUSTOMER).agg(n=pl.len(), ranks=pl.col(Col.RANK).sort())
        assert per["n"].max() <= 20
        assert all(r == list(range(1, len(r) + 1)) for r in per["ranks"].to_list())

    def test_only_known_articles_and_served_customers(
        self, name: str, tiny_input: WeekInput, tiny_dataset: Dataset
    ) -> None:
        out = build(name).candidates(tiny_input).collect()
        assert out[Col.ARTICLE].max() < tiny_dataset.n_articles()
        served = set(tiny_input.customers.collect()[Col.CUSTOMER])
        assert set(out[Col.CUSTOMER]) <= served

    def test_deterministic(self, name: str, tiny_input: WeekInput) -> None:
        first = build(name).candidates(tiny_input).collect().sort(Col.CUSTOMER, Col.RANK)
        second = build(name).candidates(tiny_input).collect().sort(Col.CUSTOMER, Col.RANK)
        assert_frame_equal(first, second)

    def test_rows_after_the_cutoff_change_nothing(
        self, name: str, tiny_input: WeekInput, tiny_dataset: Dataset
    ) -> None:
        full = tiny_dataset.transactions()
        leaky = replace(tiny_input, history=full)  # the history now holds the holdout week too
        assert full.select(pl.len()).collect().item() > tiny_input.history.select(pl.len()).collect().item()
        assert_frame_equal(
            build(name).candidates(tiny_input).collect().sort(Col.CUSTOMER, Col.RANK),
            build(name).candidates(leaky).collect().sort(Col.CUSTOMER, Col.RANK),
        )


CUTOFF = date(2020, 9, 22)


def hand_input(
    rows: list[tuple[int, int, int]],
    products: dict[int, int] | None = None,
    ages: dict[int, int] | None = None,
    serve: list[int] | None = None,
    postal: dict[int, int] | None = None,
) -> WeekInput:
    """``rows`` are (days before the cutoff, customer, article)."""
    history = pl.LazyFrame(
        {
            Col.DATE: [CUTOFF - timedelta(days=d) for d, _, _ in rows],
            Col.CUSTOMER: pl.Series([c for _, c, _ in rows], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([a for _, _, a in rows], dtype=pl.UInt32),
            Col.PRICE: pl.Series([0.05] * len(rows), dtype=pl.Float32),
        }
    )
    articles = sorted({a for _, _, a in rows} | set(products or {}))
    products = products or {}
    customers = sorted({c for _, c, _ in rows} | set(serve or []))
    return WeekInput(
        history=history,
        customers=pl.LazyFrame({Col.CUSTOMER: pl.Series(serve if serve is not None else customers, dtype=pl.UInt32)}),
        cutoff=CUTOFF,
        articles=pl.LazyFrame(
            {
                Col.ARTICLE: pl.Series(articles, dtype=pl.UInt32),
                Col.PRODUCT_CODE: [products.get(a, 1000 + a) for a in articles],
            }
        ),
        customer_table=pl.LazyFrame(
            {
                Col.CUSTOMER: pl.Series(customers, dtype=pl.UInt32),
                Col.AGE: pl.Series([(ages or {}).get(c) for c in customers], dtype=pl.Int16),
                Col.POSTAL: pl.Series([(postal or {}).get(c) for c in customers], dtype=pl.UInt32),
            }
        ),
    )


def articles_for(out: pl.LazyFrame, customer: int) -> list[int]:
    return out.collect().filter(pl.col(Col.CUSTOMER) == customer).sort(Col.RANK)[Col.ARTICLE].to_list()


def test_repurchase_prefers_recent_and_frequent() -> None:
    data = hand_input([(1, 0, 5), (60, 0, 6), (2, 0, 7), (3, 0, 7), (400, 0, 8)])  # 8: older than 26 weeks
    assert articles_for(RepurchaseSource().candidates(data), 0) == [7, 5, 6]


def test_same_product_offers_other_colours_that_still_sell() -> None:
    # customer 0 bought article 1 (product 10); 2 and 3 are its siblings; 3 sold more lately;
    # 4 is a sibling that stopped selling long ago; 9 is another product
    rows = [(3, 0, 1), (2, 1, 2), (2, 2, 3), (1, 3, 3), (200, 4, 4), (1, 5, 9)]
    data = hand_input(rows, products={1: 10, 2: 10, 3: 10, 4: 10, 9: 90})
    assert articles_for(SameProductSource().candidates(data), 0) == [3, 2]


def test_bought_together_expands_through_co_purchases() -> None:
    rows = [
        (10, 1, 5),
        (9, 1, 6),  # customer 1 bought 5 then 6 a day later
        (10, 2, 5),
        (10, 2, 6),  # customer 2 bought both the same day
        (10, 3, 5),
        (10, 3, 7),  # customer 3 bought 5 with 7
        (30, 4, 5),
        (1, 4, 8),  # customer 4 bought 8 long after 5: not together
        (2, 0, 5),  # customer 0 just bought 5
    ]
    out = BoughtTogetherSource().candidates(hand_input(rows, serve=[0]))
    assert articles_for(out, 0) == [6, 7]


@pytest.mark.parametrize("key_bits", [64, 0])  # ids packed into one integer, or three columns
def test_co_occurrence_counts_customers_not_days(monkeypatch: pytest.MonkeyPatch, key_bits: int) -> None:
    monkeypatch.setattr(bought_together, "KEY_BITS", key_bits)
    rows = [(20, 1, 5), (20, 1, 6), (10, 1, 5), (9, 1, 6)]  # customer 1: 5 with 6 on two occasions
    rows += [(10, 2, 5), (10, 2, 7), (10, 3, 6), (12, 3, 5), (30, 4, 5), (1, 4, 7)]  # 3: 6 after 5
    pairs = co_occurrence(hand_input(rows), 8, 7, 10).collect()
    confidence = {(a, o): c for a, o, c in pairs.iter_rows()}
    # 5's four buyers: 1 and 3 bought 6 with it (1 counted once), 2 bought 7; 4's 7 came too late
    assert confidence == {(5, 6): 2 / 4, (5, 7): 1 / 4, (6, 5): 1 / 2, (7, 5): 1 / 2}


def test_popular_lists_last_weeks_best_sellers_for_everyone() -> None:
    rows = [(1, 1, 5), (2, 2, 5), (3, 3, 6), (20, 4, 7), (20, 5, 7), (20, 6, 7)]  # 7 sold 3 weeks ago
    out = PopularSource(n=2).candidates(hand_input(rows, serve=[0, 9]))
    assert articles_for(out, 0) == [5, 6] and articles_for(out, 9) == [5, 6]


def test_popular_is_the_fill_list_and_falls_back_to_older_best_sellers() -> None:
    rows = [(1, 1, 5), (2, 2, 5), (3, 3, 6), (20, 4, 7), (20, 5, 7), (20, 6, 7), (30, 7, 8)]
    data = hand_input(rows, serve=[0])
    out = PopularSource(n=3).candidates(data)
    assert articles_for(out, 0) == [5, 6, 7]  # the week holds two articles; 7 sold most before it
    assert articles_for(out, 0) == popular_articles(data.history, data.cutoff, n=3)


def test_age_popular_follows_the_age_bucket() -> None:
    rows = [(1, 1, 5), (1, 2, 5), (1, 3, 6), (1, 4, 6), (1, 5, 6)]
    ages = {0: 22, 1: 21, 2: 25, 3: 55, 4: 51, 5: 58, 6: 23}
    out = AgePopularSource(n=1).candidates(hand_input(rows, ages=ages, serve=[0, 6, 3]))
    assert articles_for(out, 0) == [5] and articles_for(out, 6) == [5] and articles_for(out, 3) == [6]


def test_postal_popular_follows_the_postal_code() -> None:
    # code 7: customers 0-2 bought 5 twice and 6 once; code 8: customer 3 bought 6; no code: 4 bought 9
    rows = [(1, 0, 5), (2, 1, 5), (1, 2, 6), (1, 3, 6), (1, 3, 5), (3, 4, 9), (3, 4, 9), (20, 0, 9)]
    postal = {0: 7, 1: 7, 2: 7, 3: 8, 5: 7, 6: 8}
    out = PostalPopularSource(n=2).candidates(hand_input(rows, serve=[5, 6, 9, 0], postal=postal))
    assert articles_for(out, 5) == [5, 6]  # the code's own best sellers, not the shop's (9 twice)
    assert articles_for(out, 0) == [5, 6]
    assert articles_for(out, 6) == [5, 6]  # code 8: one unit each, ties to the lower article
    assert articles_for(out, 9) == [9]  # no code: the cohort of customers without one (customer 4)
    assert out.collect().filter(pl.col(Col.CUSTOMER) == 5)[Col.SCORE].to_list() == [2.0, 1.0]
    # a row older than the week (day 20) counts for nobody


def test_trending_prefers_rising_articles() -> None:
    week_before = [(10, c, 5) for c in range(10)] + [(10, c, 6) for c in range(2)]
    last_week = [(2, c, 5) for c in range(6)] + [(2, c, 6) for c in range(6)]
    out = TrendingSource(n=2).candidates(hand_input(week_before + last_week, serve=[0]))
    assert articles_for(out, 0) == [6, 5]  # 6 rose from 2 to 6 units, 5 fell from 10 to 6


def test_mf_source_proposes_the_customers_own_taste() -> None:
    # even customers buy even articles, odd customers odd ones; each customer left some unbought
    rows = [(1 + (c + a) % 20, c, a) for c in range(40) for a in range(c % 2, 20, 2) if (a + c) % 5]
    data = hand_input(rows, serve=[0, 1])
    out = MFSource(n=5, config=MFConfig(dim=8, epochs=30, batch_size=64, lr=0.05, l2=0.0)).candidates(data)
    for customer in (0, 1):
        assert all(a % 2 == customer % 2 for a in articles_for(out, customer))


def test_taste_popular_mixes_each_values_best_sellers_by_the_customers_shares() -> None:
    # customer 0 bought 3 units in department 1 and 1 in department 2, a month ago
    mine = [(30, 0, 10), (30, 0, 10), (30, 0, 11), (30, 0, 21)]
    # last week: department 1 sold 10 x3 and 11 x1 five days ago, 12 x2 yesterday (the 3-day window
    # doubles its weight); department 2 sold 20 x5 and 21 x4, more than any article of department 1
    week = [(5, 1, 10)] * 3 + [(5, 2, 11)] + [(1, 3, 12)] * 2 + [(5, 4, 20)] * 5 + [(5, 5, 21)] * 4
    data = hand_input(mine + week, serve=[0, 9])
    department = {10: 1, 11: 1, 12: 1, 20: 2, 21: 2}
    data = replace(
        data,
        articles=data.articles.with_columns(
            pl.col(Col.ARTICLE).replace_strict(department, return_dtype=pl.Int16).alias(Col.DEPARTMENT_NO)
        ),
    )
    out = TasteSource(n=3, attributes=(Col.DEPARTMENT_NO,)).candidates(data)
    # scores: 12: 3/4 x (2/6 + 2/2) = 1.0; 10: 3/4 x 3/6 = 0.375; 20: 1/4 x 5/9 = 0.139; 11: 3/4 x 1/6 = 0.125
    assert articles_for(out, 0) == [12, 10, 20]
    assert articles_for(out, 9) == []  # no history: no taste
    scores = out.collect().filter(pl.col(Col.CUSTOMER) == 0).sort(Col.RANK)[Col.SCORE].to_list()
    assert scores == pytest.approx([1.0, 0.375, 5 / 36], rel=1e-6)
    assert articles_for(PopularSource(n=3).candidates(data), 0) == [20, 21, 10]  # what taste replaces
    # with values=1 only the customer's first department counts
    assert articles_for(TasteSource(n=3, values=1, attributes=(Col.DEPARTMENT_NO,)).candidates(data), 0) == [12, 10, 11]


def test_taste_shares_are_each_customers_top_values_counted_by_hand() -> None:
    # two attributes, one with negative values and nulls; few values: many ties on units
    rng = np.random.default_rng(11)
    rows = [(int(rng.integers(1, 60)), int(rng.integers(0, 25)), int(rng.integers(0, 30))) for _ in range(600)]
    colour = {a: int(rng.integers(-3, 3)) if a % 7 else None for a in range(30)}
    department = {a: int(rng.integers(1, 5)) for a in range(30)}
    data = hand_input(rows, serve=list(range(0, 25, 2)) + [99])
    data = replace(
        data,
        articles=data.articles.with_columns(
            pl.col(Col.ARTICLE).replace_strict(colour, return_dtype=pl.Int32).alias(Col.COLOUR_GROUP_CODE),
            pl.col(Col.ARTICLE).replace_strict(department, return_dtype=pl.Int32).alias(Col.DEPARTMENT_NO),
        ),
    )
    source = TasteSource(n=5, values=2, attributes=(Col.COLOUR_GROUP_CODE, Col.DEPARTMENT_NO))
    got = (
        source.shares(data)
        .collect()
        .sort(Col.CUSTOMER, "__attr", "__share", "__value", descending=[False, False, True, False])
    )
    want = []
    for customer in range(0, 25, 2):
        bought = [a for _, c, a in rows if c == customer]
        for attr, values in enumerate((colour, department)):
            units: dict[int, int] = {}
            for article in bought:
                if values[article] is not None:
                    units[values[article]] = units.get(values[article], 0) + 1
            total = sum(units.values())
            best = sorted(units.items(), key=lambda vu: (-vu[1], vu[0]))[:2]
            want += [(customer, attr, value, u / total) for value, u in best]
    assert [(c, a, v) for c, a, v, _ in got.rows()] == [(c, a, v) for c, a, v, _ in want]
    assert got["__share"].to_list() == pytest.approx([share for *_, share in want])


@pytest.mark.parametrize("source", [AgePopularSource(n=4), PostalPopularSource(n=4)])
def test_cohort_lists_equal_each_customer_ranking_their_cohort_s_rows(source: AgePopularSource) -> None:
    # the lists are ranked once per cohort: the same rows, in the same order, as ranking every
    # served customer's joined cohort rows (ties on units to the lower article, served
    # customers in any order, one served twice, one never seen)
    rng = np.random.default_rng(5)
    rows = [(int(rng.integers(1, 7)), int(rng.integers(0, 30)), int(rng.integers(0, 12))) for _ in range(300)]
    ages = {c: int(rng.integers(18, 80)) for c in range(0, 30, 2)}  # the odd ones have no age
    postal = {c: int(rng.integers(0, 4)) for c in range(0, 30, 3)}
    data = hand_input(rows, ages=ages, serve=[29, 3, 3, 0, 17, 40, 8], postal=postal)
    bucket = source.buckets(data)
    served = (
        data.customers.unique().join(bucket, on=Col.CUSTOMER, how="left").with_columns(pl.col(BUCKET).fill_null(-1))
    )
    expected = ranked(served.join(source.top(data), on=BUCKET).select(Col.CUSTOMER, Col.ARTICLE, Col.SCORE), 4)
    got = source.candidates(data).collect()
    assert got.height == 6 * 4  # six customers served, four articles each
    assert_frame_equal(got, expected.collect())
