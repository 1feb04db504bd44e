"""The red shift RPMD should show: local-mode stretch frequencies of ethanol on GFN2-xTB and PaiNN.

    OMP_NUM_THREADS=1 python experiments/spectra/local_mode.py            # ≈ 1 min; -> local_mode.json

Each X–H bond of the GFN2-xTB minimum (``ethanol_xtb_min.xyz``) is scanned by moving its H along
the bond (every other atom fixed) from r_e − 0.3 to r_e + 1.2 Å; the curve gives, with the X–H
reduced mass μ = m_X m_H / (m_X + m_H) (the usual local-mode kinetic factor 1/m_X + 1/m_H; the
curve itself is V(r) with the heavy atom held, an approximation that moving both atoms about
their centre of mass would refine; with m_H instead of μ the shifts below would be ~6 % (O–H) and
~8 % (C–H) smaller) (:mod:`equimol.spectra.local_mode`):

- ν_e: the harmonic frequency;
- ν_cl(300 K): the classical frequency averaged over a 300 K canonical ensemble: where classical
  MD puts the band;
- ν₀₁: the quantum fundamental (DVR): where an exact quantum spectrum, and approximately RPMD,
  puts it.

ν₀₁ − ν_cl is the red shift that quantum nuclei should cause in a one-dimensional local-mode
picture (no coupling between the stretches, no bend–stretch coupling, no Fermi resonances),
the yardstick for the classical → RPMD shifts of ``README.md``. The same scan on the spectra
model (``painn_spectra.pt``) checks that PaiNN's curves carry GFN2-xTB's anharmonicity.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, chemical_symbols

from equimol import keys as K
from equimol.data.formats import read_structures
from equimol.spectra import local_mode as lm

HERE = Path(__file__).resolve().parent


def bonds(z: np.ndarray, pos: np.ndarray) -> list[tuple[int, int]]:
    """(heavy atom, H) of every H, bonded to its nearest heavy atom."""
    out = []
    heavy = np.flatnonzero(z > 1)
    for h in np.flatnonzero(z == 1):
        d = np.linalg.norm(pos[heavy] - pos[h], axis=1)
        out.append((int(heavy[np.argmin(d)]), int(h)))
    return out


def scan(z, pos, x_atom, h_atom, distances):
    unit = pos[h_atom] - pos[x_atom]
    unit /= np.linalg.norm(unit)
    frames = []
    for r in distances:
        p = pos.copy()
        p[h_atom] = pos[x_atom] + r * unit
        frames.append(p)
    return frames


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--structure", default=str(HERE / "ethanol_xtb_min.xyz"))
    p.add_argument("--model", default=str(HERE / "painn_spectra.pt"))
    p.add_argument("--temperature-k", type=float, default=300.0)
    p.add_argument("--points", type=int, default=76)
    p.add_argument("--json", default=str(HERE / "local_mode.json"))
    a = p.parse_args(argv)

    from equimol.evaluator import Evaluator
    from equimol.io import load
    from equimol.reference.xtb import single_point

    s = read_structures(a.structure)[0]
    z, pos = s[K.ATOMIC_NUMBERS], s[K.POSITIONS]
    evaluator = Evaluator(load(a.model), validate=False) if a.model else None
    rows = []
    for x_atom, h_atom in bonds(z, pos):
        r_e = float(np.linalg.norm(pos[h_atom] - pos[x_atom]))
        distances = np.linspace(r_e - 0.3, r_e + 1.2, a.points)
        frames = scan(z, pos, x_atom, h_atom, distances)
        mu = atomic_masses[z[x_atom]] * atomic_masses[1] / (atomic_masses[z[x_atom]] + atomic_masses[1])
        curves = {
            "GFN2-xTB": np.array(
                [float(single_point(f, z, properties=("energy",))[K.ENERGY]) for f in frames]
            )
        }
        if evaluator is not None:
            preds = evaluator.predict(
                [{K.ATOMIC_NUMBERS: z, K.POSITIONS: f} for f in frames], batch_size=len(frames)
            )
            curves["PaiNN"] = np.array([float(r[K.ENERGY]) for r in preds])
        name = f"{chemical_symbols[z[x_atom]]}{x_atom}-H{h_atom}"
        for method, v in curves.items():
            nu_e = lm.harmonic_frequency_cm1(distances, v, mu)
            nu_cl = lm.thermal_classical_frequency_cm1(distances, v, mu, a.temperature_k)
            nu01 = lm.fundamental_cm1(distances, v, mu)
            rows.append(
                {
                    "bond": name,
                    "kind": "O-H" if z[x_atom] == 8 else "C-H",
                    "method": method,
                    "r_e": r_e,
                    "mu_amu": mu,
                    "harmonic_cm1": nu_e,
                    "classical_cm1": nu_cl,
                    "fundamental_cm1": nu01,
                    "quantum_shift_cm1": nu01 - nu_cl,
                }
            )
    summary = {}
    for method in {r["method"] for r in rows}:
        for kind in ("C-H", "O-H"):
            sel = [r["quantum_shift_cm1"] for r in rows if r["method"] == method and r["kind"] == kind]
            summary[f"{method} {kind}"] = {"mean_shift_cm1": float(np.mean(sel)), "n_bonds": len(sel)}
    out = {
        "structure": str(Path(a.structure).name),
        "model": str(Path(a.model).name) if a.model else None,
        "temperature_k": a.temperature_k,
        "scan": f"H moved along the bond from r_e - 0.3 to r_e + 1.2 Å, {a.points} points, other atoms fixed",
        "rows": rows,
        "mean_shift": summary,
    }
    Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    print("| bond | method | ν_e | ν_cl(300 K) | ν₀₁ | ν₀₁ − ν_cl |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['bond']} | {r['method']} | {r['harmonic_cm1']:.0f} | {r['classical_cm1']:.0f} | "
            f"{r['fundamental_cm1']:.0f} | {r['quantum_shift_cm1']:.0f} |"
        )
    for k, v in sorted(summary.items()):
        print(f"{k}: mean ν₀₁ − ν_cl = {v['mean_shift_cm1']:.0f} cm⁻¹ over {v['n_bonds']} bonds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
