"""Damaged inputs and outputs: a prepared folder that lost a file is rebuilt, not half used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hmrec.data import ingest
from tests.faults.test_crashes import run, tree


@pytest.fixture
def prepared_shop(tiny_shop: Path, tmp_path: Path) -> Path:
    shop = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    ingest.prepare(shop)
    return shop


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_a_damaged_prepared_folder_is_rebuilt_before_use(prepared_shop: Path, damage: str) -> None:
    whole = tree(prepared_shop / "prepared")
    victim = prepared_shop / "prepared" / "customers.parquet"
    if damage == "delete":
        victim.unlink()
    else:
        victim.write_bytes(victim.read_bytes()[:100])
    assert not ingest.is_fresh(prepared_shop, prepared_shop / "prepared")
    done = run(["evaluate", "--data", str(prepared_shop), "--model", "popular"])
    assert done.returncode == 0, done.stderr
    assert tree(prepared_shop / "prepared") == whole  # rebuilt to the same bytes
    assert {p.name for p in (prepared_shop / "artifacts" / "evaluate").iterdir()} >= {
        "recommendations.parquet",
        "history.parquet",
        "articles.parquet",
        "meta.json",
    }


def test_a_damaged_manifest_is_rebuilt(prepared_shop: Path) -> None:
    (prepared_shop / "prepared" / "manifest.json").write_text("{not json")
    assert not ingest.is_fresh(prepared_shop, prepared_shop / "prepared")
    assert ingest.load(prepared_shop).rebuilt
