"""MF features: no leakage past the cutoff, the learned taste in the scores, fold-in, nulls."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.features.embedding import FEATURE_MF, WARM_EPOCHS, ArticleFactors
from hmrec.ranking.data import (
    FACTOR_WEEKS,
    CandidateConfig,
    Tables,
    article_factors,
    candidate_features,
    factor_anchor,
    labelled_week,
)
from hmrec.recommenders.mf import als
from hmrec.schema import Col

CUTOFF = date(2020, 9, 22)
SMALL = replace(FEATURE_MF, dim=8, epochs=6, alpha=5.0, reg=0.5)


def two_tastes(n_customers: int = 80, n_articles: int = 20, seed: int = 0) -> pl.LazyFrame:
    """Even customers buy even articles, odd customers odd ones, over the 60 days before the cutoff."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        for a in rng.choice(np.arange(c % 2, n_articles, 2), size=6, replace=False):
            rows.append((CUTOFF - timedelta(days=int(rng.integers(1, 60))), c, int(a)))
    return pl.LazyFrame(
        {
            Col.DATE: [r[0] for r in rows],
            Col.CUSTOMER: pl.Series([r[1] for r in rows], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[2] for r in rows], dtype=pl.UInt32),
            Col.PRICE: pl.Series([0.03] * len(rows), dtype=pl.Float32),
        }
    )


def served(history: pl.LazyFrame, customers: list[int]) -> WeekInput:
    empty = pl.LazyFrame()
    return WeekInput.before(history, CUTOFF, pl.Series(customers, dtype=pl.UInt32), empty, empty)


def pairs(customers: list[int], articles: list[int]) -> pl.DataFrame:
    grid = [(c, a) for c in customers for a in articles]
    return pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series([g[0] for g in grid], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([g[1] for g in grid], dtype=pl.UInt32),
        }
    )


def test_scores_follow_each_customers_taste() -> None:
    history = two_tastes()
    factors = ArticleFactors.fit(history, CUTOFF, SMALL)
    frame = pairs(list(range(10)), list(range(20)))
    got = frame.with_columns(factors.features(served(history, list(range(10))), frame))
    got = got.with_columns(((pl.col(Col.CUSTOMER) % 2) == (pl.col(Col.ARTICLE) % 2)).alias("own"))
    for column in ("m_score", "m_last5"):
        # every customer's five best articles by the feature are of their own taste
        top = got.sort(column, descending=True).group_by(Col.CUSTOMER).head(5)
        assert top["own"].all(), column
    assert got["m_last5"].max() <= 1 + 1e-5 and got["m_last5"].min() >= -1 - 1e-5  # a cosine


def test_rows_from_the_cutoff_on_change_nothing() -> None:
    history = two_tastes()
    # the odd customers switch taste from the cutoff on: a model that saw it would show it
    later = history.with_columns(pl.col(Col.DATE) + timedelta(days=70), (pl.col(Col.ARTICLE) + 1) % 20)
    honest = ArticleFactors.fit(history, CUTOFF, SMALL)
    noisy = ArticleFactors.fit(pl.concat([history, later]), CUTOFF, SMALL)
    np.testing.assert_array_equal(honest.factors, noisy.factors)
    frame = pairs([0, 1, 2], list(range(20)))
    assert_frame_equal(
        frame.with_columns(honest.features(served(history, [0, 1, 2]), frame)),
        frame.with_columns(noisy.features(served(pl.concat([history, later]), [0, 1, 2]), frame)),
    )


def test_customers_outside_the_fit_are_folded_in() -> None:
    history = two_tastes()
    sampled = ArticleFactors.fit(history, CUTOFF, SMALL, max_customers=40)
    frame = pairs(list(range(80)), [0, 1])
    got = frame.with_columns(sampled.features(served(history, list(range(80))), frame))
    assert got["m_score"].null_count() == 0  # every customer scored, sampled for the fit or not
    wide = got.pivot(on=Col.ARTICLE, index=Col.CUSTOMER, values="m_score").sort(Col.CUSTOMER)
    prefers_even = (wide["0"] > wide["1"]).to_numpy()
    assert (prefers_even == (np.arange(80) % 2 == 0)).mean() > 0.9


def test_unknown_articles_and_customers_get_nulls() -> None:
    history = two_tastes(n_articles=20)
    factors = ArticleFactors.fit(history, CUTOFF, SMALL)
    frame = pairs([0, 500], [2, 25])  # customer 500 bought nothing; article 25 was never sold
    got = frame.with_columns(factors.features(served(history, [0, 500]), frame)).sort(Col.CUSTOMER, Col.ARTICLE)
    assert got["m_score"].is_null().to_list() == [False, True, True, True]
    assert got["m_last5"].is_null().to_list() == [False, True, True, True]


def test_fitting_on_no_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="no purchases before"):
        ArticleFactors.fit(two_tastes().filter(pl.col(Col.DATE) > CUTOFF), CUTOFF, SMALL)


def test_labelled_weeks_carry_the_features_without_leakage(tiny_dataset: Dataset) -> None:
    tx = tiny_dataset.transactions()
    week = Split.at(tx).cutoff - timedelta(days=7)
    in_week = tx.filter(pl.col(Col.DATE) >= week)
    noisy = pl.concat([tx, in_week.with_columns(pl.col(Col.PRICE) * 3, pl.col(Col.DATE) + timedelta(days=1))])
    config = CandidateConfig(embedding=True)

    def labelled(rows: pl.LazyFrame) -> pl.DataFrame:
        return labelled_week(rows, week, Tables(tiny_dataset.articles(), tiny_dataset.customers()), config)

    honest = labelled(tx.filter(pl.col(Col.DATE) < week + timedelta(days=7)))
    assert {"m_score", "m_last5"} <= set(honest.columns)
    assert honest["m_score"].null_count() < honest.height
    assert_frame_equal(honest, labelled(noisy))


def test_one_fit_per_cutoff_and_chunks_agree(tiny_dataset: Dataset) -> None:
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    tx = tiny_dataset.transactions()
    split = Split.at(tx)
    config = CandidateConfig(embedding=True)
    week = tables.week(split.history, split.cutoff, config)
    factors = article_factors(week)
    assert isinstance(factors, ArticleFactors)
    assert article_factors(tables.week(split.history, split.cutoff, config)) is factors  # one fit per cutoff
    buyers = split.truth.collect()[Col.CUSTOMER].unique().sort().head(60)
    whole = candidate_features(week.chunk(buyers), config)
    parts = pl.concat(candidate_features(week.chunk(buyers.slice(lo, 17)), config) for lo in range(0, buyers.len(), 17))
    assert_frame_equal(whole, parts)
    assert {"m_score", "m_last5"} <= set(whole.columns)


def test_anchors_lie_on_a_grid_of_weeks() -> None:
    cutoffs = [CUTOFF - timedelta(days=7 * k) for k in range(3 * FACTOR_WEEKS)]
    anchors = [factor_anchor(c) for c in cutoffs]
    assert all(
        a <= c and (c - a).days % 7 == 0 and (c - a).days < 7 * FACTOR_WEEKS
        for a, c in zip(anchors, cutoffs, strict=True)
    )
    assert all(factor_anchor(a) == a for a in anchors)
    assert len(set(anchors)) in (3, 4)  # 24 consecutive weeks span three or four blocks of 8
    assert all(anchors.count(a) <= FACTOR_WEEKS for a in anchors)


def test_a_warm_start_keeps_the_taste_in_fewer_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    history = two_tastes()
    earlier = ArticleFactors.fit(history, CUTOFF - timedelta(days=14), SMALL)
    seen: list[tuple[int, bool]] = []
    train = als.train_als

    def spy(model, data, cfg, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((cfg.epochs, kwargs.get("articles_from") is not None))
        return train(model, data, cfg, **kwargs)

    monkeypatch.setattr(als, "train_als", spy)
    warm = ArticleFactors.fit(history, CUTOFF, SMALL, start=earlier)
    assert seen == [(WARM_EPOCHS, True)]
    frame = pairs(list(range(10)), list(range(20)))
    got = frame.with_columns(warm.features(served(history, list(range(10))), frame))
    best = got.sort("m_score", descending=True, nulls_last=True).group_by(Col.CUSTOMER, maintain_order=True).head(3)
    assert all((row[0] - row[1]) % 2 == 0 for row in best.select(Col.CUSTOMER, Col.ARTICLE).rows())
    with pytest.raises(ValueError, match="after the cutoff"):
        ArticleFactors.fit(history, CUTOFF - timedelta(days=21), SMALL, start=earlier)


def test_each_cutoffs_factors_are_the_same_whichever_week_comes_first(tiny_dataset: Dataset) -> None:
    tx = tiny_dataset.transactions()
    split = Split.at(tx)
    config = CandidateConfig(embedding=True)
    cutoff = split.cutoff if factor_anchor(split.cutoff) != split.cutoff else split.cutoff - timedelta(days=7)
    assert factor_anchor(cutoff) < cutoff  # a warm-started week
    shared = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    anchor_week = shared.week(split.history, factor_anchor(cutoff), config)
    after_anchor = article_factors(shared.week(split.history, cutoff, config))
    alone = article_factors(
        Tables(tiny_dataset.articles(), tiny_dataset.customers()).week(split.history, cutoff, config)
    )
    np.testing.assert_array_equal(after_anchor.factors, alone.factors)
    cold = ArticleFactors.fit(split.history, cutoff)
    assert not np.array_equal(cold.factors, alone.factors)  # it did start from the anchor
    assert article_factors(anchor_week).cutoff == factor_anchor(cutoff)
    shared.forget(cutoff + timedelta(days=7))
    again = article_factors(shared.week(split.history, cutoff, config))
    np.testing.assert_array_equal(again.factors, alone.factors)
