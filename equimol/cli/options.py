"""Command-line options shared by several ``equimol`` commands, and the allocator setting
behind ``--malloc``.

Large CPU runs pay for the C allocator: glibc hands every big tensor out with mmap and returns
it with munmap, so each energy + forces call page-faults its whole working set in again (kernel
time was 58 % of a 1,000-atom PaiNN call here, growing faster than linearly).
:func:`retain_freed_memory` keeps freed memory in the heap for reuse (opt-in, process-wide, so
only the CLI and the benchmark scripts call it, never the library).
"""

from __future__ import annotations

import ctypes
import os


def add_malloc_option(p) -> None:
    p.add_argument(
        "--malloc",
        choices=("retain", "system"),
        default="retain",
        help="retain (default): this process's C allocator keeps freed memory for reuse instead of "
        "returning large blocks to the kernel, which would page-fault them in again on every "
        "step (42 %% of an L1Net training run's CPU time went to the kernel); system: glibc's defaults",
    )


def apply_malloc_option(args) -> None:
    """Apply ``--malloc`` to this equimol process (and only to it)."""
    if args.malloc == "retain":
        retain_freed_memory()


# glibc malloc: no mmap for large blocks, never trim the heap (trim threshold SIZE_MAX; mallopt -1)
GLIBC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=18446744073709551615"
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)


def retain_freed_memory() -> bool:
    """Make glibc serve all allocations from its heap and keep freed memory for reuse.

    Process-wide and irreversible (call it once, at start-up, in programs that evaluate large
    systems on CPU, e.g. MD of thousands of atoms); the resident size then stays at its peak.
    For a child process set ``GLIBC_TUNABLES`` (see :func:`allocator_env`) instead. Returns False
    where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, -1))
    except (OSError, AttributeError):
        return False


def allocator_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: os.environ) with GLIBC_TUNABLES set as :func:`retain_freed_memory` does."""
    out = dict(os.environ if env is None else env)
    out["GLIBC_TUNABLES"] = ":".join(x for x in (out.get("GLIBC_TUNABLES"), GLIBC_TUNABLES) if x)
    return out


def parse_label_keys(items: list[str]) -> dict[str, str]:
    """``--label-key LABEL=KEY`` options (repeatable) as {label: key}."""
    out: dict[str, str] = {}
    for item in items:
        label, sep, key = item.partition("=")
        if not sep or not label.strip() or not key.strip():
            raise SystemExit(f"--label-key expects LABEL=KEY (e.g. energy=REF_energy), got {item!r}")
        out[label.strip()] = key.strip()
    return out
