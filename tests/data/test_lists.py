"""The ranked-list helpers: the grouped partial sort picks what the full sort picks; the lists
filled as arrays are ``fill_with``'s, and score as ``map_at_k`` scores them."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hmrec.data.lists import fill_with, filled_lists, top_in_groups, top_per_customer
from hmrec.metrics import map_at_k, map_of_lists
from hmrec.schema import Col, K


def _scored(seed: int) -> pl.DataFrame:
    """Customers with 1 to 40 candidates each (sorted by customer, article), scores with ties."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 41, size=300)
    customers = np.repeat(np.arange(300, dtype=np.uint32) * 3, sizes)  # ids with gaps
    articles = np.concatenate([np.sort(rng.choice(1000, size=n, replace=False)) for n in sizes]).astype(np.uint32)
    scores = rng.integers(-4, 5, size=len(customers)) / 4  # few distinct values: many ties
    return pl.DataFrame({Col.CUSTOMER: customers, Col.ARTICLE: articles, Col.SCORE: scores})


@pytest.mark.parametrize(("seed", "k"), [(0, 12), (1, 1), (2, 50)])
def test_top_in_groups_picks_what_the_sort_picks(seed: int, k: int) -> None:
    frame = _scored(seed)
    rows, ranks = top_in_groups(frame[Col.CUSTOMER].to_numpy(), frame[Col.SCORE].to_numpy(), k)
    got = frame[rows].with_columns(pl.Series(Col.RANK, ranks, dtype=pl.Int64))
    want = top_per_customer(frame.lazy(), k).collect().select(got.columns)
    assert got.equals(want)  # the same rows, ties to the lower article, in the same order


@pytest.mark.parametrize(("seed", "k"), [(3, 1), (4, 5), (5, 40)])
def test_top_per_customer_is_each_customers_sorted_list_cut_at_k(seed: int, k: int) -> None:
    # rows in any order, many ties at the cut: the rows before the sort are only those with
    # fewer than k rows scored above them, and ties still go to the lower article
    frame = _scored(seed).sample(fraction=1.0, shuffle=True, seed=seed)
    got = top_per_customer(frame.lazy(), k).collect()
    want = []
    for customer in sorted(set(frame[Col.CUSTOMER].to_list())):
        mine = frame.filter(pl.col(Col.CUSTOMER) == customer)
        best = sorted(
            zip(mine[Col.SCORE].to_list(), mine[Col.ARTICLE].to_list(), strict=True), key=lambda r: (-r[0], r[1])
        )
        want += [(customer, article, rank) for rank, (_, article) in enumerate(best[:k], start=1)]
    assert got.select(Col.CUSTOMER, Col.ARTICLE, Col.RANK).rows() == want


def test_top_in_groups_keeps_short_groups_and_handles_none() -> None:
    groups = np.array([5, 5, 7, 9, 9, 9], dtype=np.uint32)
    scores = np.array([1.0, 2.0, -np.inf, 0.5, 0.5, 3.0])
    rows, ranks = top_in_groups(groups, scores, 2)
    assert rows.tolist() == [1, 0, 2, 5, 3]  # a row scored -inf is kept: only empty cells are not
    assert ranks.tolist() == [1, 2, 1, 1, 2]
    empty_rows, empty_ranks = top_in_groups(np.zeros(0, dtype=np.uint32), np.zeros(0), 12)
    assert empty_rows.size == 0 and empty_ranks.size == 0
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_in_groups(groups, scores, 0)


def _ranked_and_truth(seed: int) -> tuple[pl.DataFrame, np.ndarray, list[int], pl.DataFrame]:
    """Ranked lists of 0 to 20 distinct articles for some of 200 asked customers (and rows of
    customers not asked), a fill list sharing articles with them (with a repeat), and purchases
    of asked customers (some of more than ``K`` articles), of customers never asked and of
    articles nobody ranked."""
    rng = np.random.default_rng(seed)
    asked = np.sort(rng.choice(600, size=200, replace=False)).astype(np.uint32)
    owners = np.sort(rng.choice(700, size=250, replace=False)).astype(np.uint32)  # some never asked
    sizes = rng.integers(0, 21, size=len(owners))
    customers = np.repeat(owners, sizes)
    articles = np.concatenate([rng.choice(40, size=n, replace=False) for n in sizes]).astype(np.uint32)
    ranks = np.concatenate([np.arange(1, n + 1) for n in sizes])
    ranked = pl.DataFrame({Col.CUSTOMER: customers, Col.ARTICLE: articles, Col.RANK: ranks})
    fill = [int(a) for a in rng.choice(40, size=30, replace=False)]
    fill.insert(3, fill[1])  # a repeat: skipped like any article already listed
    buyers = rng.choice(700, size=400).astype(np.uint32)
    truth = pl.DataFrame({Col.CUSTOMER: buyers, Col.ARTICLE: rng.integers(0, 45, size=400).astype(np.uint32)})
    many = pl.DataFrame({Col.CUSTOMER: np.repeat(asked[:5], 20), Col.ARTICLE: np.tile(np.arange(20), 5)})
    return ranked, asked, fill, pl.concat([truth, many.cast(pl.UInt32)])  # 5 buyers of more than K


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_filled_lists_are_fill_withs_and_score_as_map_at_k(seed: int) -> None:
    ranked, asked, fill, truth = _ranked_and_truth(seed)
    lists = filled_lists(ranked, asked, fill, K)
    want = fill_with(ranked.lazy(), pl.Series(Col.CUSTOMER, asked), fill, K)
    got = pl.DataFrame(
        {
            Col.CUSTOMER: np.repeat(asked, K),
            Col.ARTICLE: lists.ravel(),
            Col.RANK: np.tile(np.arange(1, K + 1), len(asked)),
        }
    ).filter(pl.col(Col.ARTICLE) >= 0)
    assert got.rows() == want.select(Col.CUSTOMER, Col.ARTICLE, Col.RANK).rows()
    asked_truth = truth.filter(pl.col(Col.CUSTOMER).is_in(pl.Series(asked).implode()))
    for bought in (truth, asked_truth):  # with buyers never asked (their AP is 0) and without
        assert map_of_lists(asked, lists, bought) == pytest.approx(map_at_k(want, bought), abs=1e-15)
    assert 0 < map_of_lists(asked, lists, asked_truth) < 1


def test_filled_lists_end_short_when_the_fill_runs_out() -> None:
    ranked = pl.DataFrame({Col.CUSTOMER: [5, 5], Col.ARTICLE: [1, 2], Col.RANK: [1, 2]}).cast(pl.UInt32)
    lists = filled_lists(ranked, np.array([5, 9], dtype=np.uint32), [2, 3, 4], 3)
    assert lists.tolist() == [[1, 2, 3], [2, 3, 4]]
    with pytest.raises(ValueError, match="distinct fill"):
        filled_lists(ranked, np.array([5], dtype=np.uint32), [2, 2, 3], 3)
    short = filled_lists(ranked, np.array([5, 9], dtype=np.uint32), [2, 3, 2, 3, 2, 3, 4], 3)
    assert short.tolist() == [[1, 2, 3], [2, 3, -1]]  # fill_with's first 2k hold two distinct
