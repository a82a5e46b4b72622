"""MAP@12 as Kaggle scored it, and recall@k: hand-computed cases and properties."""

from __future__ import annotations

import doctest

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmrec import metrics
from hmrec.metrics import map_at_k, recall_at_k


def recs(rows: dict[int, list[int]]) -> pl.DataFrame:
    """Predictions per customer, in order."""
    return pl.DataFrame(
        [(c, a, r + 1) for c, arts in rows.items() for r, a in enumerate(arts)],
        schema={"customer": pl.UInt32, "article": pl.UInt32, "rank": pl.UInt16},
        orient="row",
    )


def truth(rows: dict[int, list[int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(c, a) for c, arts in rows.items() for a in arts],
        schema={"customer": pl.UInt32, "article": pl.UInt32},
        orient="row",
    )


def reference_apk(actual: list[int], predicted: list[int], k: int = 12) -> float:
    """The Kaggle reference implementation (ml_metrics.apk) over distinct bought articles."""
    actual = list(dict.fromkeys(actual))
    predicted = predicted[:k]
    score, hits = 0.0, 0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            hits += 1
            score += hits / (i + 1.0)
    return score / min(len(actual), k) if actual else 0.0


def test_hand_computed_case() -> None:
    # customer 0 bought 1 and 2; predicted 1 (hit, P=1), 9, 2 (hit, P=2/3): AP = (1 + 2/3) / 2
    # customer 1 bought 5; predicted 6, 5 (hit, P=1/2): AP = 1/2
    score = map_at_k(recs({0: [1, 9, 2], 1: [6, 5]}), truth({0: [1, 2], 1: [5]}))
    assert score == pytest.approx(((1 + 2 / 3) / 2 + 0.5) / 2)


def test_customers_who_bought_nothing_are_left_out() -> None:
    with_extra = recs({0: [1], 7: [3, 4]})  # customer 7 bought nothing in the week
    assert map_at_k(with_extra, truth({0: [1]})) == 1.0


def test_missing_predictions_score_zero() -> None:
    assert map_at_k(recs({0: [1]}), truth({0: [1], 1: [2]})) == 0.5


def test_duplicates_earn_nothing_but_take_a_slot() -> None:
    # 1 is a hit at position 1; its repeat at 2 earns nothing; 2 is a hit at position 3: P = 2/3
    assert map_at_k(recs({0: [1, 1, 2]}), truth({0: [1, 2]})) == pytest.approx((1 + 2 / 3) / 2)


def test_denominator_is_capped_at_k() -> None:
    bought = list(range(20))
    assert map_at_k(recs({0: list(range(12))}), truth({0: bought})) == 1.0
    assert map_at_k(recs({0: [0]}), truth({0: bought})) == pytest.approx(1 / 12)


def test_predictions_past_k_are_ignored() -> None:
    assert map_at_k(recs({0: [*range(100, 112), 5]}), truth({0: [5]})) == 0.0


def test_repeated_purchases_count_once() -> None:
    assert map_at_k(recs({0: [1]}), truth({0: [1, 1]})) == 1.0


def test_recall_counts_distinct_pairs() -> None:
    assert recall_at_k(recs({0: [1, 2, 1], 1: [9]}), truth({0: [1, 3], 1: [9]})) == pytest.approx(2 / 3)
    assert recall_at_k(recs({0: [1, 2]}), truth({0: [2]}), k=1) == 0.0


def test_doctest_examples() -> None:
    assert doctest.testmod(metrics).failed == 0


histories = st.dictionaries(
    st.integers(0, 30), st.lists(st.integers(0, 25), min_size=1, max_size=15), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None)
@given(bought=histories, predicted=histories)
def test_matches_the_reference_implementation(bought: dict, predicted: dict) -> None:
    expected = sum(reference_apk(b, predicted.get(c, [])) for c, b in bought.items()) / len(bought)
    assert map_at_k(recs(predicted), truth(bought)) == pytest.approx(expected)


@settings(max_examples=40, deadline=None)
@given(bought=histories)
def test_perfect_prediction_scores_one(bought: dict) -> None:
    perfect = {c: list(dict.fromkeys(arts)) for c, arts in bought.items()}
    assert map_at_k(recs(perfect), truth(bought)) == pytest.approx(1.0)
    reachable = sum(min(len(a), 12) for a in perfect.values()) / sum(len(a) for a in perfect.values())
    assert recall_at_k(recs(perfect), truth(bought)) == pytest.approx(reachable)


@settings(max_examples=40, deadline=None)
@given(bought=histories, predicted=histories)
def test_scores_lie_in_unit_interval(bought: dict, predicted: dict) -> None:
    assert 0.0 <= map_at_k(recs(predicted), truth(bought)) <= 1.0
    assert 0.0 <= recall_at_k(recs(predicted), truth(bought)) <= 1.0
