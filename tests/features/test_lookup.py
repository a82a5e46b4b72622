"""Attaching a table by position gives what a left join gives, row for row in the left order."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.features import lookup
from hmrec.features.lookup import attach, packed


def left_join(left: pl.DataFrame, right: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    return left.join(right, on=on, how="left", maintain_order="left").select(right.drop(on).columns)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("two_columns", [False, True])
@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("sorted_left", [False, True])
def test_attach_matches_a_left_join(
    seed: int, two_columns: bool, dense: bool, sorted_left: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not dense:  # every table joined on its packed key, however small its range
        monkeypatch.setattr(lookup, "DENSE_CELLS", 0)
    rng = np.random.default_rng(seed)
    n, m = 500, 120
    left = pl.DataFrame(
        {
            "customer": pl.Series(rng.integers(0, 30, n), dtype=pl.UInt32),
            "value": pl.Series(rng.integers(-5, 40, n), dtype=pl.Int32),  # negatives and misses
        }
    ).with_columns(pl.when(pl.int_range(n) % 17 == 0).then(None).otherwise(pl.col("value")).alias("value"))
    on = ["customer", "value"] if two_columns else ["value"]
    if sorted_left:  # as the candidates against a pair table (no null key): the join merges sorted keys
        left = left.drop_nulls(on).sort(on)
    right = (
        pl.DataFrame(
            {
                "customer": pl.Series(rng.integers(0, 30, m), dtype=pl.UInt32),
                "value": pl.Series(rng.integers(-5, 30, m), dtype=pl.Int32),
            }
        )
        .unique(on)
        .with_columns(x=pl.int_range(pl.len(), dtype=pl.Int64), y=pl.lit("r"))
        .sample(fraction=1.0, shuffle=True, seed=seed)  # not sorted by the key
    )
    if not two_columns:
        right = right.drop("customer")
    got = attach(left, right, on)
    assert got.height == left.height
    assert got["x"].null_count() > 0 and got["x"].null_count() < n  # some hits, some misses
    assert_frame_equal(got, left_join(left, right, on))
    assert_frame_equal(attach(left, right.sort(on), on), left_join(left, right, on))
    assert (dense_rows(left, right, on) is not None) == dense  # the path named is the path taken


def dense_rows(left: pl.DataFrame, right: pl.DataFrame, on: list[str]) -> np.ndarray | None:
    return lookup._dense_rows(left, right, on, lookup.LeftCodes())


def test_a_dense_table_is_not_built_past_its_size_and_keys_outside_its_range_miss() -> None:
    right = pl.DataFrame({"a": pl.Series([0, 3], dtype=pl.Int64), "b": pl.Series([-2, 5], dtype=pl.Int64), "v": [1, 2]})
    left = pl.DataFrame(
        {"a": pl.Series([3, 0, 4, -1, 3, None], dtype=pl.Int64), "b": pl.Series([5, -2, 5, -2, 6, 5], dtype=pl.Int64)}
    )
    assert dense_rows(left, right, ["a", "b"]).tolist() == [1, 0, 2, 2, 2, 2]  # 2: no row
    assert attach(left.head(3).tail(1), right, ["a", "b"])["v"].to_list() == [None]  # nothing found at all
    # the left rows' values span 2**24 + 1 integers: no table of codes indexed by the value
    far = left.with_columns(pl.Series("b", [5, -2, 5, -2, 6, lookup.DENSE_CELLS - 2], dtype=pl.Int64))
    assert dense_rows(far, right, ["a", "b"]) is None
    assert attach(far, right, ["a", "b"])["v"].to_list() == [2, 1, None, None, None, None]


def test_a_dense_table_has_a_cell_per_combination_of_the_values_present_not_per_integer_in_their_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # customers far apart and attribute codes such as 1201 and 9989: 3 x 2 cells, not 10**6 x 8789
    right = pl.DataFrame(
        {
            "customer": pl.Series([0, 0, 500_000, 1_000_000], dtype=pl.UInt32),
            "code": pl.Series([1201, 9989, 9989, 1201], dtype=pl.Int32),
            "v": [1.0, 2.0, 3.0, 4.0],
        }
    )
    left = pl.DataFrame(
        {
            "customer": pl.Series([1_000_000, 500_000, 0, 0, 7, 500_000], dtype=pl.UInt32),
            "code": pl.Series([1201, 1201, 9989, 1201, 1201, 9989], dtype=pl.Int32),
        }
    )
    assert dense_rows(left, right, ["customer", "code"]) is not None
    assert attach(left, right, ["customer", "code"])["v"].to_list() == [4.0, None, 2.0, 1.0, None, 3.0]
    small = pl.DataFrame({"a": [0, 1, 2, 0], "b": [0, 1, 0, 1], "v": [1, 2, 3, 4]})
    assert dense_rows(small, small, ["a", "b"]).tolist() == [0, 1, 2, 3]
    monkeypatch.setattr(lookup, "DENSE_CELLS", 5)  # spans of 3 and 2, but 6 combinations: joined
    assert dense_rows(small, small, ["a", "b"]) is None
    assert attach(small, small, ["a", "b"])["v"].to_list() == [1, 2, 3, 4]


def test_the_codes_of_the_left_rows_serve_every_table_attached_to_them() -> None:
    rng = np.random.default_rng(3)
    left = pl.DataFrame({"customer": rng.integers(0, 50, 400), "colour": rng.integers(10, 20, 400)})
    codes = lookup.LeftCodes()
    for seed in range(3):  # tables with other customers and values each time, some not in left
        right = pl.DataFrame({"customer": rng.integers(0, 60, 200), "colour": rng.integers(5, 25, 200)}).unique(
            ["customer", "colour"], keep="first", maintain_order=True
        )
        right = right.with_columns(v=pl.int_range(pl.len()) + seed * 1000)
        got = attach(left, right, ["customer", "colour"], codes)
        assert_frame_equal(got, left_join(left, right, ["customer", "colour"]))
        assert got["v"].null_count() < left.height
    assert set(codes._rows) == {"customer", "colour"}  # each column coded once, kept


def test_a_null_key_in_the_table_matches_nothing_and_an_empty_table_gives_nulls() -> None:
    left = pl.DataFrame({"k": pl.Series([1, None, 2], dtype=pl.Int32)})
    right = pl.DataFrame({"k": pl.Series([None, 2], dtype=pl.Int32), "v": [10, 20]})
    assert attach(left, right, ["k"])["v"].to_list() == [None, None, 20]
    empty = attach(left, right.clear(), ["k"])
    assert empty.columns == ["v"] and empty["v"].to_list() == [None, None, None]


def test_packed_keys_keep_the_order_of_the_columns_and_refuse_values_past_32_bits() -> None:
    frame = pl.DataFrame({"a": [0, 0, 1, 1], "b": [-3, 7, -(2**31), 2**31 - 1]})
    key = frame.select(packed(["a", "b"])).to_series()
    assert key.is_sorted() and key.n_unique() == 4
    with pytest.raises(pl.exceptions.InvalidOperationError):
        pl.DataFrame({"a": [0], "b": [2**31]}).select(packed(["a", "b"]))


def test_a_table_whose_keys_are_its_row_numbers_is_read_by_position() -> None:
    right = pl.DataFrame({"article": pl.Series(range(6), dtype=pl.UInt32), "v": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]})
    left = pl.DataFrame({"article": pl.Series([5, 0, 7, None, 2, 6, 5], dtype=pl.UInt32)})
    got = attach(left, right, ["article"])
    assert got["v"].to_list() == [5.5, 0.5, None, None, 2.5, None, 5.5]
    assert_frame_equal(got, left_join(left, right, ["article"]))
    gapped = right.filter(pl.col("article") != 3)  # not row numbers any more: joined instead
    assert_frame_equal(attach(left, gapped, ["article"]), left_join(left, gapped, ["article"]))
