"""The campaign's memory in git: what a fresh clone needs to continue where the last call stopped.

``runs/`` is ignored by git, so a new checkout holds no run folders. Without more, a campaign
call there would start every entry again from scratch: finished entries rerun, and hours of an
unfinished run lost. So ``experiments/reproduce.py`` keeps, committed under
``experiments/campaign/``:

- ``state.json``: the bookkeeping of every call (minutes per entry, device, outcome) and, per
  entry, what was last seen while its run folders were present (``recorded``: status, the steps
  done, the run folders that existed). Where those run folders are not all here, the entry is
  judged by that record: a finished entry is not rerun (only steps added since run), and an
  unfinished one without snapshots is left alone until ``--restart NAME``, so no result is
  overwritten by a run started afresh without notice.
- ``runs/<path under runs/>/``: a snapshot of every training run (a folder with ``last.pt``) of
  an unfinished entry: ``last.pt`` (the full training state: model, optimizer, schedule, RNG; the
  run resumes exactly), ``best.pt`` without training state (what export and evaluation need),
  ``log.csv``, ``split.json``, ``config.json`` and the run's other files up to 1 MB (caches).
  Larger files (generated data, trajectories) are remade by the entry's steps.

A call restores an entry's snapshots into ``runs/`` where the run folder has no ``last.pt``, then
resumes as usual. At the end of every call and of ``--report-only`` the snapshots of unfinished
entries are refreshed, a file only when its source changed (``SNAPSHOT.json`` holds the sources'
SHA-256), and those of finished entries are removed (their results, inference checkpoints and
learning curves are committed beside the experiments). Git keeps every committed version, so
each call that trains a run adds its ``last.pt`` (≈ 4× the model's weights) to the history.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

SMALL_FILE_BYTES = 1 << 20
ALWAYS = ("last.pt", "best.pt", "log.csv", "split.json", "config.json")
MANIFEST = "SNAPSHOT.json"


def store_dir(root: Path) -> Path:
    return root / "experiments" / "campaign"


def snapshot_root(root: Path) -> Path:
    return store_dir(root) / "runs"


def under_runs(path: Path, root: Path) -> Path | None:
    """``path`` relative to ``root/runs`` (both resolved), or None when it is not below it."""
    try:
        return Path(path).resolve().relative_to((root / "runs").resolve())
    except ValueError:
        return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write(src: Path, dst: Path) -> None:
    from equimol.io import atomic_write, export_inference_checkpoint

    if src.name == "best.pt":
        export_inference_checkpoint(src, dst)
    else:
        with open(src, "rb") as fin, atomic_write(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)


def _kept(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    return path.name in ALWAYS or path.stat().st_size <= SMALL_FILE_BYTES


def save_run(run_dir: Path, dst: Path) -> list[str]:
    """Snapshot one run folder into ``dst``; returns the names of the files (re)written."""
    from equimol.io import write_text

    old = {}
    if (dst / MANIFEST).exists():
        old = json.loads((dst / MANIFEST).read_text()).get("files", {})
    files, written = {}, []
    dst.mkdir(parents=True, exist_ok=True)
    for src in sorted(p for p in run_dir.iterdir() if p.is_file() and _kept(p)):
        files[src.name] = {"sha256": _sha256(src), "source_bytes": src.stat().st_size}
        if old.get(src.name) == files[src.name] and (dst / src.name).exists():
            continue
        _write(src, dst / src.name)
        written.append(src.name)
    for stale in dst.iterdir():  # files the run no longer has (never another writer's dotfiles)
        if (
            stale.is_file()
            and not stale.name.startswith(".")
            and stale.name != MANIFEST
            and stale.name not in files
        ):
            stale.unlink()
    if written or set(old) != set(files):
        write_text(dst / MANIFEST, json.dumps({"files": files}, indent=1, sort_keys=True) + "\n")
    return written


def training_runs(run_dirs) -> list[Path]:
    """Every folder with a ``last.pt`` at or below the given run folders."""
    found = []
    for d in run_dirs:
        d = Path(d)
        if d.is_dir():
            found += sorted({p.parent for p in d.rglob("last.pt")})
    return found


def snapshots(run_dirs, root: Path) -> list[Path]:
    """The snapshot folders belonging to these run folders (``runs/...`` paths)."""
    out = []
    for d in run_dirs:
        rel = under_runs(d, root)
        s = None if rel is None else snapshot_root(root) / rel
        if s is not None and s.is_dir():
            out += sorted(m.parent for m in s.rglob(MANIFEST))
    return out


def save_entry(run_dirs, root: Path, entry_done: bool) -> dict[str, list[str]]:
    """Refresh the snapshots of an unfinished entry's training runs, or remove them once the
    entry is done. Returns {run folder under runs/: files written}."""
    if entry_done:
        for d in run_dirs:
            rel = under_runs(d, root)
            if rel is not None:
                shutil.rmtree(snapshot_root(root) / rel, ignore_errors=True)
        return {}
    out = {}
    for run in training_runs(run_dirs):
        rel = under_runs(run, root)
        if rel is None:
            continue
        written = save_run(run, snapshot_root(root) / rel)
        if written:
            out[str(rel)] = written
    return out


def restorable(run_dirs, root: Path) -> list[Path]:
    """The run folders (under ``runs/``) that a snapshot can fill: those without ``last.pt``."""
    snap = snapshot_root(root).resolve()
    out = []
    for s in snapshots(run_dirs, root):
        target = (root / "runs").resolve() / s.resolve().relative_to(snap)
        if not (target / "last.pt").exists():
            out.append(target)
    return out


def restore_entry(run_dirs, root: Path) -> list[Path]:
    """Copy the snapshots of these run folders into ``runs/`` where the run folder has no
    ``last.pt`` (a local run is never overwritten). Returns the run folders restored."""
    snap = snapshot_root(root).resolve()
    restored = []
    for target in restorable(run_dirs, root):
        source = snap / target.relative_to((root / "runs").resolve())
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted(source.iterdir()):
            if f.is_file() and f.name != MANIFEST:
                shutil.copy2(f, target / f.name)
        restored.append(target)
    return restored
