"""The CLI as a user meets it: help with examples, the main flow, clear errors."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from hmrec.cli import app
from hmrec.ranking.data import FEATURE_BLOCKS
from hmrec.recommenders.mf.weights import PRESETS
from hmrec.registry import MODELS
from hmrec.settings import Settings
from tests.conftest import WIDE

runner = CliRunner(env=WIDE)


@pytest.mark.parametrize(
    "command",
    [
        "generate",
        "prepare",
        "check",
        "evaluate",
        "submit",
        "fit",
        "recommend",
        "train-baseline",
        "candidates",
        "demo",
        "report",
        "serve",
    ],
)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example: hmrec" in result.output


def test_model_choices_are_listed() -> None:
    result = runner.invoke(app, ["evaluate", "--help"], terminal_width=200)
    for name in MODELS:
        assert name in result.output


def test_generate_evaluate_submit(tmp_path: Path) -> None:
    data = tmp_path / "shop"
    result = runner.invoke(app, ["generate", "--scale", "tiny", "--out", str(data)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "MAP@12 repurchase" in result.output
    result = runner.invoke(app, ["evaluate", "--data", str(data)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert all(name in result.output for name in MODELS) and "MAP@12" in result.output
    out = tmp_path / "sub.csv"
    result = runner.invoke(app, ["submit", "--data", str(data), "--out", str(out), "--model", "popular"])
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out).height == pl.read_csv(data / "sample_submission.csv").height


def test_ranker_is_the_default_of_submit_and_saves_its_artifacts(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    out, artifacts = tmp_path / "sub.csv", tmp_path / "model"
    result = runner.invoke(
        app, ["submit", "--data", str(data), "--out", str(out), "--artifacts", str(artifacts)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "model ranker" in result.output
    submission = pl.read_csv(out)
    assert submission.height == pl.read_csv(data / "sample_submission.csv").height
    assert submission["prediction"].str.split(" ").list.len().min() == 12
    saved = artifacts / "model"  # the fitted model, as hmrec fit saves it
    assert {p.name for p in saved.iterdir()} == {
        ".hmrec-owned",
        "manifest.json",
        "model.json",
        "settings.toml",
        "articles.parquet",
        "ranker",
    }
    assert {p.name for p in (saved / "ranker").iterdir()} == {
        ".hmrec-owned",
        "model.txt",
        "features.json",
        "importance.csv",
    }
    assert {"recommendations.parquet", "articles.parquet", "history.parquet", "meta.json"} <= {
        p.name for p in artifacts.iterdir()
    }
    assert not (artifacts / "truth.parquet").exists()  # a submission's week is unknown
    served = pl.read_parquet(artifacts / "recommendations.parquet")
    assert served.height == submission.height * 12 and served["sources"].null_count() == 0


def test_evaluate_ablation_removes_each_block_and_source(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    sources = ["repurchase", "bought_together", "popular"]  # three, not all: one fit each
    config = tmp_path / "three.toml"
    config.write_text(f"[candidates]\nsources = {json.dumps(sources)}\n")
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--data",
            str(data),
            "--model",
            "ranker",
            "--ablation",
            "--train-weeks",
            "2",
            "--config",
            str(config),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "ablation" in result.output
    rows = [line.split("│")[1:3] for line in result.output.splitlines() if line.startswith("│ ")]
    removed = {name.strip(): kind.strip() for name, kind in rows if kind.strip() in ("feature block", "source")}
    used = json.loads((data / "artifacts" / "evaluate" / "model" / "features.json").read_text())["features"]
    blocks = [b for b in FEATURE_BLOCKS if any(FEATURE_BLOCKS[b](f) for f in used)]
    assert "embedding" not in blocks  # off without --mf-features: not retrained without it
    assert removed == {**dict.fromkeys(blocks, "feature block"), **dict.fromkeys(sources, "source")}
    assert f"variant {len(removed)}/{len(removed)}: without the source" in result.output
    assert (data / "artifacts" / "evaluate" / "model" / "model.txt").exists()
    saved = Settings.load(data / "artifacts" / "evaluate" / "model" / "settings.toml")  # what --config reads
    assert saved.ranker.train_weeks == 2 and saved.model == "ranker" and list(saved.candidates.sources) == sources


def test_evaluate_with_mf_features_trains_on_them(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    args = ["evaluate", "--data", str(data), "--model", "ranker", "--train-weeks", "2"]
    result = runner.invoke(app, [*args, "--mf-features"], terminal_width=200)
    assert result.exit_code == 0, result.output
    model = data / "artifacts" / "evaluate" / "model"
    features = json.loads((model / "features.json").read_text())
    assert {"m_score", "m_last5"} <= set(features["features"])
    assert features["candidates"]["embedding"] is True
    assert "m_score" in pl.read_csv(model / "importance.csv")["feature"].to_list()


def test_report_writes_the_html_with_its_plots(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["report", "--data", str(data), "--model", "repurchase", "--artifacts", str(out)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    text = (out / "report.html").read_text()
    assert text.count("data:image/png;base64,") >= 5 and "repurchase" in text
    assert (out / "truth.parquet").exists()  # the holdout week is known: the page can mark hits


def test_evaluate_refuses_a_bad_ranker_setting(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--model", "ranker", "--train-weeks", "0"])
    assert result.exit_code == 1
    assert "train_weeks" in result.output


def test_evaluate_one_model_with_a_cutoff(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    result = runner.invoke(
        app, ["evaluate", "--data", str(data), "--model", "popular", "--cutoff", "2020-09-09"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "2020-09-09" in result.output and "repurchase" not in result.output


def test_bad_input_exits_non_zero_with_the_reason(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    (data / "customers.csv").unlink()
    result = runner.invoke(app, ["evaluate", "--data", str(data)])
    assert result.exit_code == 1
    assert "customers.csv" in result.output


def test_unknown_model_is_refused(tiny_shop: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(tiny_shop), "--model", "nope"])
    assert (
        result.exit_code == 2 and "nope" in result.output and "ranker" in result.output
    )  # a usage error naming the choices
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_bad_cutoff_is_refused(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--cutoff", "2020-13-45"])
    assert result.exit_code == 1
    assert "YYYY-MM-DD" in result.output


def test_train_baseline_saves_a_checkpoint_and_resumes(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    out = tmp_path / "mf"
    args = ["train-baseline", "--data", str(data), "--dim", "8", "--out", str(out)]
    result = runner.invoke(app, [*args, "--epochs", "2"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert "holdout MAP@12" in result.output and "mf" in result.output
    resumed = runner.invoke(app, [*args, "--epochs", "3", "--resume"], terminal_width=200)
    assert resumed.exit_code == 0, resumed.output
    assert "epoch   3" in resumed.output and "epoch   1" not in resumed.output


@pytest.mark.parametrize("solver", ["als", "sgd"])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_train_baseline_trains_and_scores_every_preset(
    tiny_shop: Path, tmp_path: Path, preset: str, solver: str
) -> None:
    import torch

    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    out = tmp_path / "mf"
    args = ["train-baseline", "--data", str(data), "--dim", "8", "--epochs", "2", "--out", str(out)]
    result = runner.invoke(app, [*args, "--preset", preset, "--solver", solver], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert preset in result.output and (out / "best.pt").is_file()
    saved = torch.load(out / "best.pt", weights_only=False)["config"]
    assert saved["solver"] == solver and saved["weighting"] == asdict(PRESETS[preset])


def test_train_baseline_filters_by_repeat_interval(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    args = ["train-baseline", "--data", str(data), "--dim", "8", "--epochs", "2", "--out", str(tmp_path / "mf")]
    result = runner.invoke(app, [*args, "--filter", "interval"], terminal_width=200)
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, [*args, "--filter", "recent"], terminal_width=200)
    assert bad.exit_code != 0 and "recent" in bad.output


def test_train_baseline_refuses_a_bad_price_weight(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    result = runner.invoke(app, ["train-baseline", "--data", str(data), "--price-weight", "3"])
    assert result.exit_code == 1
    assert "price_weight" in result.output


def test_candidates_prints_quality_and_recall_curve(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    args = ["candidates", "--data", str(data), "--n", "10", "--sizes", "5,10"]
    result = runner.invoke(app, [*args, "--source", "repurchase", "--source", "popular"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for word in ("repurchase", "popular", "union", "oracle MAP@12", "@5", "@10"):
        assert word in result.output
    bad = runner.invoke(app, [*args, "--source", "nope"])
    assert bad.exit_code == 1 and "unknown candidate source" in bad.output


def test_generate_takes_a_profile_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    out = tmp_path / "grocery"
    result = runner.invoke(
        app, ["generate", "--scale", "tiny", "--profile", "grocery", "--out", str(out)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "profile grocery" in result.output
    tx = pl.read_csv(out / "transactions_train.csv", infer_schema=False)
    fashion = tmp_path / "fashion"
    assert runner.invoke(app, ["generate", "--scale", "tiny", "--out", str(fashion), "--no-stats"]).exit_code == 0
    assert tx.height != pl.read_csv(fashion / "transactions_train.csv", infer_schema=False).height
    bad = runner.invoke(app, ["generate", "--scale", "tiny", "--profile", "bakery", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "bakery" in bad.output


def _append_row(data: Path, day: str) -> None:
    """One more transaction, a copy of the first with another date."""
    path = data / "transactions_train.csv"
    lines = path.read_text().splitlines()
    first = lines[1].split(",")
    path.write_text("\n".join([*lines, ",".join([day, *first[1:]])]) + "\n")


def test_a_stray_late_date_is_refused_with_the_cutoff_to_use(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    _append_row(data, "2031-01-01")
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--model", "popular"], terminal_width=400)
    assert result.exit_code == 1
    assert "1 transaction row(s) are dated from 2031-01-01" in result.output and "--cutoff" in result.output
    assert not (data / "artifacts").exists()
    cutoff = result.output.split("--cutoff ")[1].split()[0]
    again = runner.invoke(app, ["evaluate", "--data", str(data), "--model", "popular", "--cutoff", cutoff])
    assert again.exit_code == 0, again.output
    output = tmp_path / "sub.csv"
    refused = runner.invoke(app, ["submit", "--data", str(data), "--model", "popular", "--out", str(output)])
    assert refused.exit_code == 1 and "2031-01-01" in refused.output and not output.exists()


def test_a_holdout_week_with_few_buyers_is_refused(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    tx = pl.read_csv(data / "transactions_train.csv", infer_schema=False)
    last = date.fromisoformat(tx["t_dat"].max())
    week = (last - timedelta(days=6)).isoformat()
    tx.filter(pl.col("t_dat") < week).write_csv(data / "transactions_train.csv")
    _append_row(data, last.isoformat())  # the log's last week: one buyer on its last day
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--model", "popular"], terminal_width=400)
    assert result.exit_code == 1
    assert "has 1 buyer(s)" in result.output and "--cutoff" in result.output


def test_help_shows_the_defaults_of_flags_a_settings_file_can_set() -> None:
    result = runner.invoke(app, ["submit", "--help"], terminal_width=400)
    assert result.exit_code == 0
    assert "[default: 4]" in result.output and "[default: local]" in result.output  # not eaten as markup
    assert "hmrec[ray]" in result.output and "--config" in result.output


def test_fit_mf_prints_and_saves_its_choice_and_no_tune_keeps_the_fixed_settings(
    tiny_shop: Path, tmp_path: Path
) -> None:
    import torch

    from hmrec.recommenders.mf.config import MFConfig

    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    out = tmp_path / "model"
    result = runner.invoke(app, ["fit", "--data", str(data), "--model", "mf", "--out", str(out)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "mf chose: alpha" in result.output
    info = json.loads((out / "model.json").read_text())
    trials = info["tuning"]["trials"]
    assert info["tuning"]["model"] == "mf" and len(trials) >= 6
    best = max(trials, key=lambda t: t["score"])
    saved = torch.load(out / "mf.pt", weights_only=True)
    assert (saved["config"]["alpha"], saved["config"]["reg"], saved["config"]["dim"]) == (
        best["alpha"],
        best["reg"],
        best["dim"],
    )
    assert (saved["filter"], saved["boost"], saved["config"]["epochs"]) == (
        best["filter"],
        best["boost"],
        best["epochs"],
    )
    fixed = tmp_path / "fixed"
    args = ["fit", "--data", str(data), "--model", "mf", "--no-tune", "--out", str(fixed)]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "mf chose" not in result.output
    assert "tuning" not in json.loads((fixed / "model.json").read_text())
    saved = torch.load(fixed / "mf.pt", weights_only=True)
    assert (saved["config"]["alpha"], saved["config"]["reg"], saved["filter"], saved["boost"]) == (
        MFConfig.alpha,
        MFConfig.reg,
        "none",
        0.0,
    )


def test_evaluate_explain_keeps_the_reasons_for_serving(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    result = runner.invoke(
        app, ["evaluate", "--data", str(data), "--model", "ranker", "--train-weeks", "2", "--explain"]
    )
    assert result.exit_code == 0, result.output
    served = pl.read_parquet(data / "artifacts" / "evaluate" / "recommendations.parquet")
    ranked = served.filter(pl.col("score").is_not_null())
    assert ranked.height > 0 and ranked["explain"].list.len().unique().to_list() == [3]
    assert (data / "artifacts" / "evaluate" / "similar.parquet").exists()


def test_submit_explain_is_for_the_ranker_and_refused_before_any_work(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    output = tmp_path / "sub.csv"
    result = runner.invoke(
        app, ["submit", "--data", str(data), "--out", str(output), "--model", "popular", "--explain"]
    )
    assert result.exit_code == 1 and "--explain explains the ranker's scores" in result.output
    assert not output.exists() and not (data / "prepared").exists()


@pytest.mark.parametrize(
    ("argv0", "on_path", "expected"),
    [
        (".venv/bin/hmrec", None, ".venv/bin/hmrec"),
        ("/opt/env/bin/hmrec", None, "/opt/env/bin/hmrec"),
        ("hmrec", "/usr/local/bin/hmrec", "/usr/local/bin/hmrec"),
        ("/x/site-packages/hmrec/__main__.py", None, None),
    ],
)
def test_the_demo_names_a_command_that_runs_as_printed(
    monkeypatch: pytest.MonkeyPatch, argv0: str, on_path: str | None, expected: str | None
) -> None:
    import shutil as shell
    import sys

    from hmrec.cli.demo import this_command

    monkeypatch.setattr(sys, "argv", [argv0, "demo"])
    monkeypatch.setattr(shell, "which", lambda name: on_path)
    assert this_command() == (expected or f"{sys.executable} -m hmrec")


def test_the_terminal_bar_counts_only_steps_that_count() -> None:
    from rich.progress import Progress

    from hmrec.cli.console import _Counts

    with Progress(disable=True) as progress:
        counted = progress.add_task("ranking", total=12, completed=3)
        uncounted = progress.add_task("fitting", total=None)
        tasks = {t.id: t for t in progress.tasks}
    assert _Counts().render(tasks[counted]).plain == "3/12"
    assert _Counts().render(tasks[uncounted]).plain == ""
