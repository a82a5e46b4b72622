"""Saved models are data (issue points 5 and 6): no code in a model folder ever runs, and every
damaged file of one ends in one message naming it, never a traceback or a native crash."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hmrec
from hmrec.model import ModelError, write_manifest
from tests.faults.test_crashes import run
from tests.faults.test_messages import failed_cleanly


@pytest.fixture(scope="module")
def shop(tiny_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny shop for this module (the session's copy is never prepared)."""
    return Path(shutil.copytree(tiny_shop, tmp_path_factory.mktemp("models-shop") / "shop"))


@pytest.fixture(scope="module")
def models(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A ranker and an MF model fitted on the tiny shop (do not modify: copied by each test)."""
    folder = tmp_path_factory.mktemp("models")
    data = hmrec.load(shop)
    out = {}
    for name in ("ranker", "mf"):
        hmrec.fit(data, hmrec.Settings(model=name)).save(folder / name)
        out[name] = folder / name
    return out


def model_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def copy(models: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(models[name], tmp_path / name))


class Evil:
    """A pickle that runs a command when it is unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_of_code_in_mf_pt_never_runs(models: dict[str, Path], shop: Path, tmp_path: Path) -> None:
    import torch

    model = copy(models, "mf", tmp_path)
    marker = tmp_path / "pwned"
    torch.save({"model": Evil(marker)}, model / "mf.pt")
    write_manifest(model)  # signed again, as someone who meant it would
    out = tmp_path / "out.csv"
    done = run(["recommend", "--model-dir", str(model), "--data", str(shop), "--out", str(out)])
    failed_cleanly(done, "mf.pt")
    assert not marker.exists() and not out.exists()


DAMAGE = {
    "missing": lambda p: p.unlink(),
    "empty": lambda p: p.write_bytes(b""),
    "half": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "random": lambda p: p.write_bytes(random.Random(p.name).randbytes(max(p.stat().st_size, 64))),
    "one byte": lambda p: p.write_bytes(bytes([p.read_bytes()[0] ^ 1]) + p.read_bytes()[1:]),
}


@pytest.mark.parametrize("kind", ["ranker", "mf"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_every_damaged_file_is_one_message_naming_it(
    models: dict[str, Path], tmp_path: Path, kind: str, damage: str
) -> None:
    for name in model_files(models[kind]):
        model = copy(models, kind, tmp_path / name.replace("/", "_"))
        DAMAGE[damage](model / name)
        with pytest.raises(ModelError) as caught:
            hmrec.load_model(model)
        assert Path(name).name in str(caught.value), (name, str(caught.value))


def resign(model: Path, name: str, edit: object) -> None:
    """Edit ``name`` in ``model`` and write its manifest again (a deliberate edit)."""
    path = model / name
    if callable(edit):
        edit(path)
    write_manifest(model)


def json_edit(change: dict[str, object], drop: str | None = None) -> object:
    def edit(path: Path) -> None:
        doc = json.loads(path.read_text())
        doc.update(change)
        if drop:
            doc.pop(drop)
        path.write_text(json.dumps(doc))

    return edit


def swap_two_features(path: Path) -> None:
    doc = json.loads(path.read_text())
    doc["features"][0], doc["features"][1] = doc["features"][1], doc["features"][0]
    path.write_text(json.dumps(doc))


def parquet_of_other_column(path: Path) -> None:
    import polars as pl

    pl.DataFrame({"id": ["x"]}).write_parquet(path)


EDITS = {
    "model.txt cut short": ("ranker", "ranker/model.txt", DAMAGE["half"], "model.txt"),
    "num_leaves 99999": (
        "ranker",
        "ranker/model.txt",
        lambda p: p.write_text(p.read_text().replace("num_leaves=", "num_leaves=9999", 1)),
        "model.txt",
    ),
    "empty model.txt": ("ranker", "ranker/model.txt", DAMAGE["empty"], "model.txt"),
    "two features swapped": ("ranker", "ranker/features.json", swap_two_features, "features.json"),
    "fewer features": (
        "ranker",
        "ranker/features.json",
        lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "features": ["a"]})),
        "features.json",
    ),
    "fill 5": ("ranker", "model.json", json_edit({"fill": 5}), "model.json"),
    "model xgboost": ("ranker", "model.json", json_edit({"model": "xgboost"}), "model.json"),
    "no model": ("ranker", "model.json", json_edit({}, drop="model"), "model.json"),
    "articles of another column": ("ranker", "articles.parquet", parquet_of_other_column, "articles.parquet"),
    "empty mf.pt": ("mf", "mf.pt", DAMAGE["empty"], "mf.pt"),
    "random mf.pt": ("mf", "mf.pt", DAMAGE["random"], "mf.pt"),
    "customers of another column": ("mf", "customers.parquet", parquet_of_other_column, "customers.parquet"),
    "settings not TOML": ("mf", "settings.toml", lambda p: p.write_text("model = [\n"), "settings.toml"),
    "a source taken out": (
        "ranker",
        "settings.toml",
        lambda p: p.write_text(re.sub(r'"repurchase",\s*', "", p.read_text())),
        "settings.toml",
    ),
}


NATIVE = ("model.txt cut short", "num_leaves 99999", "empty model.txt", "empty mf.pt", "random mf.pt")
"""The edits a native library would meet first (LightGBM's parser, torch's reader): run in a
real process, where an abort or a crash would show as a negative return code."""


@pytest.mark.parametrize("case", NATIVE)
def test_deliberate_edits_are_one_message_from_the_cli(
    models: dict[str, Path], shop: Path, tmp_path: Path, case: str
) -> None:
    """Edits with the manifest written again: the checks behind the manifest hold too."""
    kind, name, edit, named = EDITS[case]
    model = copy(models, kind, tmp_path)
    resign(model, name, edit)
    out = tmp_path / "out.csv"
    done = run(["recommend", "--model-dir", str(model), "--data", str(shop), "--out", str(out)])
    failed_cleanly(done, named)
    assert not out.exists()


@pytest.mark.parametrize("case", [c for c in EDITS if c not in NATIVE])
def test_deliberate_edits_are_one_model_error(models: dict[str, Path], tmp_path: Path, case: str) -> None:
    kind, name, edit, named = EDITS[case]
    model = copy(models, kind, tmp_path)
    resign(model, name, edit)
    with pytest.raises(ModelError, match=named.replace(".", r"\.")):
        hmrec.load_model(model)


def test_an_untouched_model_still_scores(models: dict[str, Path], shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    done = run(["recommend", "--model-dir", str(models["ranker"]), "--data", str(shop), "--out", str(out)])
    assert done.returncode == 0, done.stderr


damage = st.tuples(st.sampled_from(["cut", "insert", "flip"]), st.floats(0, 1), st.binary(min_size=1, max_size=16))


def damaged(raw: bytes, kind: str, where: float, payload: bytes) -> bytes:
    at = int(where * len(raw))
    if kind == "cut":
        return raw[:at]
    if kind == "insert":
        return raw[:at] + payload + raw[at:]
    return raw[:at] + bytes(b ^ 0xFF for b in raw[at : at + len(payload)]) + raw[at + len(payload) :]


@given(
    st.sampled_from(
        [
            ("ranker", "model.json"),
            ("ranker", "settings.toml"),
            ("ranker", "ranker/features.json"),
            ("ranker", "articles.parquet"),
            ("mf", "mf.pt"),
            ("mf", "customers.parquet"),
        ]
    ),
    damage,
    st.booleans(),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_damage_of_any_file_is_a_model_error_or_no_change(
    models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, file: tuple, change: tuple, signed: bool
) -> None:
    """Random cuts, insertions and flipped bytes in a file of the model, with the manifest as it
    was or written again: the model loads (the bytes meant the same) or one ModelError names the
    file; never another exception."""
    kind, name = file
    model = Path(shutil.copytree(models[kind], tmp_path_factory.mktemp("fuzz") / kind))
    path = model / name
    raw = path.read_bytes()
    path.write_bytes(damaged(raw, *change))
    if signed:
        write_manifest(model)
    try:
        hmrec.load_model(model)
    except ModelError as exc:
        assert Path(name).name in str(exc) or "manifest.json" in str(exc), str(exc)
    else:
        assert signed or path.read_bytes() == raw
