"""equimol ipi-driver CHECKPOINT --structure FILE (--unix NAME | --address HOST --port N)

Serves energies, forces and dipoles (extras JSON) of an equimol model to a running i-PI
server, which propagates the (ring-polymer) dynamics. FILE gives the atomic numbers in
i-PI's atom order (e.g. i-PI's own initial xyz). See :mod:`equimol.md.ipi` for units and
bead batching (i-PI ``<batch_size>`` or ``--connections K``).
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("checkpoint", help="equimol checkpoint (.pt)")
    p.add_argument(
        "--structure",
        required=True,
        help="structure file with the atoms in i-PI's order (first frame is used)",
    )
    p.add_argument(
        "--unix",
        metavar="NAME",
        help="i-PI UNIX socket name (i-PI's <address>, i.e. /tmp/ipi_NAME) or a path",
    )
    p.add_argument("--address", default="localhost", help="i-PI host for a TCP socket (default localhost)")
    p.add_argument("--port", type=int, help="i-PI TCP port")
    p.add_argument(
        "--connections",
        type=int,
        default=1,
        help="sockets opened by this process; beads arriving together are evaluated in one batch",
    )
    p.add_argument(
        "--pbc",
        action="store_true",
        help="periodic: use the cell i-PI sends "
        "(default: periodic if the structure file has a periodic cell)",
    )
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="network precision")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    p.add_argument(
        "--batch-window-ms",
        type=float,
        default=1.0,
        help="with several connections: wait this long for more beads before evaluating",
    )
    p.add_argument("--connect-timeout", type=float, default=60.0, help="seconds to wait for the i-PI socket")


def run(args) -> int:
    import torch

    from equimol.errors import ConfigError
    from equimol.io import load
    from equimol.md.ipi import run_driver, template_numbers

    if (args.unix is None) == (args.port is None):
        raise ConfigError("give either --unix NAME or --port N (with --address HOST)")
    if args.connections < 1:
        raise ConfigError("--connections must be at least 1")
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    potential = load(args.checkpoint, device=args.device, dtype=dtype)
    numbers, periodic = template_numbers(args.structure)
    counts = run_driver(
        potential,
        numbers,
        address=args.address,
        port=args.port,
        unix=args.unix,
        connections=args.connections,
        periodic=periodic or args.pbc,
        dtype=dtype,
        device=args.device,
        batch_window_s=args.batch_window_ms / 1000,
        connect_timeout_s=args.connect_timeout,
    )
    print(
        f"i-PI ended the run; evaluated {counts['structures']} structures "
        f"in {counts['model_calls']} model calls"
    )
    return 0
