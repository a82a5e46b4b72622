"""The union of sources and the candidate-quality measures."""

from __future__ import annotations

import polars as pl
import pytest

from hmrec.retrieval.measure import measure
from hmrec.retrieval.union import BEST_RANK, N_SOURCES, union
from hmrec.schema import Col


def source(rows: list[tuple[int, int, int]]) -> pl.LazyFrame:
    """(customer, article, rank) rows; the score is 1 / rank."""
    return pl.LazyFrame(
        {
            Col.CUSTOMER: pl.Series([r[0] for r in rows], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[1] for r in rows], dtype=pl.UInt32),
            Col.SCORE: pl.Series([1 / r[2] for r in rows], dtype=pl.Float32),
            Col.RANK: pl.Series([r[2] for r in rows], dtype=pl.UInt16),
        }
    )


def test_one_row_per_pair_with_each_sources_columns() -> None:
    a = source([(0, 1, 1), (0, 2, 2)])
    b = source([(0, 2, 1), (0, 3, 2), (1, 9, 1)])
    out = union({"a": a, "b": b}, cap=10).collect().sort(Col.CUSTOMER, Col.ARTICLE)
    assert out.select(Col.CUSTOMER, Col.ARTICLE).rows() == [(0, 1), (0, 2), (0, 3), (1, 9)]
    assert out["a_rank"].to_list() == [1, 2, None, None]
    assert out["b_rank"].to_list() == [None, 1, 2, 1]
    assert out[N_SOURCES].to_list() == [1, 2, 1, 1]
    assert out[BEST_RANK].to_list() == [1, 1, 2, 1]


def test_cap_keeps_the_best_ranked_and_sources_take_turns() -> None:
    a = source([(0, 1, 1), (0, 2, 2), (0, 3, 3)])
    b = source([(0, 7, 1), (0, 8, 2), (0, 1, 3)])
    out = union({"a": a, "b": b}, cap=3).collect()
    # rank 1 of each source first (1 is offered by both, so it leads), then a rank 2
    assert out[Col.ARTICLE].to_list() == [1, 7, 2]


def test_union_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        union({}, cap=5)


def test_measure_by_hand() -> None:
    cands = pl.DataFrame({Col.CUSTOMER: [0, 0, 0, 1, 1, 5], Col.ARTICLE: [1, 2, 3, 4, 5, 6]})
    truth = pl.DataFrame({Col.CUSTOMER: [0, 0, 1, 2], Col.ARTICLE: [1, 9, 7, 3]})
    q = measure(cands, truth)
    # buyers 0, 1, 2; customer 5 bought nothing and is not counted
    assert q.per_customer == pytest.approx(5 / 3)
    assert q.recall == pytest.approx(1 / 4)  # one of four bought pairs retrieved
    assert q.customers_with_hit == pytest.approx(1 / 3)
    assert q.oracle_map == pytest.approx((1 / 2 + 0 + 0) / 3)
