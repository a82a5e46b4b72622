"""Writing files and folders all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmrec.data.atomic import write_atomic, write_folder_atomic


def test_a_failed_file_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "a.txt", lambda tmp: tmp.write_text("old"))

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(path, fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    write_folder_atomic(folder, lambda tmp: (tmp / "one.txt").write_text("1"))
    write_folder_atomic(folder, lambda tmp: (tmp / "two.txt").write_text("2"))
    assert sorted(p.name for p in folder.iterdir()) == [".hmrec-owned", "two.txt"]  # nothing of the old one is left

    def fail(tmp: Path) -> None:
        (tmp / "three.txt").write_text("3")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_folder_atomic(folder, fail)
    assert sorted(p.name for p in folder.iterdir()) == [".hmrec-owned", "two.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folder left
