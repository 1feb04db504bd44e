"""equimol.io.atomic_write: all or nothing, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from equimol.io import atomic_write


def test_success_renames_over_the_target(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path) as f:
        f.write("new ü")
        assert f.name != str(path) and path.read_text() == "old"  # not visible before the rename
    assert path.read_text(encoding="utf-8") == "new ü"
    assert list(tmp_path.iterdir()) == [path]


def test_binary_handle_and_new_folder(tmp_path):
    path = tmp_path / "sub" / "a.npy"  # the folder is created
    with atomic_write(path, "wb") as f:
        np.save(f, np.arange(3))
    np.testing.assert_array_equal(np.load(path), np.arange(3))
    assert list(path.parent.iterdir()) == [path]


def test_writers_that_need_a_name_use_f_name(tmp_path):
    path = tmp_path / "by_name.bin"
    with atomic_write(path, "wb") as f:
        Path(f.name).write_bytes(b"by name")
    assert path.read_bytes() == b"by name"
    assert list(tmp_path.iterdir()) == [path]


def test_new_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0)
    os.umask(mask)
    with atomic_write(tmp_path / "p.txt") as f:
        f.write("x")
    assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("mode", ["w", "wb"])
def test_exception_leaves_the_old_file_and_no_temporary(tmp_path, mode):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_write(path, mode) as f:
            f.write("half" if mode == "w" else b"half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]  # no ".keep.txt.*.tmp"


def test_exception_without_an_old_file_leaves_an_empty_folder(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "new.bin", "wb") as f:
            f.write(b"x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_mode_is_checked(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "x", "a"):
            pass
    assert list(tmp_path.iterdir()) == []
