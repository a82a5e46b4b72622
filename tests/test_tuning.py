"""Settings chosen by validation: a known-better setting wins, the budget is kept, and the
holdout week never takes part."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from hmrec.cli import app
from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import CandidateConfig, Tables
from hmrec.schema import Col
from hmrec.tuning import tune
from tests.conftest import WIDE

QUICK = RankerConfig(train_weeks=2, max_rounds=40, early_stopping=10)
CANDIDATES = CandidateConfig(per_source=20, cap=20)
# a crippled start: only the customer block, which says nothing about the articles
CRIPPLED = replace(QUICK, drop_blocks=("article", "pair", "retrieval", "trend", "cohort", "price", "estimate"))
SEARCH = (("blocks", (({"drop_blocks": ()}, {}),)),)


def _tables(dataset: Dataset) -> Tables:
    return Tables(dataset.articles(), dataset.customers())


def test_tuning_picks_the_known_better_setting(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    result = tune(
        tiny_dataset.transactions(), split.cutoff, _tables(tiny_dataset), CRIPPLED, CANDIDATES, 600, search=SEARCH
    )
    assert [t.label for t in result.trials] == ["defaults", "drop_blocks=()"]
    assert result.trials[1].mean > result.trials[0].mean and result.trials[1].kept
    assert result.ranker.drop_blocks == () and "kept drop_blocks=()" in result.reason()
    assert result.validation_weeks == (split.cutoff - timedelta(days=7), split.cutoff - timedelta(days=14))
    assert result.meta()["chosen"]["ranker"]["drop_blocks"] == ()


def test_a_worse_setting_is_not_kept(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    worse = (("blocks", (({"drop_blocks": CRIPPLED.drop_blocks}, {}),)),)
    result = tune(
        tiny_dataset.transactions(), split.cutoff, _tables(tiny_dataset), QUICK, CANDIDATES, 600, search=worse
    )
    assert not result.trials[1].kept and result.ranker == QUICK
    assert "no change beat the defaults" in result.reason()


def test_trials_that_do_not_fit_the_budget_are_skipped(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    result = tune(
        tiny_dataset.transactions(), split.cutoff, _tables(tiny_dataset), QUICK, CANDIDATES, 1e-3, search=SEARCH
    )
    assert [t.label for t in result.trials] == ["defaults"] and result.skipped == ["drop_blocks=()"]
    assert result.ranker == QUICK and "skipped for the budget: drop_blocks=()" in result.reason()
    with pytest.raises(ValueError, match="budget must be positive"):
        tune(tiny_dataset.transactions(), split.cutoff, _tables(tiny_dataset), QUICK, CANDIDATES, 0)


def test_the_holdout_week_takes_no_part(tiny_dataset: Dataset) -> None:
    tx = tiny_dataset.transactions()
    split = Split.at(tx)
    # the holdout week's rows replaced: each bought article shifted, two more units each
    week = tx.filter(pl.col(Col.DATE) >= split.cutoff).collect()
    n_articles = tiny_dataset.n_articles()
    other = week.with_columns(((pl.col(Col.ARTICLE) + 1) % n_articles).cast(pl.UInt32).alias(Col.ARTICLE))
    changed = pl.concat([tx.filter(pl.col(Col.DATE) < split.cutoff).collect(), other, other, other]).lazy()
    honest = tune(tx, split.cutoff, _tables(tiny_dataset), CRIPPLED, CANDIDATES, 600, search=SEARCH)
    leaky = tune(changed, split.cutoff, _tables(tiny_dataset), CRIPPLED, CANDIDATES, 600, search=SEARCH)
    for h, lk in zip(honest.trials, leaky.trials, strict=True):  # equal up to the order of a float sum
        assert h.maps == pytest.approx(lk.maps, rel=1e-12)


def test_cli_tune_prints_the_choice_and_saves_it(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    result = CliRunner(env=WIDE).invoke(
        app,
        ["evaluate", "--data", str(data), "--model", "ranker", "--train-weeks", "2", "--tune", "--tune-budget", "5"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "tuning chose:" in result.output and "defaults" in result.output
    info = json.loads((data / "artifacts" / "evaluate" / "model" / "features.json").read_text())
    assert info["tuning"]["trials"][0]["setting"] == "defaults"
    assert info["ranker"] == info["tuning"]["chosen"]["ranker"]
    bad = CliRunner(env=WIDE).invoke(app, ["evaluate", "--data", str(data), "--tune", "--tune-budget", "0"])
    assert bad.exit_code == 1 and "--tune-budget" in bad.output and "must be a number above 0" in bad.output
