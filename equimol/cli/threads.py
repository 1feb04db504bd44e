"""The CPU thread count of an ``equimol`` command: ``--threads N`` or a measured default.

A second torch thread only pays when the second core is free: with both cores busy with other
jobs, OpenMP's fork/join and busy-waiting made one ethanol 2.8× (PaiNN) to 7× (schnetpack)
*slower* with 2 threads than with 1. On an idle machine it depends on the model and the size
(AMD EPYC, 2 cores, ``benchmarks/threads_scaling.py``; 2-thread speed-up over 1 thread):

| | one ethanol (72 edges) | 64 ethanol beads (4 608) | 1 000 water atoms (43 086) |
|---|---:|---:|---:|
| PaiNN | 1.49× | 1.19× | 1.01× |
| So3krates | 0.69× | 1.43× | 1.42× |

Hence ``--threads auto`` (the default of ``md``, ``evaluate``, ``predict``): as many threads as
there are idle cores (cores minus the one-minute load average, at least 1), but one thread for
calls smaller than the model's ``THREADS_MIN_EDGES`` (a class attribute of a representation;
So3krates: 2 000 edges, its many small per-edge ops do not split well; PaiNN: none).
``OMP_NUM_THREADS`` in the environment is the user's explicit choice and is left alone. The
setting applies to the ``equimol`` process only (the library never changes the thread count).
"""

from __future__ import annotations

import os
from pathlib import Path


def add_threads_option(p) -> None:
    p.add_argument(
        "--threads",
        default="auto",
        help="torch CPU threads: a number, or auto (default): the idle cores (one for small systems "
        "with So3krates); OMP_NUM_THREADS, if set, is kept",
    )


def _cgroup_cpus() -> float | None:
    """The CPU quota of this process's cgroup (v2 ``cpu.max``), None without one."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else max(1.0, int(quota) / int(period))


def idle_cores() -> int:
    """Usable cores (affinity mask, capped by the cgroup quota and by torch's own default, which
    counts physical cores) minus the one-minute load average; at least 1."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpus()
    cores = min(cores, int(quota) if quota else cores, torch.get_num_threads())
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def min_edges(potential) -> int:
    """The largest ``THREADS_MIN_EDGES`` of the modules of ``potential`` (0 if none sets it)."""
    return max((int(getattr(m, "THREADS_MIN_EDGES", 0)) for m in potential.modules()), default=0)


def default_threads(edges_per_call: int | None, min_edges_per_call: int = 0) -> int:
    """The ``auto`` thread count for calls of ``edges_per_call`` edges (None: unknown, large)."""
    if edges_per_call is not None and edges_per_call < min_edges_per_call:
        return 1
    return idle_cores()


def resolve_threads(
    value: str | int | None, edges_per_call: int | None, min_edges_per_call: int = 0
) -> int | None:
    """The thread count ``--threads value`` asks for; None: leave torch's setting (the
    environment's OMP_NUM_THREADS under ``auto``)."""
    if value is None or str(value) == "auto":
        if os.environ.get("OMP_NUM_THREADS"):
            return None
        return default_threads(edges_per_call, min_edges_per_call)
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"--threads must be a positive number or 'auto', got {value!r}") from None
    if n < 1:
        raise ValueError(f"--threads must be a positive number or 'auto', got {value!r}")
    return n


def apply_threads(value: str | int | None, potential, edges_per_call: int | None) -> int:
    """Set this process's torch thread count for ``potential`` per :func:`resolve_threads`;
    returns the count in use."""
    import torch

    n = resolve_threads(value, edges_per_call, min_edges(potential))
    if n is not None:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def edges_of(structures, cutoff: float, copies: int = 1) -> int:
    """Edges per call when ``structures`` (one batch) are evaluated ``copies`` times together."""
    from equimol import keys as K
    from equimol.data.neighbors import neighbor_list

    total = 0
    for s in structures:
        edge_index, _ = neighbor_list(s[K.POSITIONS], cutoff, s.get(K.CELL), s.get(K.PBC))
        total += edge_index.shape[1]
    return total * copies
