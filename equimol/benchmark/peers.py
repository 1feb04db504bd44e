"""Run the peer implementations (schnetpack, so3krates-torch) on the harness's inputs.

The peers live in their own virtual environment (``benchmarks/peers/setup.sh`` makes
``peers/venv``), never in equimol's dependencies. The harness writes the input geometries to
one .npz, runs ``benchmarks/peers/run_peers.py`` with that venv's Python as a subprocess, and
reads the JSON it prints, so both sides are measured in one command on identical inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from equimol import keys as K

ROOT = Path(__file__).resolve().parents[2]
PEER_SCRIPT = ROOT / "benchmarks" / "peers" / "run_peers.py"
DEFAULT_PYTHON = ROOT / "peers" / "venv" / "bin" / "python"


def peers_python(path: str | os.PathLike | None = None) -> Path | None:
    """The peers' interpreter: ``path``, $EQUIMOL_PEERS_PYTHON, or peers/venv; None if absent."""
    candidate = Path(path or os.environ.get("EQUIMOL_PEERS_PYTHON", DEFAULT_PYTHON))
    return candidate if candidate.exists() else None


def write_inputs(path: str | os.PathLike, cases: Mapping[str, Sequence[dict[str, np.ndarray]]]) -> None:
    """Write ``cases`` (name -> structures of one batch) in the format run_peers.py reads."""
    arrays: dict[str, np.ndarray] = {"cases": np.array(list(cases))}
    for name, structures in cases.items():
        arrays[f"{name}/z"] = np.concatenate([s[K.ATOMIC_NUMBERS] for s in structures]).astype(np.int64)
        arrays[f"{name}/pos"] = np.concatenate([s[K.POSITIONS] for s in structures]).astype(np.float64)
        arrays[f"{name}/n_atoms"] = np.array([len(s[K.ATOMIC_NUMBERS]) for s in structures], dtype=np.int64)
        if all(K.ENERGY in s and K.FORCES in s for s in structures):
            arrays[f"{name}/energy"] = np.array([float(s[K.ENERGY]) for s in structures])
            arrays[f"{name}/forces"] = np.concatenate([s[K.FORCES] for s in structures])
    np.savez(path, **arrays)


def run_peers(inputs: str | os.PathLike, config: dict, python: str | os.PathLike | None = None,
              timeout_s: float | None = None) -> dict:
    """Run run_peers.py on ``inputs``; returns its JSON, or {"error": ...} if it cannot run."""
    exe = peers_python(python)
    if exe is None:
        return {"error": "peers' venv not found: run `bash benchmarks/peers/setup.sh` (or set EQUIMOL_PEERS_PYTHON)"}
    env = {**os.environ}
    if config.get("threads"):
        env["OMP_NUM_THREADS"] = str(config["threads"])
    try:
        proc = subprocess.run(
            [str(exe), str(PEER_SCRIPT), str(inputs), "--config", json.dumps(config)],
            capture_output=True, text=True, timeout=timeout_s, env=env, cwd=str(ROOT),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"peers timed out after {timeout_s} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"peers exited with {proc.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])
