"""File I/O shared by every writer: :func:`atomic_write`; checkpoint save/load (state dict +
JSON metadata, read with ``torch.load(..., weights_only=True)``).

A checkpoint file holds::

    {"metadata": str (JSON: format, version, units, model spec, statistics, config, metrics),
     "model": state_dict,
     "training": {optimizer, schedule, rng, epoch, ...}  (training runs only)}

Loading never unpickles arbitrary objects; an inference checkpoint has no "training" entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import torch

from equimol.errors import EquimolError


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", *, encoding: str | None = None, fsync: bool = True
) -> Iterator[IO]:
    """Write ``path`` all or nothing: yield a temporary file in the same folder, then fsync it
    and rename it over ``path``. On any error the temporary file is removed and ``path`` is
    left as it was. ``mode`` is "w" (text, UTF-8 by default) or "wb".

    For writers that need a file name rather than a handle (torch.save, h5py, matplotlib),
    use ``f.name`` inside the block and leave ``f`` unwritten.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, mode, encoding=(encoding or "utf-8") if mode == "w" else None) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        if fsync:  # the file was written by name (f.name): flush that too
            with open(tmp, "rb") as g:
                os.fsync(g.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_checkpoint_payload(path: str | os.PathLike, payload: dict) -> Path:
    """``torch.save`` of a checkpoint dict (metadata already a JSON string), atomically."""
    path = Path(path)
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict with its metadata parsed, loaded safely (``weights_only=True``)."""
    path = Path(path)
    if not path.exists():
        raise EquimolError(f"{path}: checkpoint not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EquimolError(f"{path}: not a readable equimol checkpoint ({first})") from None
    if not isinstance(raw, dict) or "metadata" not in raw or "model" not in raw:
        raise EquimolError(f"{path}: not an equimol checkpoint (missing 'metadata'/'model')")
    try:
        raw["metadata"] = json.loads(raw["metadata"])
    except (TypeError, json.JSONDecodeError):
        raise EquimolError(f"{path}: checkpoint metadata is not JSON") from None
    return raw
