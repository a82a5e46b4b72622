"""Runs killed at controlled points, and runs started against each other: the previous result
stays whole, nothing temporary stays behind, and a rerun gives the bytes of an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hmrec.data import ingest
from hmrec.data.atomic import locked
from hmrec.faults import ENV

CLI = [sys.executable, "-c", "from hmrec.cli import app; app()"]


def run(args: list[str], fault: str | None = None, prepared: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess; ``fault`` kills it at that point, ``prepared`` moves the prepared data."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "HMREC_PREPARED")}
    env["COLUMNS"] = "400"  # one message on one line, whatever the terminal
    if fault:
        env[ENV] = fault
    if prepared:
        env["HMREC_PREPARED"] = str(prepared)
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary, set-aside or lock entries anywhere under ``folder``."""
    return sorted(str(p) for p in folder.rglob(".*") if any(m in p.name for m in (".tmp-", ".old-", ".lock")))


@pytest.fixture
def shop(tiny_shop: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_shop, tmp_path / "shop"))


def changed_input(shop: Path) -> None:
    """Drop the last transaction line: the prepared folder is stale and must be rebuilt."""
    path = shop / "transactions_train.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))


@pytest.mark.parametrize("point", ["prepare:written", "publish:between-renames"])
def test_prepare_killed_keeps_the_old_folder_and_a_rerun_matches(shop: Path, tmp_path: Path, point: str) -> None:
    assert run(["prepare", "--data", str(shop)]).returncode == 0
    before = tree(shop / "prepared")
    changed_input(shop)
    killed = run(["prepare", "--data", str(shop)], fault=point)
    assert killed.returncode == -9  # SIGKILL: no cleanup ran
    assert leftovers(shop)  # the crash left its temporary or set-aside folder
    # the next run (of anything) takes the lock, finds the leftovers and restores the old folder
    with locked(shop / "prepared"):
        pass
    assert tree(shop / "prepared") == before and not leftovers(shop)
    again = run(["prepare", "--data", str(shop)])
    assert again.returncode == 0, again.stderr
    clean = Path(shutil.copytree(shop, tmp_path / "clean", ignore=shutil.ignore_patterns("prepared")))
    assert run(["prepare", "--data", str(clean)]).returncode == 0
    assert tree(shop / "prepared") == tree(clean / "prepared") and not leftovers(shop)


def test_a_rerun_after_a_kill_cleans_up_by_itself(shop: Path) -> None:
    assert run(["prepare", "--data", str(shop)]).returncode == 0
    changed_input(shop)
    assert run(["prepare", "--data", str(shop)], fault="publish:between-renames").returncode == -9
    assert not (shop / "prepared").exists()  # killed between moving the old folder aside and the new in
    done = run(["evaluate", "--data", str(shop), "--model", "popular"])
    assert done.returncode == 0, done.stderr
    assert (shop / "prepared").is_dir() and not leftovers(shop)


def test_a_second_submit_on_a_held_folder_stops_and_writes_nothing(shop: Path, tmp_path: Path) -> None:
    assert run(["prepare", "--data", str(shop)]).returncode == 0
    output = tmp_path / "sub.csv"
    with locked(shop / "artifacts" / "submit"):  # another run is writing the artifacts
        second = run(["submit", "--data", str(shop), "--model", "popular", "--out", str(output)])
    assert second.returncode == 1
    assert "another hmrec run" in second.stderr + second.stdout and "Traceback" not in second.stderr
    assert not output.exists() and not (shop / "artifacts" / "submit").exists()
    with locked(output):  # ... or the same output file
        third = run(["submit", "--data", str(shop), "--model", "popular", "--out", str(output)])
    assert third.returncode == 1 and not output.exists()


def test_two_submits_at_once_never_report_what_they_did_not_write(shop: Path, tmp_path: Path) -> None:
    assert run(["prepare", "--data", str(shop)]).returncode == 0
    output = tmp_path / "sub.csv"
    procs = {
        model: subprocess.Popen(
            [*CLI, "submit", "--data", str(shop), "--model", model, "--out", str(output)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for model in ("repurchase", "popular")
    }
    codes = {model: p.wait(timeout=300) for model, p in procs.items()}
    assert sorted(codes.values()) in ([0, 0], [0, 1])
    assert not leftovers(shop) and not leftovers(tmp_path)
    named = json.loads((shop / "artifacts" / "submit" / "meta.json").read_text())["model"]
    if sorted(codes.values()) == [0, 1]:  # they overlapped: the one that wrote is the one that said so
        assert named == next(m for m, c in codes.items() if c == 0)
    # however they ran, the submission left is the one of the model the artifacts name (the two
    # models' submissions differ on this shop)
    alone = {}
    for model in ("repurchase", "popular"):
        alone[model] = tmp_path / f"{model}.csv"
        args = ["submit", "--data", str(shop), "--model", model, "--out", str(alone[model])]
        done = run([*args, "--artifacts", str(tmp_path / f"artifacts-{model}")])
        assert done.returncode == 0, done.stderr
    assert alone["repurchase"].read_bytes() != alone["popular"].read_bytes()
    assert output.read_bytes() == alone[named].read_bytes()


def test_lock_is_exclusive_and_released_by_a_dead_process(tmp_path: Path) -> None:
    target = tmp_path / "folder"
    take = (
        "import pathlib\nfrom hmrec.data.atomic import Busy, locked\n"
        f"try:\n    with locked(pathlib.Path({str(target)!r})): print('held')\n"
        "except Busy as exc:\n    print(exc)"
    )
    with locked(target):  # a second holder in another process is refused at once, by name
        child = subprocess.run([sys.executable, "-c", take], capture_output=True, text=True)
    assert child.returncode == 0 and "another hmrec run" in child.stdout and str(target) in child.stdout
    die = (
        "import os, signal, pathlib\nfrom hmrec.data.atomic import locked\n"
        f"with locked(pathlib.Path({str(target)!r})): os.kill(os.getpid(), signal.SIGKILL)"
    )
    assert subprocess.run([sys.executable, "-c", die]).returncode == -9
    after = subprocess.run([sys.executable, "-c", take], capture_output=True, text=True)
    assert after.stdout.strip() == "held"  # the kernel released the dead holder's lock
    assert not leftovers(tmp_path)


def test_two_prepares_of_the_same_input_give_the_same_bytes(shop: Path, tmp_path: Path) -> None:
    ingest.prepare(shop, tmp_path / "a")
    ingest.prepare(shop, tmp_path / "b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_serve_refuses_artifacts_of_two_runs(shop: Path, tmp_path: Path) -> None:
    """Files of two runs in one folder (before the staging folder, a run killed between files
    left that; a hand copy still can): serve must refuse them, not serve ranker scores as
    'popular'."""
    from hmrec.serve.app import create_app

    output = tmp_path / "sub.csv"
    for model, folder in (("popular", "a"), ("repurchase", "b")):
        done = run(
            [
                "submit",
                "--data",
                str(shop),
                "--model",
                model,
                "--out",
                str(output),
                "--artifacts",
                str(tmp_path / folder),
            ]
        )
        assert done.returncode == 0, done.stderr
    create_app(tmp_path / "a")  # whole: accepted
    shutil.copy(tmp_path / "b" / "recommendations.parquet", tmp_path / "a" / "recommendations.parquet")
    with pytest.raises(ValueError, match="does not belong to the run"):
        create_app(tmp_path / "a")


@pytest.mark.parametrize("point", ["submit:output-written", "artifacts:before-meta", "publish:written"])
def test_submit_killed_leaves_the_previous_artifacts_whole(shop: Path, tmp_path: Path, point: str) -> None:
    from hmrec.serve.app import create_app

    output = tmp_path / "sub.csv"
    args = ["submit", "--data", str(shop), "--out", str(output), "--train-weeks", "1"]
    assert run([*args, "--model", "popular"]).returncode == 0
    folder = shop / "artifacts" / "submit"
    before = tree(folder)
    killed = run([*args, "--model", "ranker"], fault=point)
    assert killed.returncode == -9
    pd_out = output.read_text()
    assert pd_out.startswith("customer_id,prediction\n") and pd_out.endswith("\n")  # whole, whichever run wrote it
    assert tree(folder) == before  # the popular run's set, model folder and all: untouched
    assert json.loads((folder / "meta.json").read_text())["model"] == "popular" and create_app(folder) is not None
    again = run([*args, "--model", "ranker"])
    assert again.returncode == 0, again.stderr
    clean = Path(shutil.copytree(shop, tmp_path / "clean", ignore=shutil.ignore_patterns("artifacts", "prepared")))
    fresh = run(
        [
            "submit",
            "--data",
            str(clean),
            "--out",
            str(tmp_path / "fresh.csv"),
            "--train-weeks",
            "1",
            "--model",
            "ranker",
        ]
    )
    assert fresh.returncode == 0, fresh.stderr
    assert output.read_bytes() == (tmp_path / "fresh.csv").read_bytes()
    assert not leftovers(shop) and not leftovers(tmp_path)
