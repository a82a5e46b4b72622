"""What the commands share between parsing and calling the API: the safety checks on output
paths, the locks, the prepared data with its progress display, the holdout split."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from hmrec import api
from hmrec.api import (
    Busy,
    Dataset,
    Engine,
    Settings,
    Split,
    locked,
    outputs,
)
from hmrec.cli.console import err, fail, guard, os_message, prepared_dir, progress, warn


def given(*paths: Path | None) -> list[Path]:
    """The input files given on the command line (those not given left out)."""
    return [p for p in paths if p is not None]


def refuse_unsafe(
    data: Path,
    *,
    files: dict[str, Path] | None = None,
    folders: dict[str, Path] | None = None,
    inputs: Sequence[Path] = (),
    read_from: Sequence[Path] = (),
) -> None:
    """Refuse, before any work, outputs that would write over, into or around what the user gave
    us (``outputs``): ``files`` and ``folders`` by option name; ``inputs`` are the run's input
    files and folders beside the data folder, ``read_from`` the folders it reads (a model)."""
    prepared = api.prepared_folder(data, prepared_dir())
    try:
        outputs.refuse_outputs(data, prepared, files, folders, inputs, read_from)
    except outputs.UnsafeOutput as exc:
        raise fail(str(exc)) from None


@contextmanager
def holding(*targets: Path) -> Iterator[None]:
    """Hold the locks on what this command writes; if another hmrec run holds one, stop now
    with a message naming it (nothing of this run is written)."""
    with ExitStack() as stack:
        try:
            for target in targets:
                stack.enter_context(locked(target))
        except Busy as exc:
            raise fail(str(exc)) from None
        except OSError as exc:  # the lock file cannot be written: a full disk, no permission
            raise fail(os_message(exc)) from None
        yield


@contextmanager
def engine_for(settings: Settings, dataset: Dataset) -> Iterator[Engine]:
    """The engine of ``settings``, started for the block and stopped after it; failing to start
    (no Ray, no cluster at the address) is one message."""
    manager = api.running(settings, dataset)
    engine = guard(manager.__enter__)
    try:
        yield engine
    finally:
        manager.__exit__(None, None, None)


def load_data(data: Path) -> Dataset:
    """The prepared dataset for ``data``, preparing it (with a progress display) when stale."""
    with progress() as bar:
        task = bar.add_task("checking prepared data", total=None)
        result = guard(
            lambda: api.prepare(
                data, prepared_dir(), on_step=lambda step: bar.update(task, description=f"prepare: {step}")
            )
        )
    warn(result.warnings)
    if result.rebuilt:
        err.print(f"prepared {data} -> {result.dataset.root}", highlight=False)
    return result.dataset


def split_at(dataset: Dataset, cutoff: str | None) -> Split:
    """The holdout split at ``--cutoff`` (default: the data's last 7 days, refused when those
    cannot be a real week of the log)."""
    return guard(lambda: api.holdout(dataset, cutoff))
