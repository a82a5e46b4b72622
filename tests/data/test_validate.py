"""Bad input: one clear message naming file, column and rows; nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmrec.data import ingest
from hmrec.data.validate import DataError
from tests.conftest import article_id, hex_id, write_kaggle

GOOD = [
    ("2020-09-01", 1, 1, 0.05, 2),
    ("2020-09-02", 2, 2, 0.10, 1),
]


def corrupt(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


def assert_rejected(folder: Path, *fragments: str) -> None:
    with pytest.raises(DataError) as caught:
        ingest.prepare(folder)
    for fragment in fragments:
        assert fragment in str(caught.value)
    # nothing half-written: no prepared folder, no temporary folder
    assert not (folder / "prepared").exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_kaggle(tmp_path / "in", GOOD)


def test_missing_file(good: Path) -> None:
    (good / "articles.csv").unlink()
    assert_rejected(good, "missing file articles.csv")


def test_missing_column(good: Path) -> None:
    corrupt(good, "transactions_train.csv", "price,", "cost,")
    assert_rejected(good, "transactions_train.csv", "missing column(s) price")


def test_impossible_date(good: Path) -> None:
    corrupt(good, "transactions_train.csv", "2020-09-02", "2020-13-45")
    assert_rejected(good, "transactions_train.csv", "column 't_dat'", "line 3: '2020-13-45'")


def test_price_not_a_number(good: Path) -> None:
    corrupt(good, "transactions_train.csv", "0.1,", "abc,")
    assert_rejected(good, "column 'price'", "line 3: 'abc'")


def test_negative_price(good: Path) -> None:
    corrupt(good, "transactions_train.csv", "0.05,", "-0.05,")
    assert_rejected(good, "column 'price'", "finite non-negative", "line 2: '-0.05'")


def test_price_too_large_to_store(good: Path) -> None:
    corrupt(good, "transactions_train.csv", "0.05,", "1e40,")  # a 32-bit float would hold inf
    assert_rejected(good, "column 'price'", "finite non-negative", "line 2: '1e40'")


@pytest.mark.parametrize("channel", ["300", "3", "-1", "0"])
def test_channel_outside_store_and_online(good: Path, channel: str) -> None:
    corrupt(good, "transactions_train.csv", ",0.05,2", f",0.05,{channel}")
    assert_rejected(good, "column 'sales_channel_id'", "1 (store) or 2 (online)", f"line 2: '{channel}'")


def test_price_far_above_the_log_is_kept_with_a_warning(tmp_path: Path) -> None:
    rows = [(f"2020-09-0{d}", d, d, 0.05, 2) for d in range(1, 8)] + [("2020-09-08", 1, 2, 1e9, 1)]
    result = ingest.prepare(write_kaggle(tmp_path / "in", rows))
    assert any("price" in w and "median" in w and "1e+09" in w for w in result.warnings), result.warnings
    plain = ingest.prepare(write_kaggle(tmp_path / "plain", rows[:-1]))
    assert not any("median" in w for w in plain.warnings)


@pytest.mark.parametrize("name", ["articles.csv", "customers.csv", "transactions_train.csv"])
def test_bytes_that_are_not_utf8_name_the_file(good: Path, name: str) -> None:
    path = good / name
    header, first, rest = path.read_bytes().split(b"\n", 2)
    path.write_bytes(b"\n".join([header, first[:-1] + b"\xff\xfe" + first[-1:], rest]))  # Latin-1 bytes
    assert_rejected(good, name, "cannot be read", "UTF-8")


def test_age_not_a_number(good: Path) -> None:
    corrupt(good, "customers.csv", ",21,", ",twenty,")
    assert_rejected(good, "customers.csv", "column 'age'", "'twenty'")


def test_a_huge_field_is_quoted_short(good: Path) -> None:
    huge = "f" * 1_000_000
    corrupt(good, "transactions_train.csv", hex_id(1), huge)
    with pytest.raises(DataError) as caught:
        ingest.prepare(good)
    message = str(caught.value)
    assert "column 'customer_id'" in message and "(1,000,000 characters)" in message
    assert len(message) < 1_000


def test_customer_id_of_wrong_form(good: Path) -> None:
    corrupt(good, "transactions_train.csv", hex_id(2), "not-a-hex-id")
    assert_rejected(good, "transactions_train.csv", "column 'customer_id'", "64 lowercase hex", "'not-a-hex-id'")


def test_article_id_of_wrong_form(good: Path) -> None:
    corrupt(good, "articles.csv", article_id(2), "01087750X2")
    assert_rejected(good, "articles.csv", "column 'article_id'", "'01087750X2'")


def test_duplicate_customer(tmp_path: Path) -> None:
    folder = write_kaggle(tmp_path / "in", GOOD, customers=[1, 2, 2])
    assert_rejected(folder, "customers.csv", "repeated")


def test_empty_file(good: Path) -> None:
    (good / "customers.csv").write_text("")
    assert_rejected(good, "customers.csv", "empty")


def test_header_without_rows(good: Path) -> None:
    path = good / "transactions_train.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    assert_rejected(good, "transactions_train.csv", "no rows")


def test_failed_rebuild_keeps_the_previous_result(good: Path) -> None:
    ingest.prepare(good)
    before = (good / "prepared" / "transactions.parquet").read_bytes()
    corrupt(good, "transactions_train.csv", "0.05,", "-1,")
    with pytest.raises(DataError):
        ingest.prepare(good)
    assert (good / "prepared" / "transactions.parquet").read_bytes() == before
    assert [p.name for p in good.iterdir() if p.name.startswith(".")] == []
