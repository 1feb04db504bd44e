"""Run the peer implementations (schnetpack, so3krates-torch) on the harness's inputs.

The peers live in their own virtual environment (``benchmarks/peers/setup.sh`` makes
``peers/venv``), never in equimol's dependencies. The harness writes the input geometries to
one .npz and starts ``benchmarks/peers/run_peers.py --serve`` with that venv's Python; the
subprocess answers timing requests, which the harness interleaves with its own timings of the
same case (rounds A B A B …), so both sides are measured in one command, on identical inputs,
under the same machine load.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

import numpy as np

from equimol import keys as K
from equimol.cli.options import allocator_env

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


class PeerServer:
    """run_peers.py --serve in the peers' venv: ``time(model, case, mode, repeats, warmup)`` returns
    the peer's per-call times, so the harness can interleave them with its own on the same case.

    ``error`` is set (and every request answers {"error": ...}) if the venv is missing or the
    process dies.
    """

    def __init__(
        self,
        inputs: str | os.PathLike,
        config: dict,
        python: str | os.PathLike | None = None,
        retain_memory: bool = False,
    ):
        self.error: str | None = None
        self.info: dict = {}
        self.proc: subprocess.Popen | None = None
        exe = peers_python(python)
        if exe is None:
            self.error = (
                "peers' venv not found: run `bash benchmarks/peers/setup.sh` (or set EQUIMOL_PEERS_PYTHON)"
            )
            return
        env = allocator_env() if retain_memory else {**os.environ}  # the same allocator as equimol's side
        if config.get("threads"):
            env["OMP_NUM_THREADS"] = str(config["threads"])
        self.proc = subprocess.Popen(
            [str(exe), str(PEER_SCRIPT), str(inputs), "--serve", "--config", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        first = self._read()
        if first.get("ready"):
            self.info = first
        else:
            self.error = first.get("error", "peer server did not start")

    def _read(self) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read().strip().splitlines()[-3:] if self.proc.stderr else []
                return {"error": f"peer process ended ({self.proc.poll()}): " + " | ".join(err)}
            if line.startswith("{"):
                return json.loads(line)

    def time(
        self, model: str, case: str, mode: str, repeats: int, warmup: int = 0, threads: int | None = None
    ) -> dict:
        """The peer's per-call times (``times_s``); ``threads`` sets its torch thread count first."""
        if self.error is not None or self.proc is None or self.proc.stdin is None:
            return {"error": self.error or "peer server not running"}
        try:
            self.proc.stdin.write(
                json.dumps(
                    {"model": model, "case": case, "mode": mode, "repeats": repeats, "warmup": warmup}
                    | ({"threads": threads} if threads else {})
                )
                + "\n"
            )
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.error = "peer process ended"
            return {"error": self.error}
        out = self._read()
        if "error" in out and out.get("model") is None:
            self.error = out["error"]
        return out

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
