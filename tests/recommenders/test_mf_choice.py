"""The MF model's choice of settings on the week before the cutoff (recommenders/mf/choice.py)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
import torch
from polars.testing import assert_frame_equal

from hmrec.data.week import WeekInput
from hmrec.recommenders.mf import choice
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.recommender import MFRecommender
from hmrec.recommenders.mf.scoring import BONUS, score_adjustments, top_n_scores
from hmrec.recommenders.mf.weights import Weighting
from hmrec.schema import Col

CUTOFF = date(2020, 9, 22)
WEEKS = 6
SMALL = MFConfig(dim=8, epochs=6, alpha=10.0, reg=10.0, patience=2)


def shop(rebuy: bool, n_customers: int = 80, n_articles: int = 240, seed: int = 0) -> pl.LazyFrame:
    """Two tastes (even customers buy even articles, odd ones odd), ``WEEKS`` weeks before the cutoff.

    ``rebuy``: every customer buys their own three staples each week and one new article of
    their taste; otherwise two new articles of their taste each week, never one bought before.
    """
    rng = np.random.default_rng(seed)
    out: list[tuple[date, int, int]] = []
    for c in range(n_customers):
        own = rng.permutation(np.arange(c % 2, n_articles, 2))
        staples, fresh = own[:3], iter(own[3:])
        for w in range(WEEKS):
            day = CUTOFF - timedelta(days=7 * (WEEKS - w)) + timedelta(days=int(rng.integers(0, 7)))
            bought = [*staples, next(fresh)] if rebuy else [next(fresh), next(fresh)]
            out += [(day, c, int(a)) for a in bought]
    return pl.LazyFrame(
        {
            Col.DATE: [r[0] for r in out],
            Col.CUSTOMER: pl.Series([r[1] for r in out], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[2] for r in out], dtype=pl.UInt32),
            Col.PRICE: pl.Series([0.05] * len(out), dtype=pl.Float32),
        }
    )


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two penalties and no other sizes: the steps of the choice, at a test's cost."""
    monkeypatch.setattr(choice, "PENALTIES", ((10.0, 10.0), (10.0, 100.0)))
    monkeypatch.setattr(choice, "DIMS", ())


def fit(history: pl.LazyFrame, cfg: MFConfig = SMALL, **kwargs: object) -> MFRecommender:
    return MFRecommender(cfg, **kwargs).fit(WeekInput.before(history, CUTOFF))  # type: ignore[arg-type]


def trial_of(model: MFRecommender, filter: str, boost: float = 0.0) -> choice.Trial:
    assert model.choice is not None
    return next(t for t in model.choice.trials if t.filter == filter and t.boost == boost)


@pytest.mark.usefixtures("quick")
def test_a_shop_that_buys_again_keeps_what_was_bought() -> None:
    model = fit(shop(rebuy=True))
    assert model.choice is not None and model.choice.chosen.filter == "none"
    assert model.filter == "none" and model.boost == model.choice.chosen.boost
    # leaving bought articles out loses the staples every customer buys again
    assert trial_of(model, "bought").score < model.choice.chosen.score / 2


@pytest.mark.usefixtures("quick")
def test_a_shop_that_never_buys_again_leaves_bought_articles_out() -> None:
    model = fit(shop(rebuy=False))
    assert model.choice is not None
    chosen = model.choice.chosen
    # bought and interval leave out the same pairs here (nobody buys again): the first of equals
    assert (chosen.filter, chosen.boost) == ("bought", 0.0) and model.filter == "bought"
    assert trial_of(model, "bought").score > trial_of(model, "none").score
    assert trial_of(model, "none", 3.0).score < trial_of(model, "none").score


@pytest.mark.usefixtures("quick")
def test_the_better_penalty_is_chosen_and_refitted_with(monkeypatch: pytest.MonkeyPatch) -> None:
    history = shop(rebuy=False)
    monkeypatch.setattr(choice, "REPEATS", (("bought", 0.0),))  # one repeat handling: the penalties alone
    # the base setting's penalty is so heavy that every factor shrinks to nothing
    model = fit(history, MFConfig(dim=8, epochs=6, alpha=10.0, reg=1e7, patience=2), filter="bought")
    assert model.choice is not None
    scores = {(t.alpha, t.reg): t.score for t in model.choice.trials}
    assert set(scores) == {(10.0, 1e7), (10.0, 10.0), (10.0, 100.0)}
    best = max(scores, key=lambda k: scores[k])
    assert scores[best] > scores[(10.0, 1e7)]
    assert (model.config.alpha, model.config.reg) == best
    assert model.config.epochs == next(t.epochs for t in model.choice.trials if (t.alpha, t.reg) == best)


@pytest.mark.usefixtures("quick")
def test_the_choice_never_reads_the_holdout_week_but_reads_the_week_before() -> None:
    history = shop(rebuy=True)
    later = shop(rebuy=False, seed=1).with_columns(pl.col(Col.DATE) + timedelta(days=7 * WEEKS))
    assert later.select(pl.col(Col.DATE).min()).collect().item() >= CUTOFF
    base = fit(history)
    with_holdout = fit(pl.concat([history, later]))
    assert base.choice is not None and with_holdout.choice is not None
    assert [(t.label(), t.score) for t in base.choice.trials] == [
        (t.label(), t.score) for t in with_holdout.choice.trials
    ]
    # the validation week is the one before the cutoff: changing it changes the scores
    last = CUTOFF - timedelta(days=7)
    changed = history.with_columns(
        pl.when(pl.col(Col.DATE) >= last).then((pl.col(Col.ARTICLE) + 1) % 240).otherwise(pl.col(Col.ARTICLE))
    )
    other = fit(changed)
    assert other.choice is not None
    assert [t.score for t in other.choice.trials] != [t.score for t in base.choice.trials]


@pytest.mark.usefixtures("quick")
def test_no_tune_keeps_the_given_settings_and_a_second_fit_starts_from_them() -> None:
    history = shop(rebuy=True)
    fixed = fit(history, filter="interval", boost=0.5, choose=False)
    assert fixed.choice is None and (fixed.filter, fixed.boost) == ("interval", 0.5)
    assert (fixed.config.alpha, fixed.config.reg, fixed.config.dim) == (SMALL.alpha, SMALL.reg, SMALL.dim)
    chosen = fit(history)
    first = [t.label() for t in chosen.choice.trials]  # type: ignore[union-attr]
    chosen.fit(WeekInput.before(history, CUTOFF))
    assert [t.label() for t in chosen.choice.trials] == first  # type: ignore[union-attr]


@pytest.mark.usefixtures("quick")
def test_a_sample_of_customers_holds_every_validation_buyer() -> None:
    history = shop(rebuy=True, n_customers=120)
    model = fit(history, choice_customers=100, choice_validation=30)
    assert model.choice is not None
    assert model.choice.customers == 100 and model.choice.validation_buyers == 30
    assert 0 < model.choice.share < 1
    buyers = model._validation_buyers(
        history.filter(pl.col(Col.DATE) >= CUTOFF - timedelta(days=7)).select(Col.CUSTOMER, Col.ARTICLE).collect(),
        30,
    )
    rows = history.filter(pl.col(Col.DATE) < CUTOFF - timedelta(days=7))
    sample, share, n = model._sample(rows, CUTOFF - timedelta(days=7), buyers)
    kept = set(sample.select(Col.CUSTOMER).unique().collect()[Col.CUSTOMER])
    assert n == 100 and set(buyers) <= kept and len(kept) == 100
    pairs = rows.select(Col.CUSTOMER, Col.ARTICLE).unique().collect()
    assert share == pytest.approx(pairs[Col.CUSTOMER].is_in(list(kept)).mean())


def test_adjustments_by_hand() -> None:
    history = pl.LazyFrame(
        {
            Col.DATE: [date(2020, 9, 21), date(2020, 9, 21), date(2020, 9, 12), date(2020, 9, 21)],
            Col.CUSTOMER: pl.Series([0, 0, 0, 1], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([5, 5, 6, 5], dtype=pl.UInt32),
            Col.PRICE: pl.Series([0.1] * 4, dtype=pl.Float32),
        }
    )
    weighting = Weighting(t_decay=0.1, price_weight=0.0)
    boosted = score_adjustments(history, CUTOFF, "none", 2.0, weighting)
    assert boosted is not None
    got = {(r[0], r[1]): r[2] for r in boosted.sort(Col.CUSTOMER, Col.ARTICLE).rows()}
    # two units a day before the cutoff: 2 x exp(-0.1); one ten days before: exp(-1); times the boost
    assert got == pytest.approx({(0, 5): 2 * 2 * np.exp(-0.1), (0, 6): 2 * np.exp(-1.0), (1, 5): 2 * np.exp(-0.1)})
    left_out = score_adjustments(history, CUTOFF, "bought", 2.0, weighting)
    assert left_out is not None and set(left_out[BONUS]) == {-np.inf}  # a filter overrides a bonus
    assert score_adjustments(history, CUTOFF, "none", 0.0, weighting) is None


def test_a_bonus_adds_to_the_score_it_is_given_to() -> None:
    from hmrec.recommenders.mf.model import MatrixFactorization

    torch.manual_seed(0)
    model = MatrixFactorization(2, 6, 4)
    plain = top_n_scores(model, np.array([0, 1]), np.arange(6), 6)
    last = plain.filter(pl.col(Col.RANK) == 6)
    bonus = last.select(Col.CUSTOMER, Col.ARTICLE, pl.lit(100.0, dtype=pl.Float32).alias(BONUS))
    moved = top_n_scores(model, np.array([0, 1]), np.arange(6), 6, adjust=bonus)
    top = moved.filter(pl.col(Col.RANK) == 1).sort(Col.CUSTOMER)
    assert top[Col.ARTICLE].to_list() == last.sort(Col.CUSTOMER)[Col.ARTICLE].to_list()
    assert top[Col.SCORE].to_list() == pytest.approx((last.sort(Col.CUSTOMER)[Col.SCORE] + 100.0).to_list())
    # the other pairs keep their scores and their order
    rest = moved.filter(pl.col(Col.RANK) > 1).select(Col.CUSTOMER, Col.ARTICLE, Col.SCORE)
    before = plain.filter(pl.col(Col.RANK) < 6).select(Col.CUSTOMER, Col.ARTICLE, Col.SCORE)
    assert rest.sort(Col.CUSTOMER, Col.SCORE).equals(before.sort(Col.CUSTOMER, Col.SCORE))
    # scored one customer at a time, each chunk reads its own slice of the bonus table
    one_by_one = top_n_scores(model, np.array([0, 1]), np.arange(6), 6, chunk_size=1, adjust=bonus)
    assert_frame_equal(one_by_one, moved, check_exact=False, rel_tol=1e-5)  # a product's last bits may differ


@pytest.mark.usefixtures("quick")
def test_trials_past_the_budget_are_skipped_and_listed() -> None:
    model = fit(shop(rebuy=True), choice_budget=0.0)
    assert model.choice is not None
    trained = {(t.alpha, t.reg, t.dim) for t in model.choice.trials}
    assert trained == {(SMALL.alpha, SMALL.reg, SMALL.dim)}  # the given settings, every repeat handling
    assert len(model.choice.trials) == len(choice.REPEATS)
    assert model.choice.skipped == ["alpha 10, reg 100, 8 factors"]
    unbounded = fit(shop(rebuy=True), choice_budget=None)
    assert unbounded.choice is not None and not unbounded.choice.skipped
    assert len(unbounded.choice.trials) == len(choice.REPEATS) + 1
