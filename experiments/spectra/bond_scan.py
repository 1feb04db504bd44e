"""Energy along a compressed bond: does a model turn attractive at short distances? (issue #18)

    python experiments/spectra/bond_scan.py CKPT [CKPT ...] [--structure XYZ] [--data EXTXYZ]

Moves one atom of each bonded pair of the structure (default: the GFN2-xTB minimum of ethanol,
runs/ethanol_xtb_min.xyz) along the bond to distances 0.45 … 1.15 Å, the other atoms fixed, and
prints the model energy relative to 1.15 Å (eV) per bond, plus, with ``--data``, the shortest
distance of every element pair in that training set. A model whose energy falls at short
distances has a hole that ring-polymer beads (bead temperature P·T) can find.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DISTANCES = np.round(np.arange(0.45, 1.151, 0.05), 2)


def shortest_pairs(path: str) -> dict[str, float]:
    from ase.data import chemical_symbols

    from equimol import keys as K
    from equimol.data.formats import read_structures

    out: dict[str, float] = {}
    for s in read_structures(path):
        x, z = np.asarray(s[K.POSITIONS]), np.asarray(s[K.ATOMIC_NUMBERS])
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        i, j = np.triu_indices(len(z), 1)
        for a, b, r in zip(z[i], z[j], d[i, j], strict=True):
            key = "-".join(chemical_symbols[int(t)] for t in sorted((a, b)))
            out[key] = min(out.get(key, np.inf), float(r))
    return {k: round(v, 3) for k, v in sorted(out.items())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--structure", default=str(ROOT / "runs" / "ethanol_xtb_min.xyz"))
    p.add_argument("--data", help="training set: print its shortest distance per element pair")
    p.add_argument("--bond-max", type=float, default=1.6, help="pairs closer than this (Å) are bonds")
    a = p.parse_args()

    from ase.io import read

    from equimol.md.ase_calculator import Calculator

    mol = read(a.structure)
    sym = mol.get_chemical_symbols()
    d = mol.get_all_distances()
    bonds = [(i, j) for i in range(len(mol)) for j in range(i + 1, len(mol)) if d[i, j] < a.bond_max]
    result: dict = {"distances_A": DISTANCES.tolist()}
    if a.data:
        result["training_shortest_A"] = shortest_pairs(a.data)
    for ckpt in a.checkpoints:
        calc = Calculator(ckpt)
        rows = {}
        for i, j in bonds:
            energies = []
            for r in DISTANCES:
                m = mol.copy()
                v = m.positions[j] - m.positions[i]
                m.positions[j] = m.positions[i] + v / np.linalg.norm(v) * r
                m.calc = calc
                energies.append(m.get_potential_energy())
            e = np.asarray(energies) - energies[-1]
            rows[f"{sym[i]}{i}-{sym[j]}{j}"] = [round(float(x), 2) for x in e]
        result[ckpt] = rows
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
