"""Settings out of range (issue point 7): every numeric setting is bounded and named in the
message before any work, strings are escaped when written, and a settings file of any bytes is
read or refused with one ``ValueError``, never another exception."""

from __future__ import annotations

import math
import shutil
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmrec.settings import Settings
from tests.faults.test_crashes import run
from tests.faults.test_messages import failed_cleanly

BAD = {
    "[ranker]\nthreads = 100000": "threads",
    "[ranker]\ntrain_weeks = 1000000": "train_weeks",
    "[candidates]\nper_source = 1000000000000": "per_source",
    "[ranker]\nlearning_rate = 0": "learning_rate",
    "[ranker]\nlearning_rate = -1": "learning_rate",
    "[ranker]\nlearning_rate = nan": "learning_rate",
    "[ranker]\nnum_leaves = 0": "num_leaves",
    "[ranker]\nnum_leaves = 1000000000000": "num_leaves",
    "[ranker]\nfeature_fraction = 0": "feature_fraction",
    "[ranker]\nfeature_fraction = 2": "feature_fraction",
    "[ranker]\nmin_data_in_leaf = -1": "min_data_in_leaf",
    "[candidates]\nsources = [1, 2]": "sources",
    "[ranker]\nmax_rounds = 0": "max_rounds",
    "[tune]\nbudget = nan": "budget",
    "[tune]\nbudget = inf": "budget",
    "[engine]\nworkers = 0": "workers",
    "[ranker]\ndrop_blocks = [3]": "drop_blocks",
}


@pytest.mark.parametrize("text", list(BAD))
def test_a_setting_out_of_range_names_its_key(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError) as caught:
        Settings.load(path)
    assert BAD[text] in str(caught.value) and str(path) in str(caught.value)


def test_out_of_range_from_the_cli_stops_before_any_work(tiny_shop: Path, tmp_path: Path) -> None:
    shop = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    config = tmp_path / "s.toml"
    config.write_text("[ranker]\nthreads = 100000\n")
    out = tmp_path / "s.csv"
    failed_cleanly(run(["submit", "--data", str(shop), "--out", str(out), "--config", str(config)]), "threads")
    failed_cleanly(run(["submit", "--data", str(shop), "--out", str(out), "--tune-budget", "nan"]), "budget")
    assert not out.exists() and not (shop / "prepared").exists()


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_any_address_is_written_so_that_it_reads_back(address: str) -> None:
    """A newline, a quote, a backslash or a control character in a string setting survives the
    TOML file (``fit`` writes it; ``--config`` reads it back)."""
    written = Settings(address=address).to_toml()
    assert Settings.from_dict(tomllib.loads(written)).address == address


scalars = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
)
KEYS = {
    "ranker": [
        "objective",
        "train_weeks",
        "train_buyers",
        "train_negatives",
        "learning_rate",
        "num_leaves",
        "min_data_in_leaf",
        "feature_fraction",
        "max_rounds",
        "early_stopping",
        "refit",
        "drop_blocks",
        "seed",
        "threads",
    ],
    "candidates": ["sources", "per_source", "cap", "embedding"],
    "tune": ["enabled", "budget"],
    "engine": ["name", "workers", "address"],
}
tables = st.fixed_dictionaries(
    {}, optional={name: st.dictionaries(st.sampled_from(keys), scalars, max_size=4) for name, keys in KEYS.items()}
)


@given(tables, st.dictionaries(st.sampled_from(["model", "cutoff"]), scalars, max_size=2))
@settings(max_examples=300, deadline=None)
def test_any_settings_document_is_read_or_refused_with_one_value_error(tables: dict, top: dict) -> None:
    try:
        result = Settings.from_dict({**top, **tables}, "fuzz.toml")
    except ValueError as exc:
        assert str(exc).startswith("fuzz.toml")
        return
    for value in (result.ranker.learning_rate, result.ranker.feature_fraction, result.tune_budget):
        assert math.isfinite(value)


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_a_settings_file_of_any_bytes_is_read_or_refused(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.toml"
    path.write_bytes(raw)
    try:
        Settings.load(path)
    except ValueError as exc:
        assert str(path) in str(exc)


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--artifacts", ".", "--port", "70000"],
        ["generate", "--out", "x", "--seed", "-1"],
        ["candidates", "--data", ".", "--n", "0"],
    ],
)
def test_command_line_numbers_out_of_range_are_usage_errors(args: list[str]) -> None:
    done = run(args)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "Invalid value" in done.stderr
