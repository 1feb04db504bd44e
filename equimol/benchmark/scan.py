"""The size scan: one fresh process per (model, size) point (:mod:`equimol.benchmark.memory`),
with a guard that skips sizes whose extrapolated peak memory would not fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from equimol.benchmark.runner import Run


# scanned besides the plain models (when the base model is benchmarked and no --scan-models are
# given): So3krates with its local attention in 2 checkpointed slices, whose memory per edge
# lets 10,000 atoms fit where the plain model's does not (benchmarks/README.md)
SCAN_VARIANTS = ("so3krates:local_slices=2",)


def parse_scan_model(label: str) -> tuple[str, dict]:
    """``"model"`` or ``"model:key=value[:key=value…]"`` → (model, options); values are JSON
    (numbers, true/false, null) or else strings. ``so3krates:local_slices=2`` → ("so3krates",
    {"local_slices": 2})."""
    name, *items = label.split(":")
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"scan model {label!r}: expected model:key=value, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return name, options


def scan_labels(models: tuple[str, ...], scan_models: tuple[str, ...] | None) -> tuple[str, ...]:
    """The size scan's models: ``scan_models`` if given, else ``models`` and their SCAN_VARIANTS."""
    if scan_models is not None:
        return tuple(scan_models)
    return tuple(models) + tuple(v for v in SCAN_VARIANTS if parse_scan_model(v)[0] in models)


def scan_stage(run: Run, label: str) -> None:
    """One subprocess per size (fresh peak-memory counter), see :mod:`equimol.benchmark.memory`.
    ``label``: a model name, optionally with options (:func:`parse_scan_model`)."""
    name, options = parse_scan_model(label)
    o = run.opts
    previous: dict | None = None
    for n in o.sizes:
        projected = _projected_mib(previous, n)
        available = available_mib(o.device)
        if projected is not None and available is not None and projected > 0.8 * available:
            msg = f"skipped: projected peak {projected / 1024:.1f} GiB > 80% of available {available / 1024:.1f} GiB"
            _stop(run, label, n, msg)
            break
        cmd = [
            sys.executable,
            "-m",
            "equimol.benchmark.memory",
            "--model",
            name,
            "--atoms",
            str(n),
            "--device",
            o.device,
            "--dtype",
            o.dtype,
            "--repeats",
            str(o.scan_repeats or o.repeats),
            "--warmup",
            str(min(o.warmup, 2)),
            "--malloc",
            o.malloc,
            "--options",
            json.dumps(options),
        ]
        if o.threads:
            cmd += ["--threads", str(o.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            _stop(run, label, n, "killed (out of memory?)" if proc.returncode in (-9, 137) else tail[0])
            break  # larger sizes would fail too
        row = {**json.loads(lines[-1]), "model": label, "options": options}
        run.results["size_scan"].append(row)
        previous = row
        run.log(f"  {label:9s} {n:6d} atoms {1000 * row['median_s']:11.2f} ms {row['peak_mib']:9.1f} MiB")


def _stop(run: Run, label: str, n_atoms: int, msg: str) -> None:
    """Record why the scan of ``label`` stops at ``n_atoms`` (an error row and a log line)."""
    run.results["errors"].append({"model": label, "stage": f"size_scan/{n_atoms}", "error": msg})
    run.log(f"  ! {label} {n_atoms} atoms: {msg}")


def _projected_mib(previous: dict | None, n_atoms: int) -> float | None:
    """Linear extrapolation of the last point's peak memory (plus 25%) to ``n_atoms``."""
    if previous is None or previous.get("peak_mib") is None:
        return None
    return 1.25 * previous["peak_mib"] * n_atoms / previous["atoms"]


def available_mib(device: str) -> float | None:
    """Memory a new process may use: MemAvailable (CPU) or free device memory (CUDA), MiB."""
    if torch.device(device).type == "cuda":
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return free / 2**20
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
