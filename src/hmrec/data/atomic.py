"""Outputs that are whole or absent, and runs that do not write over each other.

- ``write_atomic``: a file written under a temporary name of its own (process id and a random
  part: two runs never share one) and renamed into place.
- ``staged`` / ``write_folder_atomic``: a folder built under a temporary name (marked as
  hmrec's, ``outputs.mark``; a non-empty folder without that mark is never replaced) and published by renames: the
  old folder is moved aside, the new one moved in, the old one deleted; a run killed between
  the two renames leaves the old folder aside, and the next ``publish`` of that folder puts it
  back before anything else (``recover``).
- ``locked``: an exclusive lock (``fcntl.flock`` on a ``.NAME.lock`` file beside the target),
  released by the kernel when the process ends however it ends, so a killed run never leaves
  a stale lock; while holding it, temporary and set-aside folders of runs that died are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from hmrec import faults
from hmrec.data.outputs import mark, refuse_foreign


class Busy(ValueError):
    """Another hmrec run holds the lock on what this run would write."""


def _suffix() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _special(path: Path) -> bool:
    """True for an existing path that is neither a regular file nor a folder (a FIFO, a device)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)``, then move ``tmp`` to ``path``; on failure nothing is left behind.

    A symbolic link is written through (its target is replaced; the link stays); a FIFO or a
    device is opened and written, never renamed over (the bytes are written whole to a private
    temporary file first, so a failure writes nothing to it)."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if _special(target):
        with tempfile.TemporaryDirectory(prefix="hmrec-") as scratch:
            tmp = Path(scratch) / target.name
            write(tmp)
            with open(tmp, "rb") as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
        return path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{_suffix()}")
    try:
        write(tmp)
        tmp.replace(target)
    except OSError as exc:
        if exc.filename is None:  # a library's write error names no file: name the one being written
            raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _siblings(folder: Path, kind: str) -> list[Path]:
    """The entries beside ``folder`` named ``.NAME.KIND-*`` (matched as text: a name holding
    ``*``, ``?`` or ``[`` is not a pattern)."""
    prefix = f".{folder.name}.{kind}-"
    return [p for p in folder.parent.iterdir() if p.name.startswith(prefix)]


def _aside(folder: Path) -> list[Path]:
    return sorted(_siblings(folder, "old"), key=lambda p: p.stat().st_mtime)


def recover(folder: Path) -> None:
    """Undo what a killed run left (call with the folder's lock held): a folder moved aside
    and never replaced is put back; temporary and set-aside copies are removed."""
    aside = _aside(folder) if folder.parent.is_dir() else []
    if aside and not folder.exists():
        aside.pop().rename(folder)
    for stale in [*aside, *_siblings(folder, "tmp")] if folder.parent.is_dir() else []:
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


def publish(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` by the complete folder ``tmp`` (two renames; see the module's note)."""
    old = folder.with_name(f".{folder.name}.old-{_suffix()}")
    if folder.exists():
        folder.rename(old)
    faults.point("publish:between-renames")
    tmp.rename(folder)
    if old.exists():
        shutil.rmtree(old)


@contextmanager
def staged(folder: Path, *, wait: bool = True) -> Iterator[Path]:
    """An empty temporary folder beside ``folder``, written under ``folder``'s lock: when the
    block ends without an error it replaces ``folder`` (``publish``); otherwise it is removed
    and ``folder`` keeps what it held. A run killed inside leaves it for ``recover``."""
    refuse_foreign(folder)  # before the lock: a refusal leaves no lock file beside the user's folder
    with locked(folder, wait=wait):
        refuse_foreign(folder)  # again under the lock: what counts is what is there when it is replaced
        tmp = folder.with_name(f".{folder.name}.tmp-{_suffix()}")
        tmp.mkdir()
        try:
            mark(tmp)
            yield tmp
            faults.point("publish:written")
            publish(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)


def write_folder_atomic(folder: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on an empty temporary folder, then replace ``folder`` with it; on
    failure ``folder`` keeps what it held and no temporary folder is left."""
    with staged(folder) as tmp:
        write(tmp)
    return folder


_HELD: set[Path] = set()


@contextmanager
def locked(target: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the lock on ``target`` (a file or folder) for the block.

    With ``wait``, block until another run releases it; otherwise raise :class:`Busy` at once
    with a message naming the target and the process that holds it. Re-entrant within one
    process (an outer lock covers the inner writes)."""
    if target.is_symlink():  # the file it names is what is written: lock that
        target = Path(os.path.realpath(target))
    key = target.resolve()
    if key in _HELD or _special(target):  # a FIFO or a device is written by opening it: no lock file beside it
        yield
        return
    created = not target.parent.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.with_name(f".{target.name}.lock")
    try:
        handle = _acquire(path, target, wait)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                target.parent.rmdir()
        raise
    _HELD.add(key)
    try:
        recover(target)
        yield
    finally:
        _HELD.discard(key)
        path.unlink(missing_ok=True)  # while still locked: a waiter then finds its file gone and retries
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        if created:  # a run that wrote nothing leaves no empty folder behind
            with contextlib.suppress(OSError):
                target.parent.rmdir()


def _acquire(path: Path, target: Path, wait: bool) -> IO[str]:
    """The open, locked lock file at ``path``: retried when the file it locked was removed by
    the run that held it (its path then names another file, or none)."""
    while True:
        handle = open(path, "a+")  # noqa: SIM115 - held open until the lock is released
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise Busy(
                f"another hmrec run (process {holder}) is writing {target}; wait for it to finish, "
                "or give this run another folder"
            ) from None
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
            except OSError as exc:  # a full disk: the lock file is ours, so it goes (nothing is left behind)
                path.unlink(missing_ok=True)
                fcntl.flock(handle, fcntl.LOCK_UN)
                with contextlib.suppress(OSError):  # closing flushes the unwritten pid again (and closes the file)
                    handle.close()
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            return handle
        handle.close()
