"""The article block's buyer columns from one table shared by the cutoffs of a shop: read at an
earlier cutoff, it gives what a fresh computation there gives, and no row at or after that
cutoff counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.data.week import Shared, WeekInput
from hmrec.features import article
from hmrec.features.article import ATTRIBUTES, BUYER_DAYS, article_features, buyer_days
from hmrec.ranking.data import CandidateConfig, Tables
from hmrec.schema import Col

LATE = date(2020, 9, 22)
EARLY = LATE - timedelta(days=14)


def shop(rows: list[tuple[date, int, int]]) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """(day, customer, article) rows; customers 0-3 aged 20, 30, 40 and unknown."""
    history = pl.LazyFrame(
        {
            Col.DATE: [r[0] for r in rows],
            Col.CUSTOMER: pl.Series([r[1] for r in rows], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[2] for r in rows], dtype=pl.UInt32),
            Col.PRICE: pl.Series([0.01] * len(rows), dtype=pl.Float32),
            Col.CHANNEL: pl.Series([1] * len(rows), dtype=pl.Int8),
        }
    )
    articles = pl.LazyFrame({Col.ARTICLE: pl.Series([5, 6], dtype=pl.UInt32), **{c: [1, 2] for c in ATTRIBUTES}})
    customers = pl.LazyFrame(
        {
            Col.CUSTOMER: pl.Series([0, 1, 2, 3], dtype=pl.UInt32),
            Col.AGE: pl.Series([20, 30, 40, None], dtype=pl.Int16),
        }
    )
    return history, articles, customers


def at(history: pl.LazyFrame, articles: pl.LazyFrame, customers: pl.LazyFrame, cutoff: date, tables: Tables) -> dict:
    """Article 5's buyer columns at ``cutoff``, reading the shop's ``tables``."""
    data = WeekInput.before(history, cutoff, None, articles, customers)
    data = replace(data, shared=tables.states.setdefault(cutoff, Shared()), states=tables.states)
    out = article_features(data).collect().filter(pl.col(Col.ARTICLE) == 5)
    return out.select("a_buyer_age", "a_repurchase_rate").row(0, named=True)


@pytest.mark.parametrize("key_bits", [64, 0])  # rows sorted by one packed integer, or by pair then day
def test_an_earlier_cutoff_reads_the_later_table_without_the_later_rows(
    monkeypatch: pytest.MonkeyPatch, key_bits: int
) -> None:
    monkeypatch.setattr(article, "KEY_BITS", key_bits)
    d = EARLY - timedelta(days=10)
    rows = [(d, 0, 5), (d, 0, 5), (d, 1, 5)]  # before EARLY: customers 0 (one day, two units) and 1
    rows += [(EARLY, 0, 5), (EARLY + timedelta(days=3), 1, 5)]  # after EARLY: both buy 5 again
    rows += [(EARLY + timedelta(days=1), 2, 5), (EARLY + timedelta(days=2), 3, 5)]  # new buyers after EARLY
    history, articles, customers = shop(rows)
    tables = Tables(articles, customers)
    tables.prime(history, LATE)
    assert BUYER_DAYS in tables.states[LATE].values
    early = at(history, articles, customers, EARLY, tables)
    assert BUYER_DAYS not in tables.states[EARLY].values  # read from LATE's state, not computed again
    assert early == {"a_buyer_age": pytest.approx(25.0), "a_repurchase_rate": 0.0}  # 0 and 1, once each
    late = at(history, articles, customers, LATE, tables)
    # four pairs; 0 and 1 bought again; the unknown age of 3 left out of the mean
    assert late == {"a_buyer_age": pytest.approx(30.0), "a_repurchase_rate": pytest.approx(0.5)}
    # the same as each cutoff computed alone from its own rows only
    alone = at(history.filter(pl.col(Col.DATE) < EARLY), articles, customers, EARLY, Tables(articles, customers))
    assert alone == early


def test_a_later_table_gives_each_earlier_week_the_features_it_computes_alone(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    shared = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    shared.prime(split.history, split.cutoff)
    for weeks in (1, 3):
        cutoff = split.cutoff - timedelta(days=7 * weeks)
        reading = shared.week(split.history, cutoff, CandidateConfig(cut=False))
        alone = Tables(tiny_dataset.articles(), tiny_dataset.customers()).week(
            split.history, cutoff, CandidateConfig(cut=False)
        )
        assert BUYER_DAYS not in reading.shared.values and BUYER_DAYS in alone.shared.values
        # attached by article (features/lookup.py), so compared in the article order
        assert_frame_equal(
            article_features(reading).collect().sort(Col.ARTICLE), article_features(alone).collect().sort(Col.ARTICLE)
        )


def test_the_table_stays_with_the_process_that_built_it(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    week = Tables(tiny_dataset.articles(), tiny_dataset.customers()).week(
        split.history, split.cutoff, CandidateConfig(cut=False)
    )
    assert BUYER_DAYS in week.shared.values
    portable = week.shared.portable()
    assert BUYER_DAYS not in portable
    assert set(portable) == set(week.shared.values) - {BUYER_DAYS}
    assert buyer_days(week).height > 0


def test_released_once_the_week_is_computed(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    tables.prime(split.history, split.cutoff)
    week = tables.week(split.history, split.cutoff, CandidateConfig(cut=False))
    before = article_features(week).collect()
    tables.release(split.cutoff)
    assert BUYER_DAYS not in tables.states[split.cutoff].values and not tables.states[split.cutoff].local
    chunk = week.chunk(pl.Series([0, 1], dtype=pl.UInt32))
    assert_frame_equal(article_features(chunk).collect(), before)  # the week's table stays, for its chunks
