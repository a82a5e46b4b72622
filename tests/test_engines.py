"""The engines: ``--engine ray`` writes the submission ``--engine local`` writes, byte for byte; a
worker that dies is retried; a shard that fails twice fails the command and writes nothing;
``prepare --shards`` partitions the log by customer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from hmrec.cli import app
from hmrec.data.dataset import Dataset
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.shards import shard_file, shard_folder, write_shards
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.engine import LocalEngine, make_engine
from hmrec.engine.base import OnPart, Work
from hmrec.engine.ray_engine import RayEngine
from hmrec.evaluation import evaluate_models
from hmrec.faults import ENV, MARKER_ENV
from hmrec.ranking.config import RankerConfig
from hmrec.recommenders.options import ModelOptions
from hmrec.retrieval import pipeline
from hmrec.schema import Col
from tests.conftest import WIDE

pytestmark = pytest.mark.xdist_group("ray")  # one Ray instance or cluster at a time (make test's processes)

CLI = [sys.executable, "-c", "from hmrec.cli import app; app()"]
SUBMIT = ["submit", "--train-weeks", "1"]


def run(args: list[str], **env_vars: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process (Ray starts and stops with it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV)} | {"COLUMNS": "400", **env_vars}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def shop(tiny_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny shop, prepared, with the local engine's submission in ``local.csv``."""
    folder = tmp_path_factory.mktemp("engines") / "shop"
    shutil.copytree(tiny_shop, folder)
    done = run([*SUBMIT, "--data", str(folder), "--out", str(folder / "local.csv")])
    assert done.returncode == 0, done.stderr
    return folder


def test_prepare_shards_partition_the_log(shop: Path) -> None:
    result = CliRunner(env=WIDE).invoke(app, ["prepare", "--data", str(shop), "--shards", "3"])
    assert result.exit_code == 0, result.output
    dataset = prepare_dataset(shop).dataset
    folder = shard_folder(dataset, 3)
    assert "shards-3" in result.output
    parts = [pl.read_parquet(shard_file(folder, s)) for s in range(3)]
    for shard, part in enumerate(parts):
        assert part.height > 0
        assert (part[Col.CUSTOMER] % 3 == shard).all()  # every row in its customer's shard
    whole = dataset.transactions().collect()
    assert pl.concat(parts).sort(pl.all()).equals(whole.sort(pl.all()))  # no row lost or doubled
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert write_shards(dataset, 3) == folder  # rewritten whole, in place
    assert sorted(p.name for p in folder.iterdir()) == sorted(before)
    assert RayEngine(dataset, workers=2).n_shards == 3  # the engine uses what prepare wrote
    (dataset.root / "shards-5").mkdir()  # incomplete: ignored
    assert RayEngine(dataset, workers=2).n_shards == 3
    shutil.rmtree(folder)
    assert RayEngine(dataset, workers=2).n_shards == 8  # none written: 4 per worker


def test_ray_writes_the_local_submission_byte_for_byte(shop: Path) -> None:
    out = shop / "ray.csv"
    done = run([*SUBMIT, "--data", str(shop), "--out", str(out), "--engine", "ray", "--workers", "2"])
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (shop / "local.csv").read_bytes()
    assert not list((shop / "prepared").glob(".parts-*"))  # the parts are removed


def test_recommend_on_ray_writes_the_local_submission(shop: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(shop / "artifacts" / "submit" / "model", model)  # what the local submit saved
    out = tmp_path / "recommend.csv"
    done = run(["recommend", "--model-dir", str(model), "--data", str(shop), "--out", str(out), "--engine", "ray"])
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (shop / "local.csv").read_bytes()


def test_a_worker_that_dies_is_retried(shop: Path, tmp_path: Path) -> None:
    out, marker = shop / "retried.csv", tmp_path / "died-once"
    args = [*SUBMIT, "--data", str(shop), "--out", str(out), "--engine", "ray"]
    done = run(args, **{ENV: "ray-shard:once", MARKER_ENV: str(marker)})
    assert done.returncode == 0, done.stderr
    assert marker.exists()  # a worker was killed ...
    assert out.read_bytes() == (shop / "local.csv").read_bytes()  # ... and its shard redone


def test_a_shard_that_fails_twice_fails_the_command_and_writes_nothing(shop: Path, tmp_path: Path) -> None:
    out, artifacts = tmp_path / "never.csv", tmp_path / "artifacts"
    args = [*SUBMIT, "--data", str(shop), "--out", str(out), "--artifacts", str(artifacts), "--engine", "ray"]
    done = run(args, **{ENV: "ray-shard"})
    assert done.returncode == 1
    assert "failed 2 time(s)" in done.stderr and "nothing was written" in done.stderr
    assert not out.exists() and not artifacts.exists()
    assert not list((shop / "prepared").glob(".parts-*"))


def test_ray_engine_without_ray_says_how_to_install(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    out = shop / "no-ray.csv"
    result = CliRunner(env=WIDE).invoke(app, ["submit", "--data", str(shop), "--out", str(out), "--engine", "ray"])
    assert result.exit_code == 1
    assert "pip install 'hmrec[ray]'" in result.output
    assert not out.exists()


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_sources_on_an_engine_give_the_one_pass_candidates(shop: Path, engine: str) -> None:
    dataset = prepare_dataset(shop).dataset
    split = Split.at(dataset.transactions())
    buyers = split.truth.collect()[Col.CUSTOMER].unique().sort()
    data = WeekInput.of(dataset, split, buyers)
    names = list(pipeline.SOURCES)
    whole = pipeline.run_sources(data, names, 20)
    with make_engine(engine, dataset, workers=2) as runner:
        runs = pipeline.run_sources_on(runner, data, names, 20)
    assert [r.name for r in runs] == [r.name for r in whole]
    for mine, one in zip(runs, whole, strict=True):
        assert mine.seconds > 0
        assert_frame_equal(mine.candidates, one.candidates.sort(Col.CUSTOMER, Col.RANK), check_row_order=False)


def three_nodes() -> object:
    """Three Ray nodes on this machine, each with its own raylet (as on three machines): a head
    with no CPU, so that no task runs where the driver joins, and two workers of one CPU each."""
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    workers = [nodes.add_node(num_cpus=1) for _ in range(2)]
    nodes.wait_for_nodes()
    return nodes, workers


@pytest.fixture(scope="module")
def cluster() -> object:
    nodes, _ = three_nodes()
    yield nodes
    nodes.shutdown()


def test_a_three_node_cluster_writes_the_local_submission(shop: Path, cluster: object, tmp_path: Path) -> None:
    out = tmp_path / "cluster.csv"
    args = [*SUBMIT, "--data", str(shop), "--out", str(out), "--engine", "ray", "--address", cluster.address]
    done = run(args)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (shop / "local.csv").read_bytes()  # every task ran on the two workers
    assert cluster.remaining_processes_alive()  # joined, not started or stopped by the command


def test_without_an_address_the_engine_starts_its_own_instance_beside_a_running_cluster(
    tiny_dataset: Dataset, cluster: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare ``ray.init()`` joins the cluster ``RAY_ADDRESS`` names or the last one started on
    this machine (and then refuses the workers asked for): ``--engine ray`` without ``--address``
    starts its own instance of ``workers`` CPUs instead, and leaves that cluster running."""
    import ray

    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    with RayEngine(tiny_dataset, workers=3):
        assert len(ray.nodes()) == 1  # one node of its own, not the cluster's three
        assert ray.cluster_resources()["CPU"] == 3
    assert not ray.is_initialized()
    assert cluster.remaining_processes_alive()


def test_a_node_removed_mid_run_is_survived_or_fails_cleanly(shop: Path, tmp_path: Path) -> None:
    nodes, workers = three_nodes()
    try:
        out, artifacts = tmp_path / "node-lost.csv", tmp_path / "artifacts"
        args = [*SUBMIT, "--data", str(shop), "--out", str(out), "--artifacts", str(artifacts)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV)} | {"COLUMNS": "400"}
        command = [*CLI, *args, "--engine", "ray", "--address", nodes.address]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 300
        while not list((shop / "prepared").glob(".parts-*")) and process.poll() is None:
            assert time.monotonic() < deadline, "the run never handed out its shards"
            time.sleep(0.05)
        nodes.remove_node(workers[0])  # a machine lost while its tasks run
        _, stderr = process.communicate(timeout=300)
        if process.returncode == 0:  # its tasks were redone on the other node
            assert out.read_bytes() == (shop / "local.csv").read_bytes()
        else:
            assert process.returncode == 1 and "nothing was written" in stderr, stderr
            assert not out.exists() and not artifacts.exists()
    finally:
        nodes.shutdown()


@dataclass
class Recording(LocalEngine):
    """The local engine, noting each piece of work it is given: its kind and the week's cutoff."""

    name: str = "recording"
    given: list[tuple[str, date]] = field(default_factory=list)

    def map(
        self, week: WeekInput, customers: pl.Series, work: Work, on_part: OnPart | None = None
    ) -> list[pl.DataFrame]:
        self.given.append((type(work).__name__, week.cutoff))
        return super().map(week, customers, work, on_part)


def test_tuning_and_the_recall_curve_run_on_the_engine(tiny_dataset: Dataset) -> None:
    """``--tune``'s trials label their weeks on the engine the fit was given, and the report's
    candidate recall runs its sources there too: nothing per customer bypasses the engine."""
    split = Split.at(tiny_dataset.transactions())
    engine = Recording()
    ranker = RankerConfig(train_weeks=1, min_data_in_leaf=5)
    options = ModelOptions(ranker=ranker, engine=engine, tune_budget=1e-3)  # the defaults' trial alone
    evaluate_models(tiny_dataset, ["ranker"], split, options, curve_sizes=(5, 10))
    labelled = [cutoff for kind, cutoff in engine.given if kind == "LabelWork"]
    # the fit labels the 2 weeks before its cutoff; the tuning's fits, one and two weeks earlier, more
    assert min(labelled) < split.cutoff - timedelta(days=7 * (ranker.train_weeks + 1))
    assert ("SourcesWork", split.cutoff) in engine.given
