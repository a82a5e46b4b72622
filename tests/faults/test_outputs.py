"""Outputs that cannot harm inputs (issue points 1-4): an output folder is never an input or a
folder of the user's, an output file is never an input, paths are literal, and links, FIFOs
and devices are written by opening them, never renamed over."""

from __future__ import annotations

import os
import shutil
import stat
import threading
from pathlib import Path

import polars as pl
import pytest

from hmrec.data.atomic import write_atomic
from hmrec.data.outputs import OWNER_FILE
from tests.faults.test_crashes import run, tree
from tests.faults.test_messages import failed_cleanly


@pytest.fixture
def shop(tiny_shop: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_shop, tmp_path / "shop"))


def raw_files(folder: Path) -> dict[str, bytes]:
    """The Kaggle files of ``folder`` with their bytes (what the user gave us)."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def customers_of(path: Path) -> int:
    return pl.read_csv(path, glob=False).height


# 1. an output folder replaces whatever is there


def test_fit_into_the_data_folder_is_refused(shop: Path) -> None:
    before = raw_files(shop)
    failed_cleanly(run(["fit", "--data", str(shop), "--model", "popular", "--out", str(shop)]), "an input of this run")
    assert raw_files(shop) == before and not (shop / "prepared").exists()  # refused before any work


def test_artifacts_in_the_data_folder_are_refused(shop: Path, tmp_path: Path) -> None:
    before = raw_files(shop)
    args = ["submit", "--data", str(shop), "--model", "popular", "--out", str(tmp_path / "s.csv")]
    failed_cleanly(run([*args, "--artifacts", str(shop)]), "--artifacts is", "an input of this run")
    assert raw_files(shop) == before and not (tmp_path / "s.csv").exists()


def test_a_folder_holding_the_data_folder_is_refused(shop: Path, tmp_path: Path) -> None:
    parent = tmp_path / "p"
    parent.mkdir()
    data = Path(shutil.move(shop, parent / "shop"))
    (parent / "other_project_file.txt").write_text("mine")
    before = tree(parent)
    failed_cleanly(run(["fit", "--data", str(data), "--model", "popular", "--out", str(parent)]), "contains")
    assert tree(parent) == before


def test_a_folder_of_the_users_own_files_is_refused_and_an_hmrec_folder_is_replaced(shop: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    failed_cleanly(run(["fit", "--data", str(shop), "--model", "popular", "--out", str(mine)]), "hmrec did not write")
    assert (mine / "notes.txt").read_text() == "keep me" and not (mine / OWNER_FILE).exists()
    model = tmp_path / "model"
    for _ in range(2):  # a new folder, then the folder hmrec wrote: replaced
        done = run(["fit", "--data", str(shop), "--model", "popular", "--out", str(model)])
        assert done.returncode == 0, done.stderr
    assert (model / OWNER_FILE).is_file() and (model / "model.json").is_file()


def test_a_generated_shop_is_not_written_over_a_users_folder(tmp_path: Path) -> None:
    mine = tmp_path / "real"
    mine.mkdir()
    (mine / "transactions_train.csv").write_text("t_dat,customer_id\n")
    failed_cleanly(run(["generate", "--scale", "tiny", "--out", str(mine), "--no-stats"]), "hmrec did not write")
    assert (mine / "transactions_train.csv").read_text() == "t_dat,customer_id\n"


def test_the_prepared_folder_may_not_be_the_data_folder(shop: Path) -> None:
    before = raw_files(shop)
    failed_cleanly(run(["prepare", "--data", str(shop)], prepared=shop), "an input of this run")
    assert raw_files(shop) == before


# 2. an output file may not be an input


@pytest.mark.parametrize("name", ["transactions_train.csv", "articles.csv", "transactions_train.parquet"])
def test_submit_never_writes_an_input_file(shop: Path, tmp_path: Path, name: str) -> None:
    before = raw_files(shop)
    done = run(["submit", "--data", str(shop), "--model", "popular", "--out", str(shop / name)])
    failed_cleanly(done, "an input of this run")
    assert raw_files(shop) == before and not (shop / "transactions_train.parquet").exists()


def test_recommend_never_writes_an_input_or_its_model(shop: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    assert run(["fit", "--data", str(shop), "--model", "popular", "--out", str(model)]).returncode == 0
    before, saved = raw_files(shop), tree(model)
    link = tmp_path / "link.csv"
    link.symlink_to(shop / "articles.csv")
    for output in (shop / "articles.csv", link, model / "model.json"):
        done = run(["recommend", "--model-dir", str(model), "--data", str(shop), "--out", str(output)])
        failed_cleanly(done, str(output))
    assert raw_files(shop) == before and tree(model) == saved and link.is_symlink()


def test_an_output_inside_the_artifacts_it_replaces_is_refused(shop: Path, tmp_path: Path) -> None:
    art = tmp_path / "art"
    done = run(
        ["submit", "--data", str(shop), "--model", "popular", "--artifacts", str(art), "--out", str(art / "s.csv")]
    )
    failed_cleanly(done, "lies inside")
    assert not art.exists()


# 3. paths are paths, not patterns


@pytest.mark.parametrize("name", ["shop?", "shop*"])
def test_a_folder_name_that_looks_like_a_pattern_reads_only_itself(tiny_shop: Path, tmp_path: Path, name: str) -> None:
    g = tmp_path / "g"
    shutil.copytree(tiny_shop, g / name)
    shutil.copytree(tiny_shop, g / "shopX")  # what the pattern would also match
    out = tmp_path / "s.csv"
    done = run(["submit", "--data", str(g / name), "--model", "popular", "--out", str(out)])
    assert done.returncode == 0, done.stderr
    assert customers_of(out) == customers_of(tiny_shop / "sample_submission.csv")
    check = run(["check", "--data", str(g / name)])
    rows = pl.read_csv(tiny_shop / "transactions_train.csv").height
    assert check.returncode == 0 and f"{rows:,}" in check.stdout and f"{2 * rows:,}" not in check.stdout


def test_brackets_dollars_and_spaces_in_folder_names(tiny_shop: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(tiny_shop, tmp_path / "shop [1] $x é"))
    model, art = tmp_path / "p" / "m[1]", tmp_path / "p" / "out[1]" / "art"
    out = tmp_path / "sub [1].csv"
    fitted = run(["fit", "--data", str(data), "--model", "popular", "--out", str(model)])
    assert fitted.returncode == 0, fitted.stderr
    done = run(["recommend", "--model-dir", str(model), "--data", str(data), "--out", str(out)])
    assert done.returncode == 0, done.stderr
    assert customers_of(out) == customers_of(tiny_shop / "sample_submission.csv")
    sub = run(["submit", "--data", str(data), "--model", "popular", "--artifacts", str(art), "--out", str(out)])
    assert sub.returncode == 0, sub.stderr
    from hmrec.api import serve_app

    serve_app(art)  # loads the artifacts of a folder named like a pattern


# 4. outputs are opened, not renamed over


def test_a_fifo_output_is_written_into(shop: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    done = run(["submit", "--data", str(shop), "--model", "popular", "--out", str(fifo)])
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    lines = got[0].decode().splitlines()
    assert lines[0] == "customer_id,prediction" and len(lines) == customers_of(shop / "sample_submission.csv") + 1
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO, not a file put in its place


def test_a_symlink_output_writes_its_target(shop: Path, tmp_path: Path) -> None:
    target, link = tmp_path / "target.csv", tmp_path / "link.csv"
    target.write_text("old\n")
    link.symlink_to(target)
    done = run(["submit", "--data", str(shop), "--model", "popular", "--out", str(link)])
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and target.read_text().startswith("customer_id,prediction\n")


def test_write_atomic_on_a_fifo_writes_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()  # waits for a writer to open the FIFO

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_atomic(fifo, fail)
    try:  # release the reader if nothing opened the FIFO (the right outcome)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # the reader had already got a writer, and is gone
    reader.join(timeout=10)
    assert got == [b""] and stat.S_ISFIFO(os.stat(fifo).st_mode)  # "half" never reached the reader


# the same guarantees from Python


def test_the_python_api_never_writes_an_input_or_replaces_a_shop(tmp_path: Path) -> None:
    import hmrec
    from hmrec.data.outputs import UnsafeOutput

    shop = tmp_path / "gen"
    assert run(["generate", "--scale", "tiny", "--out", str(shop), "--no-stats"]).returncode == 0
    before = raw_files(shop)
    data = hmrec.load(shop)
    model = hmrec.fit(data, hmrec.Settings(model="popular"))
    for target in (shop / "customers.csv", shop / "transactions_train.parquet", data.root / "x.csv"):
        with pytest.raises(UnsafeOutput):
            model.write_submission(data, target)
        with pytest.raises(UnsafeOutput):
            model.write_submission(data, target, customers=pl.Series(["0" * 64]))
    with pytest.raises(UnsafeOutput):
        model.save(shop)  # a generated shop is hmrec's, but an input: never replaced by a folder publish
    assert raw_files(shop) == before
    assert (
        run(["generate", "--scale", "tiny", "--out", str(shop), "--no-stats"]).returncode == 0
    )  # regenerated in place


def test_every_polars_read_in_the_package_takes_its_path_literally() -> None:
    """An AST check: each ``pl.read_*``/``pl.scan_*`` call of a file in ``src/hmrec`` passes
    ``glob=False`` (a new read without it would read ``shop?`` as a pattern again)."""
    import ast

    import hmrec

    package = Path(hmrec.__file__).parent
    reads = missing = 0
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            func = getattr(node, "func", None)
            if (
                isinstance(node, ast.Call)
                and isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "pl"
                and func.attr in ("read_csv", "scan_csv", "read_parquet", "scan_parquet", "scan_ipc")
            ):
                reads += 1
                literal = any(k.arg == "glob" and getattr(k.value, "value", True) is False for k in node.keywords)
                missing += not literal
                assert literal, f"{path.relative_to(package)}:{node.lineno} reads without glob=False"
    assert reads >= 10 and missing == 0
