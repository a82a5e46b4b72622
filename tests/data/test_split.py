"""The time split and the no-leakage guarantee for every recommender."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split, default_cutoff, parse_cutoff
from hmrec.data.week import WeekInput
from hmrec.registry import MODELS, make_model
from hmrec.schema import Col
from tests.conftest import write_kaggle


def test_default_cutoff_holds_out_the_last_seven_days(tiny_dataset: Dataset) -> None:
    first, last = tiny_dataset.date_range()
    cutoff = default_cutoff(tiny_dataset.transactions())
    assert cutoff == last - timedelta(days=6)
    split = Split.at(tiny_dataset.transactions())
    assert split.history.select(pl.col(Col.DATE).max()).collect().item() < cutoff
    week = (  # the purchases of the seven days from the cutoff, from the log itself
        tiny_dataset.transactions()
        .filter(pl.col(Col.DATE).is_between(cutoff, cutoff + timedelta(days=6)))
        .select(Col.CUSTOMER, Col.ARTICLE)
        .unique()
        .collect()
    )
    truth = split.truth.collect().unique()
    assert week.height > 0 and truth.sort(Col.CUSTOMER, Col.ARTICLE).equals(week.sort(Col.CUSTOMER, Col.ARTICLE))


def test_cutoff_moves_the_week(tiny_dataset: Dataset) -> None:
    _, last = tiny_dataset.date_range()
    cutoff = last - timedelta(days=20)
    split = Split.at(tiny_dataset.transactions(), cutoff)
    assert split.history.select(pl.col(Col.DATE).max()).collect().item() < cutoff
    truth = split.truth.collect()
    expected = (
        tiny_dataset.transactions()
        .filter(pl.col(Col.DATE) >= cutoff, pl.col(Col.DATE) < cutoff + timedelta(days=7))
        .select(Col.CUSTOMER, Col.ARTICLE)
        .unique()
        .collect()
    )
    assert truth.sort(Col.CUSTOMER, Col.ARTICLE).equals(expected.sort(Col.CUSTOMER, Col.ARTICLE))


def test_parse_cutoff_rejects_nonsense() -> None:
    assert parse_cutoff("2020-09-16") == date(2020, 9, 16)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_cutoff("2020-13-45")


@pytest.mark.parametrize("name", list(MODELS))
def test_a_row_after_the_cutoff_changes_nothing(name: str, tmp_path: Path) -> None:
    # 300 rows over the 49 days before the cutoff: enough past weeks for the ranker to learn from
    rows = [
        ((date(2020, 7, 21) + timedelta(days=i % 49)).isoformat(), i % 5, (i * 7) % 17, 0.01 * (1 + i % 7), 1 + i % 2)
        for i in range(300)
    ]
    cutoff = date(2020, 9, 8)
    future = [("2020-09-08", 0, 16, 0.5, 2)] * 30  # a burst after the cutoff: must stay unseen
    plain = prepare_dataset(write_kaggle(tmp_path / "plain", rows, articles=list(range(17)))).dataset
    leaky = prepare_dataset(write_kaggle(tmp_path / "leaky", rows + future, articles=list(range(17)))).dataset
    customers = pl.Series(Col.CUSTOMER, range(5), dtype=pl.UInt32)

    def run(ds: Dataset) -> pl.DataFrame:
        return make_model(name, ds).fit(WeekInput.before(ds.transactions(), cutoff)).recommend(customers)

    assert_frame_equal(run(plain), run(leaky))
