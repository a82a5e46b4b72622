"""``check`` predicts ``submit`` (issue point 9): a log the ranker cannot learn from is an error
in ``check`` exactly when ``submit`` fails on it; gaps are shown; unreadable prices never crash."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl

from tests.faults.test_crashes import run
from tests.faults.test_messages import failed_cleanly

Keep = Callable[[pl.Expr], pl.Expr]


def with_log(tiny_shop: Path, folder: Path, keep: Keep) -> Path:
    """A copy of the tiny shop keeping the transactions for which ``keep(back)`` holds, ``back``
    being the days before the log's last day; the customers, articles and submission stay."""
    shop = Path(shutil.copytree(tiny_shop, folder))
    path = shop / "transactions_train.csv"
    tx = pl.read_csv(path, infer_schema=False, glob=False)
    day = pl.col("t_dat").str.to_date()
    back = (day.max() - day).dt.total_days()
    tx.filter(keep(back)).write_csv(path)
    return shop


def submit(shop: Path, tmp_path: Path) -> object:
    return run(["submit", "--data", str(shop), "--out", str(tmp_path / "s.csv"), "--artifacts", str(tmp_path / "a")])


def test_a_log_of_one_week_is_an_error_and_submit_fails(tiny_shop: Path, tmp_path: Path) -> None:
    shop = with_log(tiny_shop, tmp_path / "shop", lambda back: back < 7)
    failed_cleanly(run(["check", "--data", str(shop)]), "cannot learn from this log", "--model repurchase")
    assert submit(shop, tmp_path).returncode == 1  # what check said


def test_four_empty_weeks_before_the_last_are_an_error_and_submit_fails(tiny_shop: Path, tmp_path: Path) -> None:
    shop = with_log(tiny_shop, tmp_path / "shop", lambda back: (back < 7) | (back >= 35))
    done = run(["check", "--data", str(shop)])
    failed_cleanly(done, "cannot learn from this log")
    assert done.stdout.count("│      0 │") >= 4  # the empty weeks are rows of the week table
    assert submit(shop, tmp_path).returncode == 1


def test_one_empty_week_is_a_warning_and_submit_works(tiny_shop: Path, tmp_path: Path) -> None:
    shop = with_log(tiny_shop, tmp_path / "shop", lambda back: (back < 14) | (back >= 21))
    done = run(["check", "--data", str(shop)])
    assert done.returncode == 0, done.stderr
    assert "1 of the 4 weeks the ranker learns from have no purchases" in done.stderr
    assert submit(shop, tmp_path).returncode == 0


def test_prices_with_a_decimal_comma_are_one_error(tiny_shop: Path, tmp_path: Path) -> None:
    shop = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    path = shop / "transactions_train.csv"
    tx = pl.read_csv(path, infer_schema=False, glob=False)
    tx.with_columns(pl.col("price").str.replace(".", ",", literal=True)).write_csv(path)
    failed_cleanly(run(["check", "--data", str(shop)]), "price", "line 2")
