"""The CPU thread count of an ``equimol`` command: ``--threads N`` or a measured default.

A second torch thread only pays when each call has enough work to split and the second core is
free; otherwise OpenMP's fork/join and busy-waiting cost more than they save
(``benchmarks/results/threads.md``, AMD EPYC, 2 cores):

- idle machine, 64 ethanol beads (4 608 edges): 2 threads 1.19× faster than 1 for PaiNN, 1.43×
  for So3krates; 1 000 water atoms (43 086 edges): 1.01× and 1.42×;
- loaded machine (both cores busy with other jobs), one ethanol (72 edges): 2 threads 2.8× (PaiNN)
  and 4.1× (So3krates) *slower* than 1.

Hence ``--threads auto`` (the default of ``md``, ``evaluate``, ``predict``): one thread for calls
below :data:`SMALL_EDGES` edges, else as many threads as there are idle cores (cores minus the
one-minute load average, at least 1). ``OMP_NUM_THREADS`` in the environment is the user's
explicit choice and is left alone. The setting applies to the ``equimol`` process only (the
library itself never changes the thread count).
"""

from __future__ import annotations

import os

SMALL_EDGES = 2000  # below this, per-op threading overhead outweighs the split work


def add_threads_option(p) -> None:
    p.add_argument(
        "--threads",
        default="auto",
        help="torch CPU threads: a number, or auto (default): 1 for small systems (< "
        f"{SMALL_EDGES} edges per call), else the idle cores; OMP_NUM_THREADS, if set, is kept",
    )


def idle_cores() -> int:
    """Cores available to this process minus the one-minute load average (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def default_threads(edges_per_call: int | None) -> int:
    """The ``auto`` thread count for calls of ``edges_per_call`` edges (None: unknown, large)."""
    if edges_per_call is not None and edges_per_call < SMALL_EDGES:
        return 1
    return idle_cores()


def resolve_threads(value: str | int | None, edges_per_call: int | None) -> int | None:
    """The thread count ``--threads value`` asks for; None: leave torch's setting (the
    environment's OMP_NUM_THREADS under ``auto``)."""
    if value is None or str(value) == "auto":
        if os.environ.get("OMP_NUM_THREADS"):
            return None
        return default_threads(edges_per_call)
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"--threads must be a positive number or 'auto', got {value!r}") from None
    if n < 1:
        raise ValueError(f"--threads must be a positive number or 'auto', got {value!r}")
    return n


def apply_threads(value: str | int | None, edges_per_call: int | None) -> int:
    """Set this process's torch thread count per :func:`resolve_threads`; returns the count in use."""
    import torch

    n = resolve_threads(value, edges_per_call)
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
