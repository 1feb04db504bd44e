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
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from equimol.errors import EquimolError

if TYPE_CHECKING:  # torch and the models load only when a checkpoint is touched
    import torch

    from equimol.potential import Potential


def _create_temporary(path: Path) -> Path:
    """A new, empty ``.<name>.<random>.tmp`` beside ``path``, created exclusively with mode 0666
    so that the kernel applies the process's umask (``mkstemp`` would make it 0600; reading the
    umask would mean setting it, a process-wide change)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path}: no free temporary name beside it")


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", *, encoding: str | None = None, fsync: bool = True
) -> Iterator[IO]:
    """Write ``path`` all or nothing: yield a temporary file ``.<name>.<random>.tmp`` in the same
    folder, then fsync it and rename it over ``path``. On any error the temporary file is
    removed and ``path`` is left as it was. ``mode`` is "w" (text, UTF-8 by default) or "wb".
    The new file gets the usual permissions (0666 less the umask).

    For writers that need a file name rather than a handle (h5py), use ``f.name`` (the
    temporary path) inside the block and leave ``f`` unwritten.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(path)
    try:
        with open(tmp, mode, encoding=(encoding or "utf-8") if mode == "w" else None) as f:
            yield f
            f.flush()
        if fsync:  # by name: also covers data written through f.name
            with open(tmp, "rb") as g:
                os.fsync(g.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``Path(path).write_text(text)`` through :func:`atomic_write` (UTF-8): all or nothing."""
    with atomic_write(path) as f:
        f.write(text)
    return Path(path)


def save_checkpoint(
    path: str | os.PathLike,
    potential: Potential,
    extra_metadata: dict | None = None,
    training: dict | None = None,
) -> Path:
    """Write ``potential`` (and optional training state) to ``path`` atomically.

    The metadata (JSON) carries the model spec to rebuild it, the units, and
    ``extra_metadata`` (statistics, config, metrics)."""
    import torch

    from equimol.potential import metadata_json

    payload = {"metadata": metadata_json(potential, extra_metadata), "model": potential.state_dict()}
    if training is not None:
        payload["training"] = training
    path = Path(path)
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict with its metadata parsed, loaded safely (``weights_only=True``)."""
    import torch

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


def migrate_spec(spec: dict, version: int) -> dict:
    """The model spec of a checkpoint written by format ``version``, with the options that
    rebuild the same network under today's defaults (defaults changed to the papers' versions):

    version 1 → 2: a dipole head without atomic dipoles had gated charges (now Eq. 12's scalar
    MLP is the default), so such heads get ``charge_net: "gated"``; So3krates gets
    :data:`equimol.models.so3krates.LEGACY_OPTIONS` (its earlier, non-paper variants).
    """
    spec = json.loads(json.dumps(spec))  # a copy
    model = spec.get("model") or {}
    if version < 2 and model.get("name") == "so3krates":
        from equimol.models.so3krates import LEGACY_OPTIONS

        model["options"] = {**LEGACY_OPTIONS, **(model.get("options") or {})}
    if version < 2:
        for head in spec.get("heads") or []:
            if head.get("name") in ("dipole", "dipole_magnitude"):
                options = head.setdefault("options", {})
                if not options.get("atomic_dipoles", True):
                    options.setdefault("charge_net", "gated")
    return spec


def load(
    path: str | os.PathLike, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> Potential:
    """A model from a checkpoint, in eval mode, with ``potential.metadata`` set from the file.

    ``dtype`` casts the parameters (float64 buffers such as energy references stay float64).
    A committee JSON, or a folder holding ``committee.json``, gives a
    :class:`equimol.committee.Committee` of its members (mean and spread of every output)."""
    from equimol.committee import is_committee_path, load_committee
    from equimol.potential import build_potential

    if is_committee_path(path):
        return load_committee(path, device=device, dtype=dtype)

    raw = read_checkpoint(path)
    potential = build_potential(migrate_spec(raw["metadata"]["spec"], raw["metadata"].get("version", 1)))
    potential.load_state_dict(raw["model"])
    potential.metadata = raw["metadata"]
    potential.eval()
    if dtype is not None:
        for p in potential.parameters():
            p.data = p.data.to(dtype)
    return potential.to(device)


def export_inference_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy ``src`` to ``dst`` without its training state (optimizer, RNG, raw weights): what
    ``load``, ``equimol evaluate`` and the ASE calculator need, at about a third of the size."""
    import torch

    raw = read_checkpoint(src)
    dst = Path(dst)
    with atomic_write(dst, "wb") as f:
        torch.save({"metadata": json.dumps(raw["metadata"]), "model": raw["model"]}, f)
    return dst
