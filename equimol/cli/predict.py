"""equimol predict CHECKPOINT STRUCTURES [--output OUT.extxyz|OUT.json]"""

from __future__ import annotations

import json


def add_arguments(p) -> None:
    p.add_argument("checkpoint")
    p.add_argument("structures", help="any readable structure file (labels, if present, are ignored)")
    p.add_argument(
        "--output",
        "-o",
        help="write predictions: .extxyz/.xyz/.h5 (structures with predicted labels) or .json",
    )
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument(
        "--length-unit", default="Å", help="length unit of the positions: Å (default), bohr, nm, pm"
    )


def run(args) -> int:
    import numpy as np
    import torch

    from equimol import keys as K
    from equimol.data.dataset import GraphDataset
    from equimol.data.formats import read_structures, write_structures
    from equimol.train.checkpoint import load
    from equimol.train.loop import batches

    potential = load(args.checkpoint)
    structures = [
        {
            K.ATOMIC_NUMBERS: s[K.ATOMIC_NUMBERS],
            K.POSITIONS: s[K.POSITIONS],
            **({K.CELL: s[K.CELL], K.PBC: s[K.PBC]} if K.CELL in s else {}),
        }
        for s in read_structures(args.structures, length_unit=args.length_unit)
    ]
    keys = [k for k in (K.ENERGY, K.FORCES, K.DIPOLE, K.POLARIZABILITY) if k in potential.outputs]
    results = []
    for batch in batches(
        GraphDataset(structures, potential.cutoff, cache=False), args.batch_size, torch.float32
    ):
        out = potential(batch)
        n = batch[K.N_ATOMS].tolist()
        start = 0
        for b, na in enumerate(n):
            r = {}
            for k in keys:
                v = out[k][start : start + na] if k == K.FORCES else out[k][b]
                r[k] = v.double().numpy()
            results.append(r)
            start += na
    labelled = [{**s, **r} for s, r in zip(structures, results, strict=False)]
    if args.output and args.output.endswith(".json"):
        with open(args.output, "w") as f:
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
            print(line)
    return 0
