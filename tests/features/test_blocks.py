"""Feature blocks: values by hand, and no leakage from rows at or after the cutoff."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from functools import partial

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.features.article import ATTRIBUTES, article_features
from hmrec.features.customer import customer_features
from hmrec.features.join import join_features
from hmrec.features.pair import TASTE, UNITS, pair_features, product_features, taste_features, window_units
from hmrec.features.signals import (
    AGE_BUCKET,
    age_cohort_features,
    postal_cohort_features,
    recent_share_features,
    section_share_features,
    trend_features,
)
from hmrec.retrieval.covisit import CoVisitation, CoVisitSource
from hmrec.schema import Col

CUTOFF = date(2020, 9, 22)


def week(rows: list[tuple[int, int, int, float, int]], ages: dict[int, int]) -> WeekInput:
    """``rows`` are (days before the cutoff, customer, article, price, channel).

    Articles 1 and 2 are colours of product 100 (department 7); article 3 is product 300
    (department 7); article 4 is product 400 (department 8).
    """
    history = pl.LazyFrame(
        {
            Col.DATE: [CUTOFF - timedelta(days=r[0]) for r in rows],
            Col.CUSTOMER: pl.Series([r[1] for r in rows], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[2] for r in rows], dtype=pl.UInt32),
            Col.PRICE: pl.Series([r[3] for r in rows], dtype=pl.Float32),
            Col.CHANNEL: pl.Series([r[4] for r in rows], dtype=pl.Int8),
        }
    )
    articles = pl.LazyFrame(
        {
            Col.ARTICLE: pl.Series([1, 2, 3, 4], dtype=pl.UInt32),
            Col.PRODUCT_CODE: [100, 100, 300, 400],
            **{c: [7, 7, 7, 8] if c == Col.DEPARTMENT_NO else [1, 2, 3, 4] for c in ATTRIBUTES},
        }
    )
    customers = sorted(ages)
    return WeekInput(
        history=history,
        customers=pl.LazyFrame({Col.CUSTOMER: pl.Series(customers, dtype=pl.UInt32)}),
        cutoff=CUTOFF,
        articles=articles,
        customer_table=pl.LazyFrame(
            {
                Col.CUSTOMER: pl.Series(customers, dtype=pl.UInt32),
                Col.AGE: pl.Series([ages[c] for c in customers], dtype=pl.Int16),
                Col.POSTAL: pl.Series([c % 2 for c in customers], dtype=pl.UInt32),  # 0 and 2 share a postal code
            }
        ),
    )


ROWS = [
    (2, 0, 1, 0.02, 2),  # customer 0, article 1 two days ago online, at a markdown price
    (20, 0, 1, 0.04, 1),  # ... and 20 days ago in store at full price (a repurchase)
    (60, 0, 3, 0.06, 2),  # ... article 3, 60 days ago
    (5, 1, 2, 0.04, 2),  # customer 1, article 2 (same product as 1)
    (40, 1, 1, 0.04, 2),  # customer 1, article 1 long ago
]
AGES = {0: 20, 1: 40, 2: 30}  # customer 2 never bought


def row(frame: pl.LazyFrame, **keys: int) -> dict:
    out = frame.collect()
    for k, v in keys.items():
        out = out.filter(pl.col(k) == v)
    assert out.height == 1
    return out.row(0, named=True)


def test_customer_features_by_hand() -> None:
    feats = customer_features(week(ROWS, AGES))
    c0 = row(feats, customer=0)
    assert (c0["c_n_1w"], c0["c_n_4w"], c0["c_n_12w"], c0["c_n_all"]) == (1, 2, 3, 3)
    assert c0["c_days_since_last"] == 2 and c0["c_age"] == 20
    assert c0["c_online_share"] == pytest.approx(2 / 3)
    assert c0["c_price_mean"] == pytest.approx(0.04)
    c2 = row(feats, customer=2)
    assert c2["c_n_all"] == 0 and c2["c_days_since_last"] is None and c2["c_age"] == 30


def test_article_features_by_hand() -> None:
    feats = article_features(week(ROWS, AGES))
    a1 = row(feats, article=1)
    assert (a1["a_n_1w"], a1["a_n_2w"], a1["a_n_4w"]) == (1, 1, 2)
    assert a1["a_trend"] == pytest.approx(1 / ((2 - 1) / 3 + 1))
    assert a1["a_days_since_first"] == 40
    assert a1["a_markdown"] == pytest.approx(0.02 / ((0.02 + 0.04 + 0.04) / 3))
    assert a1["a_buyer_age"] == pytest.approx(30.0)  # customers 0 (20) and 1 (40)
    assert a1["a_repurchase_rate"] == pytest.approx(0.5)  # customer 0 bought it on two days
    assert a1["a_product_type_no"] == 1 and a1["a_department_no"] == 7
    a4 = row(feats, article=4)  # never sold: counts 0, the rest null
    assert a4["a_n_4w"] == 0 and a4["a_price_usual"] is None


def test_repurchase_rate_counts_days_not_units() -> None:
    rows = [(3, 0, 2, 0.04, 2), (3, 0, 2, 0.04, 2)]  # customer 0: two units of article 2 on one day
    rows += [(3, 1, 2, 0.04, 2), (9, 1, 2, 0.04, 2)]  # customer 1: on two days
    a2 = row(article_features(week(rows, AGES)), article=2)
    assert a2["a_repurchase_rate"] == pytest.approx(0.5)


def test_pair_product_department_by_hand() -> None:
    data = week(ROWS, AGES)
    assert row(pair_features(data), customer=0, article=1)["p_n"] == 2
    assert row(product_features(data), customer=1, product_code=100)["pp_n"] == 2  # articles 1 and 2
    assert row(product_features(data), customer=1, product_code=100)["pp_days_since"] == 5
    department = taste_features(data, Col.DEPARTMENT_NO)
    assert row(department, customer=0, department_no=7)["pd_n"] == 3
    assert row(department, customer=0, department_no=7)["pd_days_since"] == 2
    assert row(taste_features(data, Col.SECTION_NO), customer=1, section_no=2)["ps_n"] == 1  # article 2's section


def test_join_keeps_one_row_per_candidate() -> None:
    data = week(ROWS, AGES)
    candidates = pl.LazyFrame(
        {Col.CUSTOMER: pl.Series([0, 0, 2], dtype=pl.UInt32), Col.ARTICLE: pl.Series([2, 4, 1], dtype=pl.UInt32)}
    )
    out = join_features(candidates, data)
    assert out.select(Col.CUSTOMER, Col.ARTICLE).rows() == [(0, 2), (0, 4), (2, 1)]
    c0a2 = out.row(0, named=True)
    assert c0a2["p_n"] == 0 and c0a2["p_days_since"] is None  # never bought article 2
    assert c0a2["pp_n"] == 2  # but bought product 100 twice (article 1)
    assert c0a2["x_age_gap"] == pytest.approx(20 - 40)  # article 2's only buyer is 40
    assert c0a2["x_price_ratio"] == pytest.approx(0.04 / 0.04)
    assert c0a2["pd_share"] == pytest.approx(1.0)  # all 3 of customer 0's units are in department 7
    assert c0a2["pc_share"] == pytest.approx(0.0)  # none in article 2's colour (code 2)
    assert out.row(1, named=True)["pd_share"] == pytest.approx(0.0)  # article 4: department 8
    assert out.row(2, named=True)["pd_share"] is None  # customer 2 never bought: no share


def test_trend_features_by_hand() -> None:
    rows = [
        (1, 0, 1, 0.02, 2),  # article 1: 1 unit in the last 3 days,
        (5, 1, 1, 0.02, 2),  # ... 2 in the last week,
        (9, 0, 1, 0.02, 2),  # ... 1 the week before, none three weeks ago
        (10, 1, 3, 0.05, 2),  # article 3: 1 unit the week before, 2 three weeks ago
        (16, 0, 3, 0.05, 2),
        (17, 1, 3, 0.05, 2),
        (30, 0, 4, 0.05, 2),  # article 4: older than 3 weeks, not in the block
    ]
    feats = trend_features(week(rows, AGES))
    a1 = row(feats, article=1)
    assert a1["t_n_3d"] == 1 and a1["t_share_1w"] == pytest.approx(1.0) and a1["t_share_3d"] == pytest.approx(1.0)
    assert a1["t_velocity"] == pytest.approx(2 / (1 + 1))
    assert a1["t_accel"] == pytest.approx((2 - 1) - (1 - 0))
    assert a1["t_day_slope"] == pytest.approx((1 / 3) / ((2 - 1) / 4 + 1))
    a3 = row(feats, article=3)
    assert a3["t_share_1w"] == 0 and a3["t_velocity"] == 0 and a3["t_accel"] == pytest.approx((0 - 1) - (1 - 2))
    assert feats.collect().filter(pl.col(Col.ARTICLE) == 4).is_empty()


def test_covisitation_by_hand() -> None:
    rows = [
        (3, 0, 1, 0.02, 2),  # customer 0 bought 1 and 3 on the same day: a pair 3 days ago
        (3, 0, 3, 0.02, 2),
        (10, 1, 1, 0.02, 2),  # customer 1 bought 1, then 4 five days later (gap 5)
        (5, 1, 4, 0.02, 2),
        (2, 2, 1, 0.02, 2),  # customer 2 bought only article 1, two days ago
    ]
    data = week(rows, AGES)
    # article 1's own weight: three purchases, 3, 10 and 2 days ago
    own = sum(np.exp(-0.05 * d) for d in (3, 10, 2))
    w13 = np.exp(-0.05 * 3) / 1 / own  # same day
    w14 = np.exp(-0.05 * 5) / (1 + 5) / own  # the later purchase 5 days ago, 5 days apart
    source = CoVisitSource(n=10, recent_weeks=4, decay=0.1)
    c2 = source.candidates(data).collect().filter(pl.col(Col.CUSTOMER) == 2).sort(Col.ARTICLE)
    assert c2[Col.ARTICLE].to_list() == [3, 4]
    mine = np.exp(-0.1 * 2)  # customer 2's purchase of article 1, two days ago
    assert c2[Col.SCORE].to_list() == pytest.approx([mine * w13, mine * w14], rel=1e-5)
    pairs = CoVisitation().pairs(data).collect().filter(pl.col(Col.ARTICLE) == 1).sort("other")
    assert pairs["weight"].to_list() == pytest.approx([w13, w14], rel=1e-5)


def test_cohort_features_by_hand() -> None:
    rows = [
        (2, 0, 1, 0.02, 2),  # customer 0 (age 20, postal 0) bought article 1 twice last week
        (3, 0, 1, 0.02, 2),
        (4, 2, 3, 0.02, 2),  # customer 2 (age 30, postal 0) bought article 3
        (4, 1, 3, 0.02, 2),  # customer 1 (age 40, postal 1) bought article 3
        (20, 0, 4, 0.02, 2),  # three weeks ago: postal only (4 weeks), not age (1 week)
    ]
    data = week(rows, AGES)
    age = age_cohort_features(data)
    a20 = row(age, **{AGE_BUCKET: 20 // 5, Col.ARTICLE: 1})
    assert a20["k_age_n"] == 2 and a20["k_age_share"] == pytest.approx(1.0)
    assert age.collect().filter(pl.col(Col.ARTICLE) == 4).is_empty()
    postal = postal_cohort_features(data)
    p0 = row(postal, **{Col.POSTAL: 0, Col.ARTICLE: 1})
    assert p0["k_postal_n"] == 2 and p0["k_postal_share"] == pytest.approx(2 / 4)  # of postal 0's 4 units
    assert row(postal, **{Col.POSTAL: 0, Col.ARTICLE: 4})["k_postal_share"] == pytest.approx(1 / 4)


def test_join_adds_signals_and_price_band() -> None:
    data = week(ROWS, AGES)
    candidates = pl.LazyFrame(
        {Col.CUSTOMER: pl.Series([0, 1], dtype=pl.UInt32), Col.ARTICLE: pl.Series([4, 1], dtype=pl.UInt32)}
    )
    out = join_features(candidates, data)
    assert AGE_BUCKET not in out.columns and Col.POSTAL not in out.columns
    never = out.row(0, named=True)  # article 4 was never sold: zero counts and shares
    assert (never["t_n_3d"], never["e_last10_share"], never["k_age_n"], never["k_postal_share"]) == (0, 0, 0, 0)
    c1a1 = out.row(1, named=True)  # customer 1 pays 0.04 every time (std 0); article 1 cost 0.02 last week
    assert c1a1["b_price_z"] == pytest.approx((0.02 - 0.04) / 1e-4, rel=1e-4)


def test_recent_share_counts_purchases_not_days() -> None:
    # customer 0: 12 units of article 3 long ago, then article 1 twice and article 2 once recently
    rows = [(100 + d, 0, 3, 0.02, 2) for d in range(30)] + [
        (50, 0, 1, 0.02, 2),
        (40, 0, 2, 0.02, 2),
        (30, 0, 1, 0.02, 2),
    ]
    rows.append((1, 1, 4, 0.02, 2))  # customer 1: a single unit of article 4
    feats = recent_share_features(week(rows, AGES))
    a1 = row(feats, customer=0, article=1)
    assert a1["e_last10_share"] == pytest.approx(2 / 10) and a1["e_last30_share"] == pytest.approx(2 / 30)
    a3 = row(feats, customer=0, article=3)
    assert a3["e_last10_share"] == pytest.approx(7 / 10)  # 10 latest: 1, 2, 1 and seven of article 3
    assert a3["e_last30_share"] == pytest.approx(27 / 30)
    assert row(feats, customer=1, article=4)["e_last10_share"] == pytest.approx(1.0)  # all of one unit
    sections = section_share_features(week([(1, 0, 1, 0.02, 2), (2, 1, 1, 0.02, 2), (3, 0, 2, 0.02, 2)], AGES))
    # every article has its own section code in this catalogue: each is all of its section's units
    assert row(sections, article=1)["e_section_share_1w"] == pytest.approx(1.0)


BLOCKS: list[Callable[[WeekInput], pl.LazyFrame]] = [
    customer_features,
    article_features,
    pair_features,
    product_features,
    *(partial(taste_features, key=key) for key in TASTE),
    *(partial(window_units, key=key) for key in UNITS),
    trend_features,
    age_cohort_features,
    postal_cohort_features,
    recent_share_features,
    section_share_features,
]


@pytest.mark.parametrize(
    "block", BLOCKS, ids=lambda b: getattr(b, "__name__", None) or f"{b.func.__name__}-{b.keywords['key']}"
)
def test_rows_from_the_cutoff_on_change_nothing(
    block: Callable[[WeekInput], pl.LazyFrame], tiny_dataset: Dataset
) -> None:
    split = Split.at(tiny_dataset.transactions())
    customers = tiny_dataset.submission_customers().collect()[Col.CUSTOMER]
    honest = WeekInput.of(tiny_dataset, split, customers)
    leaky = replace(honest, history=tiny_dataset.transactions())  # the holdout week included
    key = [
        c
        for c in block(honest).collect_schema().names()
        if c in (Col.CUSTOMER, Col.ARTICLE, Col.PRODUCT_CODE, AGE_BUCKET, Col.POSTAL, *UNITS)
    ]
    assert_frame_equal(block(honest).collect().sort(key), block(leaky).collect().sort(key))


def test_unit_shares_over_windows_by_hand() -> None:
    data = week(ROWS, AGES)
    candidates = pl.LazyFrame(
        {Col.CUSTOMER: pl.Series([0, 0, 1, 2], dtype=pl.UInt32), Col.ARTICLE: pl.Series([1, 2, 1, 1], dtype=pl.UInt32)}
    )
    out = join_features(candidates, data, units=True)
    c0a1, c0a2, c1a1, c2a1 = out.rows(named=True)
    without = join_features(candidates, data, units=False)
    assert without.columns == [c for c in out.columns if not c.startswith("u_")]  # the rest unchanged
    assert_frame_equal(without, out.select(without.columns))
    # customer 0: article 1 two and 20 days ago, article 3 60 days ago; every article is its own
    # product type and index group, all three are department 7
    assert (c0a1["u_pt_1w"], c0a1["u_pt_4w"], c0a1["u_pt_12w"]) == pytest.approx((1.0, 1.0, 2 / 3))
    assert c0a1["u_pi_all"] == pytest.approx(2 / 3)  # index group: not in TASTE, so over all weeks too
    assert "u_pt_all" not in out.columns  # TASTE's pt_share already is that
    assert (c0a2["u_pt_1w"], c0a2["u_pt_12w"], c0a2["u_pd_4w"]) == pytest.approx((0.0, 0.0, 1.0))
    # customer 1: article 2 five days ago, article 1 40 days ago
    assert (c1a1["u_pt_1w"], c1a1["u_pt_4w"], c1a1["u_pt_12w"]) == pytest.approx((0.0, 0.0, 0.5))
    assert all(c2a1[c] is None for c in out.columns if c.startswith("u_"))  # no history: no shares
    assert {c for c in out.columns if c.startswith("u_")} == {
        f"u_{prefix}_{w}"
        for key, prefix in UNITS.items()
        for w in ["1w", "4w", "12w"] + ([] if key in TASTE else ["all"])
    }
    assert set(UNITS) == set(ATTRIBUTES)  # every categorical attribute of the catalogue
