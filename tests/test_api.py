"""The Python API and the saved models, as a library user and a CLI user meet them: the
documented example runs, fit + recommend writes what submit writes, settings files round-trip,
incompatible models and data are refused, data checks name what is wrong."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import hmrec
from hmrec.api import CandidateConfig, RankerConfig
from hmrec.cli import app
from hmrec.settings import Settings
from tests.conftest import WIDE

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner(env=WIDE)


def invoke(*args: str) -> object:
    result = runner.invoke(app, list(args), terminal_width=400)
    return result


@pytest.fixture
def shop(tiny_shop: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_shop, tmp_path / "shop"))


def test_the_documented_example_runs(tiny_shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "python-api.md").read_text()
    examples = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(examples) >= 2 and 'hmrec.load("data/hm")' in examples[0]
    shutil.copytree(tiny_shop, tmp_path / "data" / "hm")
    monkeypatch.chdir(tmp_path)
    names: dict[str, object] = {}
    for i, example in enumerate(examples):  # in order, each reading what the ones before made
        exec(compile(example, f"python-api.md, example {i + 1}", "exec"), names)
    submission = pl.read_csv(tmp_path / "submission.csv")
    assert submission.height == pl.read_csv(tiny_shop / "sample_submission.csv").height
    assert (tmp_path / "models" / "ranker" / "model.json").exists()


def test_import_hmrec_loads_no_heavy_library() -> None:
    code = "import sys, hmrec; print(sorted(m for m in ('polars', 'torch', 'lightgbm', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert "fit" in hmrec.__all__ and callable(hmrec.fit)
    with pytest.raises(AttributeError, match="no attribute 'fitt'"):
        hmrec.fitt  # noqa: B018


def test_the_cli_calls_only_the_api() -> None:
    imported = set()
    for path in (ROOT / "src" / "hmrec" / "cli").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported |= {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module.startswith("hmrec")
        }
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names} & {
            "hmrec"
        }
    own = {f"hmrec.cli.{path.stem}" for path in (ROOT / "src" / "hmrec" / "cli").glob("*.py")}
    assert imported - own <= {"hmrec", "hmrec.api", "hmrec.tuning", "hmrec.version"}, imported - own


def test_evaluate_returns_scores_and_kaggle_ids(tiny_shop: Path, tmp_path: Path) -> None:
    data = hmrec.load(shutil.copytree(tiny_shop, tmp_path / "shop"))
    result = hmrec.evaluate(data, ["popular", "repurchase"])
    table = result.table()
    assert table["model"].to_list() == ["popular", "repurchase"]
    assert table.filter(pl.col("model") == "repurchase")["map_at_12"][0] > 0
    recs = result.recommendations_of("repurchase", data)
    assert recs.columns == ["customer_id", "article_id", "rank", "score", "sources"]
    assert recs["customer_id"].str.len_chars().unique().to_list() == [64]
    assert recs["article_id"].str.len_chars().unique().to_list() == [10]
    assert recs["customer_id"].n_unique() == table["customers"][0]
    with pytest.raises(ValueError, match="was not evaluated"):
        result.recommendations_of("ranker", data)


def test_fit_then_recommend_writes_what_submit_writes(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted, recommended, model = tmp_path / "submit.csv", tmp_path / "recommend.csv", tmp_path / "model"
    flags = ["--train-weeks", "2"]
    result = invoke("submit", "--data", str(shop), "--out", str(submitted), *flags)
    assert result.exit_code == 0, result.output
    result = invoke("fit", "--data", str(shop), "--out", str(model), *flags)
    assert result.exit_code == 0, result.output
    assert "train_weeks = 2" in result.output  # the settings used are printed

    def whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("recommend built the submission's lists whole")

    monkeypatch.setattr(hmrec.Model, "submission_recommendations", whole)  # its lists come in parts
    result = invoke("recommend", "--model-dir", str(model), "--data", str(shop), "--out", str(recommended))
    assert result.exit_code == 0, result.output
    assert recommended.read_bytes() == submitted.read_bytes()
    # the model submit saved among its artifacts scores the same way
    again = tmp_path / "again.csv"
    result = invoke(
        "recommend", "--model-dir", str(shop / "artifacts/submit/model"), "--data", str(shop), "--out", str(again)
    )
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == submitted.read_bytes()


def test_recommend_for_a_customer_file_in_its_order(shop: Path, tmp_path: Path) -> None:
    model = hmrec.fit(hmrec.load(shop), Settings(model="repurchase"))
    model.save(tmp_path / "model")
    ids = pl.read_csv(shop / "sample_submission.csv")["customer_id"].head(5).reverse().to_list()
    newcomer = "f" * 64
    pl.DataFrame({"customer_id": [*ids, newcomer]}).write_csv(tmp_path / "who.csv")
    out = tmp_path / "recs.csv"
    result = invoke(
        "recommend", "--model-dir", str(tmp_path / "model"), "--data", str(shop), "--out", str(out),
        "--customers", str(tmp_path / "who.csv"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = pl.read_csv(out)
    assert written["customer_id"].to_list() == [*ids, newcomer]
    assert written["prediction"].str.split(" ").list.len().to_list() == [12] * 6
    fill = json.loads((tmp_path / "model" / "model.json").read_text())["fill"]
    assert written["prediction"][-1].split(" ") == [f"{int(a):010d}" for a in fill[:12]]
    pl.DataFrame({"customer_id": ["not-an-id"]}).write_csv(tmp_path / "bad.csv")
    bad = invoke(
        "recommend", "--model-dir", str(tmp_path / "model"), "--data", str(shop), "--out", str(tmp_path / "no.csv"),
        "--customers", str(tmp_path / "bad.csv"),
    )  # fmt: skip
    assert bad.exit_code == 1 and "not-an-id" in bad.output and not (tmp_path / "no.csv").exists()


def test_a_saved_model_scores_newer_data_without_fitting(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = Path(shutil.copytree(shop, tmp_path / "older"))
    tx = pl.read_csv(shop / "transactions_train.csv", infer_schema=False)
    last = date.fromisoformat(tx["t_dat"].max())
    tx.filter(pl.col("t_dat") < (last - timedelta(days=6)).isoformat()).write_csv(older / "transactions_train.csv")
    model = hmrec.fit(hmrec.load(older), Settings(ranker=RankerConfig(train_weeks=2)))
    model.save(tmp_path / "model")
    assert model.cutoff == last - timedelta(days=6)

    import hmrec.two_stage as pipeline

    def no_fitting(*args: object, **kwargs: object) -> None:
        raise AssertionError("recommend must not fit")

    monkeypatch.setattr(pipeline, "fit_ranker", no_fitting)
    monkeypatch.setattr(pipeline, "labelled_week", no_fitting)
    newer = hmrec.load(shop)
    loaded = hmrec.load_model(tmp_path / "model")
    on_old = loaded.recommend(hmrec.load(older), details=True)
    on_new = loaded.recommend(newer, details=True)
    assert on_new["customer_id"].n_unique() == on_old["customer_id"].n_unique()
    assert not on_new.equals(on_old)  # the newer week's purchases changed the candidates and features
    # a customer whose purchases are all in the newer week has candidates of their own there
    week = tx.filter(pl.col("t_dat") >= (last - timedelta(days=6)).isoformat())
    before = tx.filter(pl.col("t_dat") < (last - timedelta(days=6)).isoformat())
    fresh = week.join(before, on="customer_id", how="anti")["customer_id"].unique().sort()
    assert fresh.len() > 0
    own = on_new.filter(pl.col("customer_id").is_in(fresh.implode()), pl.col("sources").list.contains("repurchase"))
    assert own["customer_id"].n_unique() > 0


@pytest.mark.parametrize(("name", "tables"), [("mf", ("customers", "articles")), ("ranker", ("customers",))])
def test_ids_are_matched_by_kaggle_id_not_by_position(
    shop: Path, tmp_path: Path, name: str, tables: tuple[str, ...]
) -> None:
    """The same data with its tables in another order (other prepared indices for every id)
    gets the same recommendations. (The ranker breaks ties between equal scores by the article
    index, so only a customer table in another order leaves it exactly the same.)"""
    reordered = Path(shutil.copytree(shop, tmp_path / "reordered"))
    for table in tables:
        frame = pl.read_csv(shop / f"{table}.csv", infer_schema=False)
        frame.reverse().write_csv(reordered / f"{table}.csv")
    model = hmrec.fit(hmrec.load(shop), Settings(model=name, ranker=RankerConfig(train_weeks=2)))
    model.save(tmp_path / name)
    here = model.recommend(hmrec.load(shop))
    there = hmrec.load_model(tmp_path / name).recommend(hmrec.load(reordered))
    assert here.equals(there)


def test_a_model_of_another_format_or_catalogue_is_refused(shop: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    assert invoke("fit", "--data", str(shop), "--model", "popular", "--out", str(model)).exit_code == 0
    original = (model / "model.json").read_bytes()
    meta = json.loads(original)
    (model / "model.json").write_text(json.dumps({**meta, "format": 0, "hmrec_version": "0.0.1"}))
    out = tmp_path / "out.csv"
    result = invoke("recommend", "--model-dir", str(model), "--data", str(shop), "--out", str(out))
    assert result.exit_code == 1
    assert "saved by hmrec 0.0.1" in result.output and "hmrec fit" in result.output and not out.exists()

    (model / "model.json").write_bytes(original)
    other = Path(shutil.copytree(shop, tmp_path / "other"))
    articles = pl.read_csv(other / "articles.csv", infer_schema=False)
    dropped = articles["article_id"][0]
    articles.slice(1).write_csv(other / "articles.csv")
    tx = pl.read_csv(other / "transactions_train.csv", infer_schema=False)
    tx.filter(pl.col("article_id") != dropped).write_csv(other / "transactions_train.csv")
    result = invoke("recommend", "--model-dir", str(model), "--data", str(other), "--out", str(out))
    assert result.exit_code == 1
    assert "catalogue lacks 1 of the" in result.output and dropped in result.output and not out.exists()

    missing = invoke("recommend", "--model-dir", str(tmp_path / "nothing"), "--data", str(shop), "--out", str(out))
    assert missing.exit_code == 1 and "not a saved hmrec model" in missing.output


def test_settings_round_trip_and_flags_override_the_file(shop: Path, tmp_path: Path) -> None:
    settings = Settings(
        model="repurchase",
        ranker=RankerConfig(
            train_weeks=3, train_buyers=None, train_negatives=None, drop_blocks=("trend",), num_leaves=15
        ),
        candidates=CandidateConfig(sources=("repurchase", "popular"), per_source=20, cap=30),
        tune=True,
        tune_budget=120.0,
        engine="ray",
        workers=3,
        address="10.0.0.1:6379",
    )
    path = settings.save(tmp_path / "s.toml")
    assert 'train_negatives = "all"' in path.read_text()
    assert Settings.load(path) == settings
    assert Settings.from_dict({"ranker": {"train_negatives": 20}}).ranker.train_negatives == 20
    assert settings.with_flags(train_weeks=5, candidates=40).ranker.train_weeks == 5
    assert settings.with_flags(candidates=40).candidates.cap == 40
    # the CLI: the file, a flag over it, and the settings saved beside the model
    config = tmp_path / "ranker.toml"
    config.write_text('model = "ranker"\n[ranker]\ntrain_weeks = 2\nnum_leaves = 7\n[candidates]\ncap = 20\n')
    model = tmp_path / "model"
    result = invoke("fit", "--data", str(shop), "--out", str(model), "--config", str(config), "--candidates", "15")
    assert result.exit_code == 0, result.output
    saved = Settings.load(model / "settings.toml")
    assert (saved.ranker.train_weeks, saved.ranker.num_leaves) == (2, 7)  # from the file
    assert (saved.candidates.cap, saved.candidates.per_source) == (15, 15)  # the flag won
    # the saved settings fit the same model again
    again = tmp_path / "again"
    result = invoke("fit", "--data", str(shop), "--out", str(again), "--config", str(model / "settings.toml"))
    assert result.exit_code == 0, result.output
    assert (again / "ranker" / "model.txt").read_text() == (model / "ranker" / "model.txt").read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[ranker]\ntrain_weeks = 0\n", "train_weeks must be a number at least 1"),
        ("[ranker]\nleaves = 7\n", "unknown setting(s) ranker.leaves"),
        ('[ranker]\ntrain_weeks = "two"\n', "ranker.train_weeks = 'two' is not an int"),
        ('model = "forest"\n', "unknown model 'forest'"),
        ('[candidates]\nsources = ["repurchase", "psychic"]\n', "unknown candidate source(s) psychic"),
        ("model = \n", "not a TOML file"),
    ],
)
def test_a_bad_settings_file_is_refused_naming_the_key(shop: Path, tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    out = tmp_path / "sub.csv"
    result = invoke("submit", "--data", str(shop), "--out", str(out), "--config", str(config))
    assert result.exit_code == 1 and message in result.output, result.output
    assert not out.exists() and not (shop / "artifacts").exists()


def test_check_summarises_a_clean_shop(shop: Path) -> None:
    result = invoke("check", "--data", str(shop))
    assert result.exit_code == 0, result.output
    assert "no errors" in result.output and "transactions from" in result.output
    assert not (shop / "prepared").exists()  # check writes nothing
    report = hmrec.check(shop)
    tx = pl.read_csv(shop / "transactions_train.csv", infer_schema=False)
    assert report.weeks is not None and report.weeks["rows"].sum() == tx.height
    assert str(report.first) == tx["t_dat"].min() and str(report.last) == tx["t_dat"].max()
    nulls = {f.name: f.nulls for f in report.files}
    customers = pl.read_csv(shop / "customers.csv", infer_schema=False)
    assert nulls["customers"]["age"] == customers["age"].null_count()


def test_check_names_each_error_and_exits_1(shop: Path) -> None:
    customers = pl.read_csv(shop / "customers.csv", infer_schema=False)
    pl.concat([customers, customers.head(2)]).write_csv(shop / "customers.csv")  # two ids twice
    path = shop / "transactions_train.csv"
    lines = path.read_text().splitlines()
    first = lines[1].split(",")
    extra = [",".join(["2031-01-01", *first[1:]]), ",".join(["2020-13-45", *first[1:]]), lines[1]]
    extra.append(",".join(["1920-06-01", *first[1:]]))
    path.write_text("\n".join([*lines, *extra]) + "\n")
    result = invoke("check", "--data", str(shop))
    assert result.exit_code == 1
    assert "2 row(s) repeat a customer_id" in result.output
    assert "dated from 2031-01-01" in result.output
    n, said = len(lines), " ".join(result.output.split())  # the header is line 1: appended rows are n + 1 ...
    assert f"first: lines {n + 1} of transactions_train.csv" in said
    assert f"first: lines {n + 4} of transactions_train.csv" in said  # the 1920 row
    assert "'t_dat' is not a date" in result.output and "2020-13-45" in result.output
    assert "repeat an earlier row exactly" in result.output  # a warning, not an error
    assert "dated up to 1920-06-01" in result.output  # a warning too: only old history
    assert not (shop / "prepared").exists()


def test_prepare_warns_about_stray_dates_and_fit_refuses_them(shop: Path, tmp_path: Path) -> None:
    path = shop / "transactions_train.csv"
    lines = path.read_text().splitlines()
    rest = lines[1].split(",")[1:]
    path.write_text("\n".join([*lines, ",".join(["2031-01-01", *rest]), ",".join(["1920-06-01", *rest])]) + "\n")
    result = invoke("prepare", "--data", str(shop))
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "dated from 2031-01-01" in result.output and "--cutoff" in result.output
    assert "dated up to 1920-06-01" in result.output
    model = tmp_path / "model"
    refused = invoke("fit", "--data", str(shop), "--model", "popular", "--out", str(model))
    assert refused.exit_code == 1 and "2031-01-01" in refused.output and not model.exists()


def test_recommend_takes_customers_as_a_plain_list(shop: Path) -> None:
    data = hmrec.load(shop)
    model = hmrec.fit(data, hmrec.Settings(model="repurchase"))
    ids = pl.read_csv(shop / "sample_submission.csv")["customer_id"].head(5)
    expected = model.recommend(data, ids)
    assert model.recommend(data, ids.to_list()).equals(expected)
    assert model.recommend(data, tuple(ids.to_list())).equals(expected)
    assert expected["customer_id"].unique(maintain_order=True).to_list() == ids.to_list()
    with pytest.raises(TypeError, match="not one string"):
        model.recommend(data, ids[0])


def test_settings_that_leave_out_columns_the_trees_read_are_refused() -> None:
    from hmrec.recommenders.saving import ModelError
    from hmrec.two_stage import _check_settings as _check_ranker_settings

    where = Path("model") / "settings.toml"
    full = Settings(candidates=CandidateConfig(embedding=True, units=True))
    _check_ranker_settings(["c_age", "m_score", "u_pd_1w", "popular_score"], full, where)  # all there: no error
    for features, settings, message in [
        (["m_score"], Settings(candidates=CandidateConfig(embedding=False)), "embedding = false"),
        (["u_pd_1w"], Settings(candidates=CandidateConfig(units=False)), "units = false"),
        (["trending_score"], Settings(candidates=CandidateConfig(sources=("popular",))), "source(s) trending"),
    ]:
        with pytest.raises(ModelError, match=re.escape(message)):
            _check_ranker_settings(features, settings, where)


@contextmanager
def held_elsewhere(target: Path) -> Iterator[None]:
    """The lock on ``target`` held by another process for the block (a lock is re-entrant
    within one process, as an outer lock covers the inner writes)."""
    hold = (
        "import pathlib, sys\nfrom hmrec.data.atomic import locked\n"
        f"with locked(pathlib.Path({str(target)!r})):\n    print('held', flush=True)\n    sys.stdin.read()"
    )
    child = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield
    finally:
        child.communicate("")


def test_submit_from_python_takes_the_locks_and_publishes_whole(shop: Path, tmp_path: Path) -> None:
    data = hmrec.load(shop)
    output, artifacts = tmp_path / "out [1]*?" / "sub.csv", tmp_path / "art ?[x]"  # paths are literal
    settings = Settings(model="repurchase")
    with held_elsewhere(output), pytest.raises(hmrec.api.Busy, match="sub.csv"):
        hmrec.submit(data, output, settings, artifacts=artifacts)
    assert not output.exists() and not artifacts.exists()  # nothing of the refused run is written
    with held_elsewhere(artifacts), pytest.raises(hmrec.api.Busy):
        hmrec.submit(data, output, settings, artifacts=artifacts)
    assert not output.exists()
    done = hmrec.submit(data, output, settings, artifacts=artifacts)
    assert done.customers == pl.read_csv(shop / "sample_submission.csv").height
    assert sorted(p.name for p in artifacts.iterdir() if not p.name.startswith(".")) == sorted(
        ["articles.parquet", "history.parquet", "meta.json", "model", "recommendations.parquet", "similar.parquet"]
    )
    assert hmrec.load_model(artifacts / "model").name == "repurchase"
    assert pl.read_csv(output.read_bytes()).height == done.customers
    with pytest.raises(ValueError, match="output"):  # never over a file the user gave
        hmrec.submit(data, shop / "customers.csv", settings)


def test_evaluate_from_python_publishes_its_artifacts_under_the_lock(shop: Path, tmp_path: Path) -> None:
    data = hmrec.load(shop)
    folder = tmp_path / "evaluate"
    with held_elsewhere(folder), pytest.raises(hmrec.api.Busy):
        hmrec.evaluate(data, ["repurchase"], artifacts=folder)
    assert not folder.exists()
    result = hmrec.evaluate(data, ["repurchase"], artifacts=folder)
    assert result.report == folder / "report.html" and result.report.is_file()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["model"] == "repurchase" and meta["holdout_known"] is True
    with pytest.raises(ValueError, match="artifacts"):  # never into the data folder's own files
        hmrec.evaluate(data, ["repurchase"], artifacts=shop)
