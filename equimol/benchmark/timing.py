"""Timers, peak memory and the machine description of a benchmark run.

Timing: ``warmup`` untimed calls, then ``repeats`` timed calls; the median is reported (with
min and inter-quartile range). Contestants on the same case (equimol eager / compiled / with
neighbour list, and the peer) are interleaved in rounds, see :func:`interleave`. On CUDA every
timed call is bracketed by ``torch.cuda.synchronize()`` so kernels still queued are counted.

Memory (CPU): the peak resident set size (``VmHWM`` of /proc/self/status) above the resident
size just before the first call, after resetting the kernel's peak counter (writing "5" to
/proc/self/clear_refs, Linux ≥ 4.0). It counts everything the process touched: torch's
allocator caches, autograd buffers, the neighbour list. Measure one configuration per process
(see :mod:`equimol.benchmark.memory`) so earlier cases don't hide in the baseline.
Memory (CUDA): ``torch.cuda.max_memory_allocated`` above the allocation before the first call.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import numpy as np
import torch


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], object], warmup: int, repeats: int, device: torch.device | str = "cpu"
) -> dict:
    """Median (s) of ``repeats`` timed calls of ``fn`` after ``warmup`` untimed calls."""
    return summarize(raw_times(fn, warmup, repeats, device), warmup)


def raw_times(
    fn: Callable[[], object], warmup: int, repeats: int, device: torch.device | str = "cpu"
) -> list[float]:
    """Wall times (s) of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    if repeats < 1:
        raise ValueError(f"repeats must be ≥ 1, got {repeats}")
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def summarize(times: list[float], warmup: int, rounds: int = 1) -> dict:
    q75, q25 = np.percentile(times, [75, 25])
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "iqr_s": float(q75 - q25),
        "repeats": len(times),
        "warmup": warmup,
        "rounds": rounds,
    }


def interleave(
    contestants: dict[str, Callable[[int, int], list[float]]], warmup: int, repeats: int, rounds: int
) -> dict[str, dict]:
    """Time several contestants on the same case in alternating rounds (A B C A B C …).

    Each contestant is ``timer(repeats, warmup) -> per-call times``; every round gives each one
    ceil(repeats / rounds) calls (warm-up in the first round only), so slow drifts of the machine
    load hit all of them alike. A contestant whose timer raises is dropped (its error returned
    as {"error": ...}).
    """
    per_round = -(-repeats // max(rounds, 1))
    times: dict[str, list[float]] = {k: [] for k in contestants}
    errors: dict[str, str] = {}
    for r in range(max(rounds, 1)):
        for name, timer in contestants.items():
            if name in errors:
                continue
            try:
                times[name] += timer(per_round, warmup if r == 0 else 0)
            except Exception as exc:  # noqa: BLE001 - a failing contestant must not stop the others
                errors[name] = (
                    f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                )
    out: dict[str, dict] = {name: {"error": msg} for name, msg in errors.items()}
    out.update({name: summarize(t, warmup, rounds) for name, t in times.items() if name not in errors})
    return out


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PeakMemory:
    """Context manager: ``.peak_mib`` = peak memory above the level on entry (MiB), see module doc."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.peak_mib: float | None = None
        self.method = ""

    def __enter__(self) -> Self:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            self.method = "torch.cuda.max_memory_allocated − allocated before"
        else:
            self._reset = reset_peak_rss()
            self._base = _status_kib("VmRSS") or 0
            self.method = "VmHWM − VmRSS before (/proc/self/status" + (
                ", peak reset)" if self._reset else ")"
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mib = (torch.cuda.max_memory_allocated(self.device) - self._base) / 2**20
        else:
            hwm = _status_kib("VmHWM")
            self.peak_mib = None if hwm is None else (hwm - self._base) / 1024


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(device: torch.device | str = "cpu") -> dict:
    """Device name, CPU model, thread count, versions and load: what a result depends on."""
    device = torch.device(device)
    info = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    if device.type == "cuda":
        info["cuda"] = torch.version.cuda
    return info


def matmul_peak(device: torch.device | str = "cpu", n: int = 2048, repeats: int = 5) -> dict:
    """Measured float32 matmul rate (FLOP/s) of two n×n matrices: the machine's practical peak."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    r = time_call(lambda: a @ b, warmup=2, repeats=repeats, device=device)
    return {"n": n, "flops_per_s": 2 * n**3 / r["min_s"], "median_s": r["median_s"], "min_s": r["min_s"]}


def oversubscription_warning() -> str | None:
    """A warning if torch uses several threads while other processes keep the cores busy.

    OpenMP threads busy-wait between parallel regions by default; when another process holds a
    core, a small PaiNN call went from 6.6 ms (1 thread) to 650 ms (2 threads) on the 2-core
    machine of benchmarks/README.md, and back to 7.1 ms with OMP_WAIT_POLICY=PASSIVE (which must
    be set before the process starts).
    """
    threads = torch.get_num_threads()
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    cores = os.cpu_count() or 1
    if threads > 1 and load > 0.5 and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        return (
            f"{threads} torch threads on {cores} cores with load average {load:.1f}: busy-waiting OpenMP "
            "threads can make small calls ~100x slower; use --threads 1 or set OMP_WAIT_POLICY=PASSIVE"
        )
    return None
