"""extxyz frames through ASE, shared by :mod:`equimol.data.formats` and :mod:`equimol.data.qm9`.

A leaf module (it imports neither), so that the two readers do not import each other.
"""

from __future__ import annotations

from pathlib import Path

from equimol.errors import DataError


def ase_error(e: Exception, fmt: str) -> str:
    """A one-line description of an exception raised by an ASE reader."""
    if isinstance(e, KeyError):  # ASE's symbol lookup
        return f"unknown element symbol {e.args[0]!r}"
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return f"malformed {fmt} file ({msg})"


def read_extxyz_frames(path: Path) -> list:
    """All frames of an extxyz file as ``ase.Atoms`` (file units, no conversion); missing or
    malformed files raise DataError."""
    import ase.io

    if not path.exists():
        raise DataError("file not found", str(path))
    try:
        return ase.io.read(str(path), index=":", format="extxyz")
    except Exception as e:  # ASE raises many types for malformed files
        raise DataError(ase_error(e, "extxyz"), str(path)) from None
