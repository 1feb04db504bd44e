"""equimol convert INPUT OUTPUT: any readable dataset → extxyz or the HDF5 store (.h5)."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("input", help="extxyz/xyz, ASE .db, rMD17 .npz or equimol .h5")
    p.add_argument("output", help=".extxyz/.xyz or .h5 (written atomically)")
    p.add_argument("--energy-unit", help="energy unit of the input (default: per format)")
    p.add_argument("--length-unit", default="Å")


def run(args) -> int:
    from equimol.data.formats import read_structures, write_structures

    structures = read_structures(args.input, energy_unit=args.energy_unit, length_unit=args.length_unit)
    write_structures(args.output, structures)
    print(f"wrote {len(structures)} structures to {args.output} (units: Å, eV, e)")
    return 0
