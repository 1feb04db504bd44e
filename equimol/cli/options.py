"""Command-line options shared by several ``equimol`` commands."""

from __future__ import annotations


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
        from equimol.benchmark.fast import retain_freed_memory

        retain_freed_memory()
