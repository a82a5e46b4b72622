"""The ``ray`` engine: shards of customers as Ray tasks, each reading only its shard's rows,
the week's global state put once in Ray's object store; a killed run's part folders swept by
the next."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from hmrec import faults
from hmrec.data.dataset import Dataset
from hmrec.data.partial import Partial
from hmrec.data.shards import has_shards, shard_rows, write_shards, written_shards
from hmrec.data.week import Shared, WeekInput
from hmrec.engine.base import RAY_INSTALL, EngineError, OnPart, Work


def _run_shard(
    spec: WeekInput, values: dict[Any, Any], rows: pl.LazyFrame, customers: pl.Series, work: Work, out: str
) -> str:
    """One Ray task: the work on one shard's customers, from that shard's rows and the week's
    global state; its frame written to ``out`` (complete or not at all)."""
    faults.point("ray-shard")
    _write(work(replace(spec, history=rows, shared=Shared(values)), customers, None), Path(out))
    return out


def _write(frame: pl.DataFrame, out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, out)


def _split_file(folder: Path, split: int, shard: int) -> Path:
    return folder / f"split-{split:05d}-shard-{shard:05d}.parquet"


def _part_shard(spec: WeekInput, partial: Partial, rows: pl.LazyFrame, folder: str, shard: int, splits: int) -> int:
    """One Ray task: the counts of one shard's rows (``Partial.part``), written in ``splits``
    files, one per split of the keys."""
    faults.point("ray-shard")
    for i, frame in enumerate(partial.split(partial.parts_of(spec.for_part(rows)), splits)):
        _write(frame, _split_file(Path(folder), i, shard))
    return shard


def _finish_split(spec: WeekInput, values: dict[Any, Any], partial: Partial, files: list[str]) -> pl.DataFrame:
    """One Ray task: one split of the keys, every shard's counts of it summed and finished."""
    faults.point("ray-shard")
    parts = [pl.read_parquet(f, glob=False) for f in files]
    return partial.finished(replace(spec, shared=Shared(values)), parts)


@dataclass
class RayEngine:
    """Shards of customers (``customer % shards``) as Ray tasks.

    Without ``address`` a local Ray instance of its own with ``workers`` processes starts on first
    use and stops with the engine (``with RayEngine(...)``), even where a cluster already runs on
    this machine or ``RAY_ADDRESS`` names one (Ray would join those); with it, the engine joins
    that cluster.
    Each shard reads its rows from ``prepared/shards-N`` (written on first use when missing).
    A task that fails is retried ``retries`` times; parts are parquet files in a temporary
    folder of the prepared dataset (shared storage on a cluster), removed at the end.
    """

    dataset: Dataset
    workers: int = 2
    address: str | None = None
    shards: int | None = None
    retries: int = 1
    threads: int = 1
    """Threads per task (polars, LightGBM): the CPUs each task asks Ray for."""
    name: str = "ray"
    started: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")
        if self.shards is not None and self.shards < 1:
            raise ValueError(f"the number of shards must be at least 1, got {self.shards}")

    @property
    def n_shards(self) -> int:
        """``shards``; else the most shards ``prepare --shards`` wrote; else 4 per worker."""
        return self.shards or (written_shards(self.dataset) or [4 * self.workers])[-1]

    def __enter__(self) -> RayEngine:
        ray = ray_module()
        if not ray.is_initialized():
            env = {"POLARS_MAX_THREADS": str(self.threads), "OMP_NUM_THREADS": str(self.threads)}
            env.update({k: v for k, v in os.environ.items() if k.startswith(faults.ENV)})
            options: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False}
            if self.address:
                try:
                    ray.init(address=self.address, **options)
                except (ConnectionError, RuntimeError) as error:
                    raise EngineError(
                        f"could not join the Ray cluster at {self.address}: {error}. Is `ray start --head` "
                        "running there, and does this machine have the cluster's token (docs/scale-out.md)?"
                    ) from error
            else:
                # "local": a new instance, not the cluster a bare ray.init() would find on this machine
                ray.init(address="local", num_cpus=self.workers, include_dashboard=False, **options)
            self.started = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            ray_module().shutdown()
            self.started = False

    def map(
        self, week: WeekInput, customers: pl.Series, work: Work, on_part: OnPart | None = None
    ) -> list[pl.DataFrame]:
        return list(self.each(week, customers, work, on_part))

    def each(
        self, week: WeekInput, customers: pl.Series, work: Work, on_part: OnPart | None = None
    ) -> Iterator[pl.DataFrame]:
        """Every shard's task run (``on_part`` told as each ends), then their parts read back one
        at a time, in shard order; the parts' folder goes when the last is read or the caller
        stops (``close``)."""
        ray = self._ray()
        n = self.n_shards
        task = ray.remote(_run_shard).options(num_cpus=self.threads, max_retries=self.retries, retry_exceptions=True)
        values, shared_work = ray.put(week.shared.portable()), ray.put(work)  # once, not once per task
        spec = replace(week, history=pl.LazyFrame(), shared=Shared(), states=None, engine=None)  # rows: its own
        sweep_parts(self.dataset.root)
        folder = Path(tempfile.mkdtemp(prefix=f"{PARTS}{os.getpid()}-", dir=self.dataset.root))
        try:
            refs = []
            for shard in range(n):
                mine = customers.filter(customers % n == shard)
                out = str(folder / f"part-{shard:05d}.parquet")
                refs.append(task.remote(spec, values, shard_rows(self.dataset, n, shard), mine, shared_work, out))
            del values, shared_work  # the store frees them once the tasks are done
            for path in self._wait(ray, refs, on_part):
                yield pl.read_parquet(path, glob=False)
                Path(path).unlink()  # read: its disk goes before the next
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def aggregate(self, week: WeekInput, partial: Partial) -> pl.DataFrame:
        """``partial``'s table of ``week``: each shard's counts (a task reading only that shard's
        rows) written split by key, then each split's counts summed and finished in a task of its
        own; the driver gets the finished splits alone (``data/partial.py``)."""
        ray = self._ray()
        n = self.n_shards
        options = {"num_cpus": self.threads, "max_retries": self.retries, "retry_exceptions": True}
        spec = replace(week, history=pl.LazyFrame(), shared=Shared(), states=None, engine=None, strict=True)
        sweep_parts(self.dataset.root)
        folder = Path(tempfile.mkdtemp(prefix=f"{PARTS}{os.getpid()}-", dir=self.dataset.root))
        try:
            part = ray.remote(_part_shard).options(**options)
            rows = [shard_rows(self.dataset, n, s) for s in range(n)]
            self._wait(ray, [part.remote(spec, partial, rows[s], str(folder), s, n) for s in range(n)], None)
            needed = {p.key: week.shared.values[p.key] for p in partial.needs}  # all the finish reads
            finish, values = ray.remote(_finish_split).options(**options), ray.put(needed)
            files = [[str(_split_file(folder, i, s)) for s in range(n)] for i in range(n)]
            splits = self._wait(ray, [finish.remote(spec, values, partial, files[i]) for i in range(n)], None, "split")
            return partial.merged(splits)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _ray(self) -> Any:
        """Ray, started, with the shard files of ``n_shards`` written."""
        ray = ray_module()
        if not ray.is_initialized():
            raise EngineError("the Ray engine is not started: use it as `with RayEngine(...) as engine:`")
        if not has_shards(self.dataset, self.n_shards):
            write_shards(self.dataset, self.n_shards)
        return ray

    def _wait(self, ray: Any, refs: Sequence[Any], on_part: OnPart | None, what: str = "shard") -> list[Any]:
        pending, done = list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                ray.get(ready[0])
            except Exception as error:  # a task error or a dead worker, after its retries
                for ref in pending:
                    ray.cancel(ref, force=True)
                shard = list(refs).index(ready[0])
                cause = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
                raise EngineError(
                    f"{what} {shard + 1} of {len(refs)} failed {self.retries + 1} time(s); nothing was written. "
                    f"Last error: {cause}"
                ) from error
            done += 1
            if on_part:
                on_part(done, len(refs))
        return ray.get(list(refs))


PARTS = ".parts-"
"""The prefix of a run's folder of task results in the prepared folder: ``.parts-PID-RANDOM``."""


def sweep_parts(root: Path) -> None:
    """Remove the part folders in ``root`` whose run has died (killed: its ``finally`` never ran),
    never one of a live process."""
    for folder in root.iterdir() if root.is_dir() else []:
        pid = folder.name.removeprefix(PARTS).split("-")[0]
        if folder.name.startswith(PARTS) and folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ray_module() -> Any:
    try:
        import ray
    except ImportError as error:
        raise EngineError(f"--engine ray needs Ray, which is not installed: {RAY_INSTALL}") from error
    return ray
