"""Shared fixtures: the tiny synthetic shop, and hand-written Kaggle files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from hmrec import shop
from hmrec.data.dataset import Dataset
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.schema import ARTICLE_COLUMNS, CUSTOMER_COLUMNS, Col


def hex_id(n: int) -> str:
    """A valid 64-hex customer id made from a small number."""
    return f"{n:064x}"


def article_id(n: int) -> str:
    """A valid 10-digit article id (product 0108775, variant n)."""
    return f"0108775{n:03d}"


def write_kaggle(
    folder: Path,
    transactions: list[tuple[str, int, int, float, int]],
    customers: list[int] | None = None,
    articles: list[int] | None = None,
    submission: list[int] | None = None,
) -> Path:
    """Write minimal but complete Kaggle files.

    ``transactions`` rows are ``(date, customer n, article n, price, channel)``; customers and
    articles default to every one the transactions name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    customers = sorted({t[1] for t in transactions}) if customers is None else customers
    articles = sorted({t[2] for t in transactions}) if articles is None else articles
    pl.DataFrame(
        {
            Col.DATE: [t[0] for t in transactions],
            Col.CUSTOMER_ID: [hex_id(t[1]) for t in transactions],
            Col.ARTICLE_ID: [article_id(t[2]) for t in transactions],
            Col.PRICE: [t[3] for t in transactions],
            Col.CHANNEL: [t[4] for t in transactions],
        }
    ).write_csv(folder / "transactions_train.csv")
    pl.DataFrame(
        {
            Col.CUSTOMER_ID: [hex_id(c) for c in customers],
            Col.FN: [1.0 if c % 2 else None for c in customers],
            Col.ACTIVE: [None for _ in customers],
            Col.CLUB_STATUS: ["ACTIVE" for _ in customers],
            Col.NEWS_FREQUENCY: ["NONE" for _ in customers],
            Col.AGE: [20 + c for c in customers],
            Col.POSTAL_CODE: [hex_id(1000 + c % 3) for c in customers],
        },
        schema_overrides={Col.ACTIVE: pl.Float64},
    ).select(CUSTOMER_COLUMNS).write_csv(folder / "customers.csv")
    text = {c: [f"{c} {a}" for a in articles] for c in ARTICLE_COLUMNS}
    ints = {c: [a + 1 for a in articles] for c in ARTICLE_COLUMNS if c.endswith(("_no", "_id", "_code"))}
    frame = pl.DataFrame({**text, **ints, Col.ARTICLE_ID: [article_id(a) for a in articles]})
    frame.select(ARTICLE_COLUMNS).write_csv(folder / "articles.csv")
    if submission is not None:
        pl.DataFrame({Col.CUSTOMER_ID: [hex_id(c) for c in submission], Col.PREDICTION: "0108775000"}).write_csv(
            folder / "sample_submission.csv"
        )
    return folder


@pytest.fixture(scope="session")
def tiny_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic shop's raw files (do not modify: shared by the session)."""
    folder = tmp_path_factory.mktemp("tiny")
    shop.generate(shop.config_for("tiny"), folder, seed=7)
    return folder


@pytest.fixture(scope="session")
def tiny_dataset(tiny_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The tiny shop, prepared into its own folder."""
    return prepare_dataset(tiny_shop, tmp_path_factory.mktemp("tiny-prepared") / "prepared").dataset


@pytest.fixture(scope="session")
def real_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Complete Journey up to 2017-10-31 as Kaggle files (benchmarks/worlds/completejourney.py)."""
    from benchmarks.worlds import completejourney

    return completejourney.convert(tmp_path_factory.mktemp("real") / "completejourney")


WIDE = {"COLUMNS": "400"}
"""The environment of in-process CLI runs: typer draws ``--help`` at ``COLUMNS`` wide, so tests
that read help text fix it (messages themselves never wrap off a terminal, whatever the width)."""
