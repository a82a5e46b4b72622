"""SIGTERM and Ctrl-C (issue point 10): a terminated run cleans up after itself, unlike a killed
one; Ctrl-C while the command is still starting is one line, never a traceback; a capped
address space is warned about before the work (polars aborts without a message when it runs
out)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hmrec.faults import ENV
from tests.faults.test_crashes import leftovers

ENTRY = [sys.executable, "-m", "hmrec"]  # the installed command's entry point (hmrec.entry:main)


def env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in (ENV, "HMREC_PREPARED")}, **extra}


@pytest.fixture
def shop(tiny_shop: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_shop, tmp_path / "shop"))


def test_sigterm_removes_the_staging_folder_and_the_locks(shop: Path, tmp_path: Path) -> None:
    art = tmp_path / "art"
    args = ["submit", "--data", str(shop), "--model", "popular", "--out", str(tmp_path / "s.csv")]
    done = subprocess.run(
        [*ENTRY, *args, "--artifacts", str(art)],
        capture_output=True,
        text=True,
        env=env(**{ENV: "publish:written:term"}),
        timeout=300,
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "Traceback" not in done.stderr
    assert not art.exists() and not leftovers(tmp_path)  # SIGKILL would leave .art.tmp-* and .art.lock


@pytest.mark.parametrize("delay", [0.15, 0.25])  # after Python itself has started
def test_ctrl_c_while_starting_is_one_line(shop: Path, delay: float) -> None:
    process = subprocess.Popen(
        [*ENTRY, "check", "--data", str(shop)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(delay)  # importing the CLI's libraries takes about 0.3 s
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert process.returncode in (130, 1), stderr  # 130 while starting; 1 ("Aborted!") if it had started


def test_a_capped_address_space_is_warned_about(shop: Path) -> None:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (64 << 30, resource.RLIM_INFINITY))

    done = subprocess.run(
        [*ENTRY, "check", "--data", str(shop)], capture_output=True, text=True, env=env(), preexec_fn=cap, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "limited to 64.0 GiB" in done.stderr and "memory allocation failed" in done.stderr
