"""The ranked-list helpers: the grouped partial sort picks what the full sort picks."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hmrec.data.lists import top_in_groups, top_per_customer
from hmrec.schema import Col


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
