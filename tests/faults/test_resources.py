"""Resource failures as messages (issue point 8): a full disk, wherever it strikes, is one line
naming the file or the stage and what to do; nothing is published before all of it is written,
and no lock file or temporary file stays on the full disk.

The full disk is a real one: a small tmpfs mounted for the test (skipped where mounting is not
allowed)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.test_crashes import leftovers, run
from tests.faults.test_messages import failed_cleanly


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip()[:80]})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill ``disk`` until at most ``leave`` bytes are free."""
    free = shutil.disk_usage(disk).free - leave
    with open(disk / "ballast", "wb") as handle:
        try:
            while free > 0:
                handle.write(b"\0" * min(free, 4096))
                handle.flush()
                free -= 4096
        except OSError:
            pass


@pytest.fixture
def shop(tiny_shop: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_shop, tmp_path / "shop"))


def test_an_output_on_a_full_disk_is_one_line_and_leaves_no_lock(shop: Path, small_disk: Path, tmp_path: Path) -> None:
    fill(small_disk)
    done = run(["submit", "--data", str(shop), "--model", "popular", "--out", str(small_disk / "s.csv")])
    failed_cleanly(done, str(small_disk), "No space left on device", "free some space")
    assert sum(line.startswith("error:") for line in done.stderr.splitlines()) == 1  # one message
    assert sorted(p.name for p in small_disk.iterdir()) == ["ballast"]


def test_artifacts_on_a_full_disk_publish_nothing_and_write_no_output(
    shop: Path, small_disk: Path, tmp_path: Path
) -> None:
    fill(small_disk, leave=40_000)  # room for the lock and a few small files, not for all the artifacts
    out = tmp_path / "s.csv"
    done = run(["submit", "--data", str(shop), "--out", str(out), "--artifacts", str(small_disk / "art")])
    failed_cleanly(done, "No space left on device")
    assert not out.exists()  # the submission is written last, after everything it comes with
    assert sorted(p.name for p in small_disk.iterdir()) == ["ballast"] and not leftovers(small_disk)


def test_prepared_data_on_a_full_disk_does_not_blame_the_input(shop: Path, small_disk: Path) -> None:
    fill(small_disk, leave=20_000)
    done = run(["prepare", "--data", str(shop)], prepared=small_disk / "prepared")
    failed_cleanly(done, "No space left on device")
    assert "cannot be read" not in done.stderr and not leftovers(small_disk)
