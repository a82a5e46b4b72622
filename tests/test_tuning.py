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
from hmrec.tuning import Make, paired_gain, tune
from hmrec.two_stage import TwoStageRecommender
from tests.conftest import WIDE

QUICK = RankerConfig(train_weeks=2, max_rounds=40, early_stopping=10)
CANDIDATES = CandidateConfig(per_source=20, cap=20)
# a crippled start: only the customer block, which says nothing about the articles
CRIPPLED = replace(QUICK, drop_blocks=("article", "pair", "retrieval", "trend", "cohort", "price", "estimate"))
SEARCH = (("blocks", (({"drop_blocks": ()}, {}),)),)


def _make(dataset: Dataset) -> Make:
    """What the pipeline gives the tuning: a two-stage model of the dataset's tables."""
    tables = Tables(dataset.articles(), dataset.customers())
    return lambda ranker, candidates, cache: TwoStageRecommender(
        tables, candidates=candidates, config=ranker, cache=cache
    )


def test_tuning_picks_the_known_better_setting(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    result = tune(
        tiny_dataset.transactions(), split.cutoff, _make(tiny_dataset), CRIPPLED, CANDIDATES, 600, search=SEARCH
    )
    assert [t.label for t in result.trials] == ["defaults", "drop_blocks=()"]
    assert result.trials[1].mean > result.trials[0].mean and result.trials[1].kept
    assert result.ranker.drop_blocks == () and "kept drop_blocks=()" in result.reason()
    assert result.validation_weeks == (split.cutoff - timedelta(days=7), split.cutoff - timedelta(days=14))
    assert result.meta()["chosen"]["ranker"]["drop_blocks"] == ()


def test_a_worse_setting_is_not_kept(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    worse = (("blocks", (({"drop_blocks": CRIPPLED.drop_blocks}, {}),)),)
    result = tune(tiny_dataset.transactions(), split.cutoff, _make(tiny_dataset), QUICK, CANDIDATES, 600, search=worse)
    assert not result.trials[1].kept and result.ranker == QUICK
    assert "no change beat the defaults" in result.reason()


def test_trials_that_do_not_fit_the_budget_are_skipped(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    result = tune(
        tiny_dataset.transactions(), split.cutoff, _make(tiny_dataset), QUICK, CANDIDATES, 1e-3, search=SEARCH
    )
    assert [t.label for t in result.trials] == ["defaults"] and result.skipped == ["drop_blocks=()"]
    assert result.ranker == QUICK and "skipped for the budget: drop_blocks=()" in result.reason()
    with pytest.raises(ValueError, match="budget must be positive"):
        tune(tiny_dataset.transactions(), split.cutoff, _make(tiny_dataset), QUICK, CANDIDATES, 0)


def test_the_holdout_week_takes_no_part(tiny_dataset: Dataset) -> None:
    tx = tiny_dataset.transactions()
    split = Split.at(tx)
    # the holdout week's rows replaced: each bought article shifted, two more units each
    week = tx.filter(pl.col(Col.DATE) >= split.cutoff).collect()
    n_articles = tiny_dataset.n_articles()
    other = week.with_columns(((pl.col(Col.ARTICLE) + 1) % n_articles).cast(pl.UInt32).alias(Col.ARTICLE))
    changed = pl.concat([tx.filter(pl.col(Col.DATE) < split.cutoff).collect(), other, other, other]).lazy()
    honest = tune(tx, split.cutoff, _make(tiny_dataset), CRIPPLED, CANDIDATES, 600, search=SEARCH)
    leaky = tune(changed, split.cutoff, _make(tiny_dataset), CRIPPLED, CANDIDATES, 600, search=SEARCH)
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


def _aps(values: list[float]) -> pl.DataFrame:
    half = len(values) // 2  # two validation weeks, the same buyers in both
    return pl.DataFrame(
        {
            "week": pl.Series([0] * half + [1] * (len(values) - half), dtype=pl.UInt8),
            Col.CUSTOMER: pl.Series(list(range(half)) + list(range(len(values) - half)), dtype=pl.UInt32),
            "ap": values,
        }
    )


def test_paired_gain_by_hand() -> None:
    best = _aps([0.0, 0.5, 1.0, 0.0])
    trial = _aps([0.25, 0.5, 1.0, 0.75])  # changes +0.25, 0, 0, +0.75
    gain, se = paired_gain(trial, best)
    changes = [0.25, 0.0, 0.0, 0.75]
    mean = sum(changes) / 4
    std = (sum((c - mean) ** 2 for c in changes) / 3) ** 0.5
    assert gain == pytest.approx(mean) and se == pytest.approx(std / 2)


@pytest.mark.parametrize(("noise", "kept"), [(0.0, True), (0.2, False)])
def test_a_change_is_kept_only_above_twice_its_standard_error(
    tiny_dataset: Dataset, monkeypatch: pytest.MonkeyPatch, noise: float, kept: bool
) -> None:
    # every trial's AP@12 is made up: the change raises each buyer's by 0.01 on average, with or
    # without a spread of +- noise around it (0.2: the standard error is 0.2 / sqrt(40) = 0.032, twice it above 0.01)
    base = [0.1, 0.3] * 20
    changed = [b + 0.01 + (noise if i % 2 else -noise) for i, b in enumerate(base)]
    made = iter([_aps(base), _aps(changed)])
    monkeypatch.setattr("hmrec.tuning.validation_aps", lambda *args: next(made))
    split = Split.at(tiny_dataset.transactions())
    result = tune(
        tiny_dataset.transactions(), split.cutoff, _make(tiny_dataset), CRIPPLED, CANDIDATES, 600, search=SEARCH
    )
    trial = result.trials[1]
    assert trial.gain == pytest.approx(0.01) and trial.kept is kept
    assert (result.ranker.drop_blocks == ()) is kept  # the change's setting only when kept
    assert (trial.se < 0.01 / 2) is kept
    assert result.meta()["trials"][1]["se"] == pytest.approx(trial.se)


def test_tuning_needs_two_validation_weeks(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    with pytest.raises(ValueError, match="at least two validation weeks"):
        tune(tiny_dataset.transactions(), split.cutoff, _make(tiny_dataset), QUICK, CANDIDATES, 600, weeks=1)
