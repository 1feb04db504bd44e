"""Location of the project's shared reference data (``shared/data`` beside the repository).

Override with the environment variable ``EQUIMOL_SHARED`` (read only, never set by equimol).
"""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path:
    env = os.environ.get("EQUIMOL_SHARED")
    if env:
        return Path(env)
    beside_repo = Path(__file__).resolve().parents[3] / "shared"
    return beside_repo if beside_repo.exists() else Path("/work/shared")


SHARED = shared_dir()
