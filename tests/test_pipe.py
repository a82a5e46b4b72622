"""Output that survives a pipe: when stderr and stdout are not a terminal, messages are never
wrapped and tables never cut, whatever ``COLUMNS`` says, and progress comes as plain lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY = [sys.executable, "-m", "hmrec"]


def piped(args: list[str], columns: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "HMREC_FAULT", "HMREC_PREPARED")}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([*ENTRY, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("columns", [None, "40", "300"])
def test_messages_and_tables_are_whole_in_a_pipe(tiny_shop: Path, tmp_path: Path, columns: str | None) -> None:
    deep = tmp_path / ("a-long-folder-name-" * 4) / "shop"
    shop = Path(shutil.copytree(tiny_shop, deep))
    checked = piped(["check", "--data", str(shop)], columns)
    assert checked.returncode == 0, checked.stderr
    assert "transactions_train.csv" in checked.stdout and "sample_submission.csv" in checked.stdout  # not cut
    missing = tmp_path / "nothing"
    done = piped(
        ["recommend", "--model-dir", str(missing), "--data", str(shop), "--out", str(tmp_path / "s.csv")], columns
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and f"{missing}: not a saved hmrec model" in lines[0]  # one line, the path whole


def test_progress_comes_as_plain_lines_in_a_pipe(tiny_shop: Path, tmp_path: Path) -> None:
    shop = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    done = piped(["submit", "--data", str(shop), "--out", str(tmp_path / "s.csv")], "40")
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stderr.splitlines() if " … " in line]
    assert any(line.startswith("ranker: labelling week 3/5 (from ") and line.endswith(" s") for line in steps)
    assert len(steps) == len(set(steps))  # each step once, not redrawn
