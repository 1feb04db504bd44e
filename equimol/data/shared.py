"""Location of the project's optional shared reference data (``shared/data`` beside the repository).

Nothing here runs at import time: the path is resolved when a function is called.
Override with the environment variable ``EQUIMOL_SHARED`` (the folder that holds ``data/``;
read only, never set by equimol). A clone without the shared folder works: every reader takes
an explicit path, and these defaults are only a convenience for development checkouts.
"""

from __future__ import annotations

import os
from pathlib import Path

from equimol.errors import DataError


def shared_dir() -> Path:
    """``$EQUIMOL_SHARED`` if set, else ``../shared`` beside the repository checkout."""
    env = os.environ.get("EQUIMOL_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared"


def shared_data(*parts: str, must_exist: bool = True) -> Path:
    """A path under ``shared_dir()/data``; a one-line :class:`DataError` if it is missing."""
    path = shared_dir().joinpath("data", *parts)
    if must_exist and not path.exists():
        raise DataError("shared reference data not found (pass a path, or set EQUIMOL_SHARED)", str(path))
    return path
