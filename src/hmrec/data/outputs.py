"""Where hmrec may write: never into, over or around a file the user gave it.

Every command checks its outputs here before it does any work:

- an output **file** may not be an input of the run (any name the data layer reads in the data
  folder, as ``.csv`` or ``.parquet``, present or not: writing one would change what the next
  run reads; the ``--customers`` or ``--config`` file; a file of a model being read), nor lie in
  a folder hmrec reads from and manages (the prepared data, a model folder being read) or in a
  folder the same run replaces (its artifacts);
- an output **folder** is replaced whole, so it may not be, or contain, an input or the data
  folder; it may not lie inside a folder hmrec reads from; and when it already holds files, they
  must be hmrec's: every folder hmrec publishes carries an owner file (``OWNER_FILE``), and a
  non-empty folder without one is refused, never emptied;
- a symbolic link, a FIFO or a device given as an output file is written by opening it
  (``atomic.write_atomic``), never renamed over; a symbolic link given as an output folder is
  refused (replacing it would replace the link, not the folder).

Paths are compared after resolving symbolic links, so a link to an input is the input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from hmrec.schema import FILES

OWNER_FILE = ".hmrec-owned"
"""The file that marks a folder hmrec wrote (and may replace); its text says so to a reader."""
OWNER_TEXT = "This folder was written by hmrec: the next hmrec run that writes here replaces it whole.\n"


class UnsafeOutput(ValueError):
    """An output that would write over, into or around what the user gave hmrec."""


SHOP_FILE = ".hmrec-shop"
"""The mark of a folder of Kaggle files ``hmrec generate`` wrote: generated again in place, but
never replaced whole by a folder publish (it is a run's input)."""


_MARK_TEXT = {OWNER_FILE: OWNER_TEXT, SHOP_FILE: "Kaggle files hmrec generate wrote.\n"}


def mark(folder: Path, owner_file: str = OWNER_FILE) -> None:
    """Mark ``folder`` as written by hmrec (see ``owned``)."""
    (folder / owner_file).write_text(_MARK_TEXT[owner_file])


def owned(folder: Path, owner_file: str = OWNER_FILE) -> bool:
    """True when ``folder`` was written by hmrec (it holds the owner file)."""
    return (folder / owner_file).is_file()


def data_inputs(data: Path) -> list[Path]:
    """Every file name the data layer reads in ``data`` (each Kaggle file as .csv and .parquet,
    present or not)."""
    return [data / f"{stem}{suffix}" for stem in FILES.values() for suffix in (".csv", ".parquet")]


def _real(path: Path) -> Path:
    """``path`` absolute, with every symbolic link of its existing part resolved."""
    return Path(os.path.realpath(path))


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def refuse_folder(folder: Path, option: str, *, inputs: Iterable[Path] = (), read_from: Iterable[Path] = ()) -> None:
    """Raise :class:`UnsafeOutput` (one line, with what to do) when ``folder``, an output folder
    that will be replaced whole, is or contains one of ``inputs`` (files or folders the run
    reads), lies inside one of ``read_from`` (folders hmrec reads and manages), is a symbolic
    link or a file, or holds files hmrec did not write."""
    if folder.is_symlink():
        raise UnsafeOutput(
            f"{folder}: {option} is a symbolic link; give the folder itself ({_real(folder)}), which is replaced whole"
        )
    real = _real(folder)
    for given in inputs:
        if _within(_real(given), real):
            what = "is" if _real(given) == real else "contains"
            raise UnsafeOutput(
                f"{folder}: {option} {what} {given}, an input of this run, and would be replaced whole; "
                "give it a folder of its own"
            )
    for source in read_from:
        if _within(real, _real(source)):
            raise UnsafeOutput(
                f"{folder}: {option} lies inside {source}, which this run reads; give it a folder of its own"
            )
    if folder.exists() and not folder.is_dir():
        raise UnsafeOutput(f"{folder}: {option} is a file, not a folder; give a folder name")
    refuse_foreign(folder, option)


def refuse_foreign(folder: Path, option: str = "the folder", owner_file: str = OWNER_FILE) -> None:
    """Raise :class:`UnsafeOutput` when ``folder`` holds files and hmrec did not write it (as
    ``owner_file`` marks): hmrec replaces only folders it wrote."""
    if folder.is_dir() and not owned(folder, owner_file) and any(folder.iterdir()):
        raise UnsafeOutput(
            f"{folder}: {option} already holds files that hmrec did not write, and hmrec replaces the folder "
            f"whole; give an empty or new folder (hmrec marks the folders it writes with {OWNER_FILE})"
        )


def refuse_file(path: Path, option: str, *, inputs: Iterable[Path] = (), read_from: Iterable[Path] = ()) -> None:
    """Raise :class:`UnsafeOutput` when ``path``, an output file, is a folder, is one of
    ``inputs``, lies inside one of ``read_from`` (folders the run reads, or replaces), or sits in
    a folder that cannot be written."""
    if path.is_dir():
        raise UnsafeOutput(f"{path}: is a folder; {option} needs a file name, for example {path / 'submission.csv'}")
    real = _real(path)
    for given in inputs:
        if _real(given) == real:
            raise UnsafeOutput(
                f"{path}: {option} is {given}, an input of this run, which hmrec never writes; give another file name"
            )
    for source in read_from:
        if _within(real, _real(source)):
            raise UnsafeOutput(
                f"{path}: {option} lies inside {source}, which this run reads or replaces; give a path outside it"
            )
    parent = real.parent
    if parent.exists() and not os.access(parent, os.W_OK):
        raise UnsafeOutput(f"{parent}: the folder is not writable; give {option} a path you can write to")


def refuse_outputs(
    data: Path | None,
    prepared: Path,
    files: dict[str, Path] | None = None,
    folders: dict[str, Path] | None = None,
    inputs: Sequence[Path] = (),
    read_from: Sequence[Path] = (),
) -> None:
    """Raise :class:`UnsafeOutput` when an output would write over, into or around what the user
    gave: the ``data`` folder (None: not known) and its Kaggle files, the ``prepared`` folder, the
    run's other ``inputs``; ``files`` and ``folders`` are named by what they are (an option).
    ``read_from`` are folders the run reads (a model), which no output may replace."""
    given = [*([data, *data_inputs(data)] if data is not None else []), prepared, *inputs]
    folders = folders or {}
    for name, folder in folders.items():
        refuse_folder(folder, name, inputs=given, read_from=[prepared, *read_from])
    for name, path in (files or {}).items():
        refuse_file(path, name, inputs=given, read_from=[prepared, *read_from, *folders.values()])
