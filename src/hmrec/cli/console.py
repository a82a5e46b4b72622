"""What the ``hmrec`` command prints: the two consoles (stdout for results, stderr for
progress, warnings and errors), the progress display (a live bar on a terminal, plain lines
elsewhere), and the errors a user can fix turned into one line and exit code 1."""

from __future__ import annotations

import errno
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from hmrec.api import (
    DataError,
    EngineError,
    ModelError,
)


class _Console(Console):
    """A console that never wraps a message, and never cuts a table's cells when its output is
    not a terminal (a pipe, a log file): there the width is unbounded, whatever ``COLUMNS`` says,
    so a path or a command in a message stays whole on one line."""

    UNBOUNDED = 100_000

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, **kwargs)  # type: ignore[arg-type]

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(self.UNBOUNDED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


T = TypeVar("T")
console = _Console()
err = _Console(stderr=True)


def fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # a message is text, not markup
    return typer.Exit(code=1)


def guard(work: Callable[[], T]) -> T:
    """Run ``work``; turn the errors a user can fix into one message and exit code 1."""
    try:
        return work()
    except (DataError, ValueError, FileNotFoundError, EngineError, ModelError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # permissions, a folder where a file should be, a full disk, ...
        raise fail(os_message(exc)) from None
    except MemoryError:
        raise fail(
            "out of memory: this machine (or its memory limit) is too small for the work at these settings; "
            "use fewer candidates (--candidates), or a machine with more memory"
        ) from None


def os_message(exc: OSError) -> str:
    """One line naming the file and what the system said, with a hint for the usual causes."""
    where = exc.filename or "writing the results"
    if exc.errno == errno.ENOSPC:
        return (
            f"{where}: {exc.strerror or 'No space left on device'}; free some space, or write elsewhere (--output, --artifacts, "
            f"--out, and {PREPARED_ENV}=DIR for the prepared data), then run again"
        )
    not_writable = (
        "; the folder is not writable: pass --artifacts (and --out) elsewhere, "
        f"or set {PREPARED_ENV}=DIR for the prepared data"
    )
    hint = {PermissionError: not_writable, IsADirectoryError: "; that is a folder: give a file name"}.get(type(exc), "")
    if exc.errno == errno.EROFS:  # a read-only file system: root too is refused
        hint = not_writable
    return f"{where}: {exc.strerror or exc}{hint}"


@dataclass
class _Step:
    description: str
    total: float | None
    tenths: int = -1
    """The tenths of ``total`` already reported."""


class _Lines:
    """Progress as plain lines when stderr is not a terminal (a pipe, a log, CI), where a live
    bar would leave nothing: each new step once, with the seconds since the display began
    ("ranker: labelling week 3/5 (from 2020-08-26) … 41 s"); counts at every tenth of the way."""

    def __init__(self, console: Console) -> None:
        self.console, self.start = console, time.perf_counter()
        self.steps: list[_Step] = []

    def add_task(self, description: str, total: float | None = None, **_: object) -> int:
        self.steps.append(_Step(description, total))
        self._say(description)
        return len(self.steps) - 1

    def update(
        self, task: int, *, description: str | None = None, completed: float | None = None, total: float | None = None
    ) -> None:
        step = self.steps[task]
        if total is not None:
            step.total = total
        if description is not None and description != step.description:
            step.description = description
            self._say(description)
        if completed is not None and step.total:
            tenths = int(10 * completed / step.total)
            if tenths > step.tenths:
                step.tenths = tenths
                self._say(f"{step.description}: {completed:g}/{step.total:g}")

    def _say(self, text: str) -> None:
        self.console.print(f"{text} … {time.perf_counter() - self.start:.0f} s", highlight=False, markup=False)


class _Counts(ProgressColumn):
    """``done/total`` where a step counts (blank for a step without counts)."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{task.completed:,.0f}/{task.total:,.0f}", style="progress.download")


@contextmanager
def progress() -> Iterator[Progress]:
    if not err.is_terminal:
        yield _Lines(err)  # type: ignore[misc]
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        _Counts(),  # counts where a step has them (weeks generated, parts ranked)
        TimeElapsedColumn(),
        TimeRemainingColumn(),  # the ETA, where there are counts
        console=err,
        transient=True,
    ) as bar:
        yield bar


PREPARED_ENV = "HMREC_PREPARED"
"""Where the prepared data goes instead of DIR/prepared (for a data folder you cannot write)."""


def prepared_dir() -> Path | None:
    value = os.environ.get(PREPARED_ENV)
    return Path(value) if value else None


def warn(warnings: list[str]) -> None:
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def memory_limit() -> list[str]:
    """A warning when the process's address space is capped (``ulimit -v``, ``prlimit --as``):
    polars reserves address space ahead of use, and when a reservation is refused it aborts the
    process with "memory allocation failed" and no message hmrec could give."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return []
    return [
        f"the address space of this process is limited to {soft / 2**30:.1f} GiB (ulimit -v or prlimit --as). "
        "If a run needs more, polars stops it at once with 'memory allocation failed' and no other message; "
        "lift the limit (ulimit -v unlimited), or cap memory with a cgroup (docker --memory, systemd-run -p MemoryMax)"
    ]
