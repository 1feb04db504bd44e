"""equimol convert INPUT OUTPUT [--neighbors CUTOFF]: any readable dataset → extxyz or the
HDF5 store (.h5), streamed in chunks with bounded memory (see :mod:`equimol.data.streaming`)."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("input", help="extxyz/xyz, ASE .db, rMD17 .npz or equimol .h5")
    p.add_argument("output", help=".extxyz/.xyz or .h5 (written atomically)")
    p.add_argument("--energy-unit", help="energy unit of the input (default: per format)")
    p.add_argument("--length-unit", default="Å")
    p.add_argument(
        "--label-key",
        action="append",
        default=[],
        metavar="LABEL=KEY",
        help="extxyz / ASE db input: the file's key of a label that is not ASE's own name, e.g. "
        "--label-key energy=REF_energy --label-key forces=REF_forces (repeatable)",
    )
    p.add_argument(
        "--neighbors",
        type=float,
        metavar="CUTOFF",
        help="precompute neighbour lists for this cutoff (Å) and store them in the .h5; "
        "training uses them when model.cutoff matches",
    )
    p.add_argument("--chunk", type=int, default=1024, help="structures buffered per write (memory bound)")


def run(args) -> int:
    from equimol.cli.options import parse_label_keys
    from equimol.data.streaming import convert
    from equimol.errors import ConfigError

    if args.neighbors is not None and not str(args.output).lower().endswith((".h5", ".hdf5")):
        raise ConfigError("--neighbors needs an .h5 output")
    if args.neighbors is not None and args.neighbors <= 0:
        raise ConfigError(f"--neighbors must be a positive cutoff in Å, got {args.neighbors}")
    if args.chunk < 1:
        raise ConfigError("--chunk must be a positive integer")
    out = convert(
        args.input,
        args.output,
        energy_unit=args.energy_unit,
        length_unit=args.length_unit,
        neighbor_cutoff=args.neighbors,
        chunk=args.chunk,
        label_keys=parse_label_keys(args.label_key) or None,
    )
    extra = f", neighbour lists for {args.neighbors} Å" if args.neighbors is not None else ""
    print(
        f"wrote {out['n_structures']} structures ({out['n_atoms']} atoms) to {args.output} "
        f"(units: Å, eV, e{extra})"
    )
    return 0
