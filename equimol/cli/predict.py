"""equimol predict CHECKPOINT STRUCTURES [--output OUT.extxyz|OUT.json]"""

from __future__ import annotations

import json

from equimol.cli.threads import add_threads_option, apply_threads, edges_of


def add_arguments(p) -> None:
    p.add_argument("checkpoint", help="checkpoint, or a committee (committee.json or its folder)")
    p.add_argument("structures", help="any readable structure file (labels, if present, are ignored)")
    p.add_argument(
        "--output",
        "-o",
        help="write predictions: .extxyz/.xyz/.h5 (structures with predicted labels) or .json (also "
        "stress, virial and a committee's spread: energy_std, forces_std, force_disagreement, ...)",
    )
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument(
        "--length-unit", default="Å", help="length unit of the positions: Å (default), bohr, nm, pm"
    )
    add_threads_option(p)


def run(args) -> int:
    import numpy as np

    from equimol import keys as K
    from equimol.data.formats import read_structures, write_structures
    from equimol.evaluator import Evaluator
    from equimol.io import atomic_write, load

    potential = load(args.checkpoint)
    structures = [
        {
            K.ATOMIC_NUMBERS: s[K.ATOMIC_NUMBERS],
            K.POSITIONS: s[K.POSITIONS],
            **({K.CELL: s[K.CELL], K.PBC: s[K.PBC]} if K.CELL in s else {}),
        }
        for s in read_structures(args.structures, length_unit=args.length_unit)
    ]
    periodic = any(K.CELL in s for s in structures)
    apply_threads(args.threads, potential, edges_of(structures[: args.batch_size], potential.cutoff))
    evaluator = Evaluator(potential, stress=periodic, validate=False)  # read_structures validated them
    results = evaluator.predict(structures, args.batch_size)
    # structure files carry energy, forces, dipole, polarizability; JSON also stress, virial and
    # a committee's spread
    stored = (K.ENERGY, K.FORCES, K.DIPOLE, K.POLARIZABILITY)
    labelled = [
        {**s, **{k: v for k, v in r.items() if k in stored}} for s, r in zip(structures, results, strict=True)
    ]
    if args.output and args.output.endswith(".json"):
        with atomic_write(args.output) as f:
            json.dump([{k: np.asarray(v).tolist() for k, v in r.items()} for r in results], f)
    elif args.output:
        write_structures(args.output, labelled)
    else:
        for i, r in enumerate(results):
            line = f"{i}"
            if K.ENERGY in r:
                line += f"  energy {float(r[K.ENERGY]):.6f} eV"
            if K.FORCES in r:
                line += f"  max|F| {np.abs(r[K.FORCES]).max():.4f} eV/Å"
            if K.DIPOLE in r:
                line += f"  |μ| {np.linalg.norm(r[K.DIPOLE]):.4f} e·Å"
            if K.ENERGY_STD in r:  # a committee: how much its members disagree
                line += f"  σ(E) {float(r[K.ENERGY_STD]):.6f} eV"
            if K.FORCE_DISAGREEMENT in r:
                line += f"  max σ(F) {float(r[K.FORCE_DISAGREEMENT]):.4f} eV/Å"
            print(line)
    return 0
