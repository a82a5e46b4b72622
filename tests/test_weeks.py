"""Results over several holdout weeks, the ablation's noise, and progress a user can follow:
``hmrec.evaluate(weeks=N)``, ``evaluate --weeks N``, the ablation's blocks and standard errors,
``progress=True`` and the boosting rounds of a fit."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from typer.testing import CliRunner

import hmrec
from hmrec.api import RankerConfig
from hmrec.cli import app
from hmrec.evaluation import AblationRow, Score, _mean_ablation, ablated_blocks
from hmrec.features.blocks import FEATURE_BLOCKS
from hmrec.ranking.data import CandidateConfig
from hmrec.settings import Settings
from tests.conftest import WIDE

runner = CliRunner(env=WIDE)
QUICK = Settings(ranker=RankerConfig(train_weeks=2))


def test_two_weeks_report_each_week_and_their_mean(tiny_dataset: hmrec.Dataset) -> None:
    both = hmrec.evaluate(tiny_dataset, ["popular", "repurchase"], weeks=2)
    last = hmrec.holdout(tiny_dataset).cutoff
    assert [cutoff for cutoff, _ in both.weekly] == [last - timedelta(days=7), last]
    assert both.cutoff == last and both.weeks == 2
    # each week as its own evaluation, at its own cutoff
    alone = [
        hmrec.evaluate(tiny_dataset, ["popular", "repurchase"], Settings(cutoff=str(cutoff)))
        for cutoff, _ in both.weekly
    ]
    summary = both.summary()
    assert summary["model"].to_list() == ["popular", "repurchase"]
    for row in summary.iter_rows(named=True):
        maps = [next(s.map_at_12 for s in a.scores if s.model == row["model"]) for a in alone]
        assert row["weeks"] == 2
        assert row["map_at_12"] == pytest.approx(sum(maps) / 2)
        assert row["map_se"] == pytest.approx(abs(maps[0] - maps[1]) / 2)  # sd of two / sqrt(2)
    assert maps[0] != maps[1]
    # the last week is the evaluation itself: its recommendations and scores
    assert [s.map_at_12 for s in both.scores] == pytest.approx([s.map_at_12 for s in alone[1].scores], abs=1e-15)
    assert both.recommendations["repurchase"].equals(alone[1].recommendations["repurchase"])


def test_one_week_has_a_summary_without_error(tiny_dataset: hmrec.Dataset) -> None:
    result = hmrec.evaluate(tiny_dataset, ["popular"])
    assert result.weekly == () and result.weeks == 1
    summary = result.summary()
    assert summary["map_at_12"][0] == result.scores[0].map_at_12 and summary["map_se"][0] is None


@pytest.mark.parametrize("weeks", [0, -1, 2.5])
def test_a_bad_number_of_weeks_is_refused(tiny_dataset: hmrec.Dataset, weeks: object) -> None:
    with pytest.raises(ValueError, match="weeks must be a whole number"):
        hmrec.evaluate(tiny_dataset, ["popular"], weeks=weeks)  # type: ignore[arg-type]


def test_more_weeks_than_the_log_holds_are_refused_before_any_work(tiny_dataset: hmrec.Dataset) -> None:
    first = tiny_dataset.date_range()[0]
    with pytest.raises(ValueError, match=f"the log starts on {first}.*hold out fewer weeks"):
        hmrec.evaluate(tiny_dataset, ["popular"], weeks=10)


def test_the_ablation_skips_blocks_that_are_off_and_gives_each_change_its_error(
    tiny_dataset: hmrec.Dataset,
) -> None:
    two_sources = replace(QUICK, candidates=CandidateConfig(sources=("repurchase", "popular")))  # fewer fits
    result = hmrec.evaluate(tiny_dataset, ["ranker"], two_sources, ablation=True)
    assert result.ablation is not None
    base, rows = result.ablation
    removed = [row.removed for row in rows if row.kind == "feature block"]
    assert "embedding" not in removed and "taste" not in removed  # off by default: nothing to remove
    assert result.importance is not None
    used = result.importance["feature"].to_list()
    assert removed == [b for b in FEATURE_BLOCKS if any(FEATURE_BLOCKS[b](f) for f in used)]
    assert {"customer", "article", "pair"} <= set(removed)
    assert [row.removed for row in rows if row.kind == "source"] == ["repurchase", "popular"]
    for row in rows:
        # the same buyers under both: the paired mean change is the change of the means
        assert row.change == pytest.approx(row.map_at_12 - base.map_at_12, abs=1e-12)
        assert 0 < row.se < math.inf
    assert any(row.change != 0 for row in rows)


def test_blocks_with_columns_are_ablated() -> None:
    features = ["c_age", "a_price", "m_score"]
    assert ablated_blocks(features) == [b for b in FEATURE_BLOCKS if any(FEATURE_BLOCKS[b](f) for f in features)]
    assert "embedding" in ablated_blocks(features)
    assert "embedding" not in ablated_blocks(features, drop_blocks=("embedding",))
    assert "embedding" not in ablated_blocks(["c_age", "a_price"])


def test_the_weeks_of_an_ablation_combine_into_means_and_one_error() -> None:
    def week(base: float, change: float, se: float) -> tuple[Score, list[AblationRow]]:
        return Score("ranker", base, 0.5, 10, 1.0), [AblationRow("pair", "feature block", base + change, change, se)]

    base, rows = _mean_ablation([week(0.10, 0.01, 0.003), week(0.20, -0.03, 0.004)])
    assert base.map_at_12 == pytest.approx(0.15) and base.customers == 20
    (row,) = rows
    assert row.weeks == 2 and row.map_at_12 == pytest.approx(0.14)
    assert row.change == pytest.approx(-0.01)
    assert row.se == pytest.approx(0.0025)  # sqrt(0.003^2 + 0.004^2) / 2 = 0.005 / 2


def test_progress_prints_each_step_with_its_seconds(
    tiny_dataset: hmrec.Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    heard: list[str] = []
    hmrec.evaluate(tiny_dataset, ["popular", "ranker"], QUICK, progress=True, on_step=heard.append)
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.endswith(" s") and " … " in line for line in lines)
    assert [line.rsplit(" … ", 1)[0] for line in lines] == list(dict.fromkeys(heard))  # each step once
    assert any(line.startswith("model 2/2: fitting and scoring ranker") for line in lines)
    rounds = [line for line in lines if ": round " in line]
    assert rounds and any("/at most 300" in line for line in rounds)
    hmrec.fit(tiny_dataset, Settings(model="popular"))
    assert capsys.readouterr().err == ""  # no progress unless asked for


def test_fit_reports_its_boosting_rounds(tiny_dataset: hmrec.Dataset) -> None:
    heard: list[str] = []
    model = hmrec.fit(tiny_dataset, Settings(ranker=RankerConfig(train_weeks=2, refit=True)), on_step=heard.append)
    fitting = [
        int(t.split(": round ")[1].split("/")[0])
        for t in heard
        if t.startswith("ranker: fitting on") and ": round " in t
    ]
    assert fitting == list(range(25, 25 * len(fitting) + 1, 25))  # every 25 rounds, until it stopped early
    refit = [t for t in heard if t.startswith("ranker: refitting") and ": round " in t]
    best = model.state.best_round
    assert refit[-1].endswith(f"round {best}/{best}")


def test_evaluate_weeks_on_the_command_line(tiny_shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    data = shutil.copytree(tiny_shop, tmp_path / "shop")
    result = runner.invoke(
        app, ["evaluate", "--data", str(data), "--model", "popular", "--model", "repurchase", "--weeks", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "mean of 2 holdout weeks" in result.output and "+-" in result.output
    refused = runner.invoke(app, ["evaluate", "--data", str(data), "--model", "popular", "--weeks", "0"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output


def test_candidates_config_embedding_is_off_by_default() -> None:
    assert CandidateConfig().embedding is False  # what the ablation test above relies on
