"""Failures a user can cause: one message naming the file, exit code 1, never a traceback."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from hmrec.data import ingest
from hmrec.data.validate import DataError
from tests.conftest import WIDE, write_kaggle
from tests.faults.test_crashes import leftovers, run

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def failed_cleanly(done: object, *fragments: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)  # type: ignore[attr-defined]
    text = done.stdout + done.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text


@pytest.fixture
def shop(tiny_shop: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_shop, tmp_path / "shop"))


def test_output_that_is_a_folder(shop: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    failed_cleanly(run(["submit", "--data", str(shop), "--model", "popular", "--out", str(folder)]), "is a folder")
    assert list(folder.iterdir()) == [] and not (shop / "prepared").exists()  # stopped before any work


@contextmanager
def read_only(folder: Path, contents: Path | None = None) -> Iterator[Path]:
    """``folder`` (holding a copy of ``contents``) made unwritable for this user: by its mode for
    a user, by a read-only tmpfs for root, whom no mode stops (skipped where mounting is not
    allowed)."""
    if not ROOT:
        if contents is not None:
            shutil.copytree(contents, folder)
        else:
            folder.mkdir()
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield folder
        finally:
            folder.chmod(stat.S_IRWXU)
        return
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("root, and no read-only tmpfs can be mounted here")
    try:
        if contents is not None:
            shutil.copytree(contents, folder, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_output_in_a_read_only_folder(shop: Path, tmp_path: Path) -> None:
    with read_only(tmp_path / "ro") as locked:
        done = run(["submit", "--data", str(shop), "--model", "popular", "--out", str(locked / "sub.csv")])
        failed_cleanly(done, "not writable")
        assert not (shop / "prepared").exists()  # refused before any work


def test_a_read_only_data_folder(shop: Path, tmp_path: Path) -> None:
    with read_only(tmp_path / "ro-shop", contents=shop) as data:
        failed_cleanly(run(["evaluate", "--data", str(data), "--model", "popular"]), str(data), "not writable")
        # with the prepared data and the artifacts elsewhere, the same folder works
        env_run = run(
            ["evaluate", "--data", str(data), "--model", "popular", "--artifacts", str(tmp_path / "art")],
            prepared=tmp_path / "prepared",
        )
        assert env_run.returncode == 0, env_run.stderr
        assert (tmp_path / "prepared" / "transactions.parquet").is_file()


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(13, "Permission denied", "/data/shop/.prepared.lock"),
        IsADirectoryError(21, "Is a directory", "/data/out.csv"),
        OSError(28, "No space left on device", "/data/shop/prepared/transactions.parquet"),
    ],
    ids=["permission", "folder", "disk full"],
)
def test_system_errors_become_one_message(shop: Path, monkeypatch: pytest.MonkeyPatch, error: OSError) -> None:
    """What the system refuses (also as root, where a read-only folder cannot be made) is one
    line naming the file, exit code 1."""
    from typer.testing import CliRunner

    from hmrec.cli import app

    def refuse(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(ingest, "load", refuse)
    result = CliRunner(env=WIDE).invoke(app, ["evaluate", "--data", str(shop)], terminal_width=400)
    assert result.exit_code == 1
    assert error.filename in result.output and error.strerror in result.output
    assert "Traceback" not in result.output


def test_the_prepared_folder_can_live_elsewhere(shop: Path, tmp_path: Path) -> None:
    done = run(["prepare", "--data", str(shop)], prepared=tmp_path / "elsewhere")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "elsewhere" / "manifest.json").is_file() and not (shop / "prepared").exists()


def test_a_parquet_column_of_lists_names_the_file(tmp_path: Path) -> None:
    folder = write_kaggle(tmp_path / "in", [("2020-09-01", 1, 1, 0.05, 2), ("2020-09-02", 2, 2, 0.1, 1)])
    customers = pl.read_csv(folder / "customers.csv", infer_schema=False)
    customers.with_columns(pl.col("age").map_elements(lambda a: [a], return_dtype=pl.List(pl.String))).write_parquet(
        folder / "customers.parquet"
    )
    (folder / "customers.csv").unlink()
    with pytest.raises(DataError, match="customers.parquet"):
        ingest.prepare(folder)
    assert not (folder / "prepared").exists() and not leftovers(folder)
