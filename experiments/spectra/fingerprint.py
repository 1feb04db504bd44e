"""Where does the Raman fingerprint band of ML-RPMD differ from xTB-RPMD's? (issue #19)

    OMP_NUM_THREADS=1 python experiments/spectra/fingerprint.py     # ≈ 5 min -> fingerprint.json, fingerprint.png

The intensity-weighted centroid of the 400–1600 cm⁻¹ Raman window moves when intensity moves
between its bands, even where every peak stays in place. Per trajectory and per 3-ps block after
the first ps (the protocol of ``block_errors.py``), this script records what could move it:

1. **Conformers**: ethanol has a trans (H–O–C–C torsion 180°) and two gauche (±60°) conformers
   (their energies: the torsion scans of point 4), with different fingerprint Raman intensities.
   The torsion of the ring-polymer centroid (the geometry itself for classical MD) gives the
   trans fraction (|torsion| > 120°)
   and the number of conformer changes (frame by frame, 2 fs apart, without hysteresis: recrossings
   of the 120° boundary count).
2. **Kinetic energy per band**: the velocity power spectrum integrated over sub-windows of the
   fingerprint (degrees of freedom: 1 per fully thermalised mode). The paper's thermostat acts on
   the total kinetic energy of the centroid (a global chain), so how the energy is shared among
   the modes of a 9-atom molecule is left to its anharmonic couplings; a band that holds twice
   its share of kinetic energy has about twice its Raman intensity.
3. **The centroid against both**: the Raman fingerprint centroid of every block against the
   block's trans fraction and against the kinetic energy in the 880–960 cm⁻¹ band (the C–C–O
   stretch, the strongest fingerprint Raman band), with a straight-line fit per potential.
4. **Torsion profiles**: relaxed scans of the H–O–C–C torsion, 0…180° every 15° (ASE
   ``FixInternals``, BFGS to 0.01 eV/Å), with GFN2-xTB and each model.

``swap_properties.py`` settles the other candidate, the model's μ and α on ring-polymer
geometries.

Trajectories are those of ``run.py``, ``xtb_rpmd.py`` and ``active_learning/rpmd16.py`` in
``runs/``; missing ones are skipped.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RUNS = ROOT / "runs"
BLOCK_FS = 3000.0
TRANS_DEG = 120.0
SCAN_DEG = np.arange(0.0, 180.1, 15.0)
POWER_WINDOWS = (
    (400.0, 700.0),
    (780.0, 870.0),
    (880.0, 960.0),
    (960.0, 1150.0),
    (1150.0, 1260.0),
    (1260.0, 1360.0),
    (1360.0, 1600.0),
    (2500.0, 3250.0),
    (3250.0, 4000.0),
)
CCO_WINDOW = "880-960"
MIN_FIT_BLOCKS = 6


def trajectories() -> dict[str, Path]:
    files = {
        "GFN2-xTB MD": RUNS / "spectra_ethanol/md_xtb.h5",
        "PaiNN MD (spectra model)": RUNS / "spectra_ethanol/md_classical.h5",
        "GFN2-xTB RPMD 16": RUNS / "spectra_ethanol/md_xtb_rpmd16.h5",
        "PaiNN RPMD 16 (spectra model)": RUNS / "spectra_ethanol/md_rpmd16.h5",
        "PaiNN RPMD 64 (spectra model)": RUNS / "spectra_ethanol/md_rpmd.h5",
    }
    pattern = re.compile(r"md_rpmd(\d+)_al_(round_\d+)(?:_seed(\d+))?$")
    found = [
        (pattern.match(p.stem), p) for p in (RUNS / "spectra_active_learning").glob("md_rpmd*_al_round_*.h5")
    ]
    for m, p in sorted(
        ((m, p) for m, p in found if m),
        key=lambda mp: (int(mp[0][1]), int(mp[0][2].split("_")[1]), int(mp[0][3] or 0)),
    ):
        seed = f", seed {m[3]}" if m[3] else ""
        files[f"PaiNN RPMD {m[1]} (active learning {m[2]}{seed})"] = p
    for p in sorted((RUNS / "spectra_ethanol").glob("md_xtb_rpmd16_seed*.h5")):
        files[f"GFN2-xTB RPMD 16 (seed {p.stem.rsplit('seed', 1)[1]})"] = p
    return {k: v for k, v in files.items() if v.exists()}


def torsion_atoms(z: np.ndarray, x: np.ndarray) -> tuple[int, int, int, int]:
    """(H, O, C_alpha, C_methyl) of ethanol from its atomic numbers and one geometry."""
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    o = int(np.flatnonzero(z == 8)[0])
    carbons = np.flatnonzero(z == 6)
    c_a = int(carbons[np.argmin(d[carbons, o])])
    c_m = int(next(c for c in carbons if c != c_a))
    hydrogens = np.flatnonzero(z == 1)
    h = int(hydrogens[np.argmin(d[hydrogens, o])])
    return h, o, c_a, c_m


def dihedral_deg(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> np.ndarray:
    """Dihedral angle p0–p1–p2–p3 in degrees (−180…180], over leading axes."""
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - (b0 * b1).sum(-1, keepdims=True) * b1
    w = b2 - (b2 * b1).sum(-1, keepdims=True) * b1
    return np.degrees(np.arctan2((np.cross(b1, v) * w).sum(-1), (v * w).sum(-1)))


def conformer_states(torsion: np.ndarray) -> np.ndarray:
    """0 trans, +1 gauche+, −1 gauche− per frame (torsion in degrees)."""
    return np.where(np.abs(torsion) > TRANS_DEG, 0, np.sign(torsion)).astype(int)


def conformer_record(path: Path, discard_fs: float = 1000.0) -> dict:
    """Per replica of a trajectory, after ``discard_fs``: the fraction of frames whose centroid
    is in the trans conformer and the number of conformer changes (:func:`conformer_states`),
    i.e. how well each replica samples the hydroxyl torsion."""
    from equimol.spectra.trajectory import load_trajectory

    data = load_trajectory(path)
    t = np.asarray(data["time_fs"])
    pos = np.asarray(data["positions"]).mean(axis=2)[t >= discard_fs]  # centroid, (T, R, N, 3)
    idx = torsion_atoms(np.asarray(data["atomic_numbers"]), pos[0, 0])
    states = conformer_states(dihedral_deg(*(pos[:, :, i] for i in idx)))  # (T, R)
    return {
        "trans_fraction": [round(float(x), 3) for x in (states == 0).mean(axis=0)],
        "conformer_changes": [int(x) for x in (np.diff(states, axis=0) != 0).sum(axis=0)],
    }


def blocks(path: Path) -> list[dict]:
    """Per replica and 3-ps block after the first ps: trans fraction, conformer changes and the
    IR/Raman band centroids."""
    from equimol.spectra.bands import PER_FRAME_REPLICA, replica
    from equimol.spectra.trajectory import load_trajectory, spectra_from_trajectory
    from equimol.workflows.compare import band_centroids

    data = load_trajectory(path)
    t = np.asarray(data["time_fs"])
    pos = np.asarray(data["positions"])  # (T, R, P, N, 3)
    idx = torsion_atoms(np.asarray(data["atomic_numbers"]), pos[0, 0, 0])
    centroid = pos.mean(axis=2)  # (T, R, N, 3)
    tors = dihedral_deg(*(centroid[:, :, i] for i in idx))  # (T, R)
    out = []
    n_rep = pos.shape[1]
    edges = np.arange(1000.0, t[-1] + 1e-6, BLOCK_FS)
    for r in range(n_rep):
        one = replica(data, r)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            keep = (t >= lo) & (t < hi)
            sel = dict(one, time_fs=t[keep])
            for k in PER_FRAME_REPLICA:
                if one.get(k) is not None:
                    sel[k] = one[k][keep]
            sp = spectra_from_trajectory(
                sel, power=True, depth_fs=1000.0, discard_fs=0.0, temperature_k=300.0, unpolarized=True
            )
            st = conformer_states(tors[keep, r])
            row = {
                "replica": r,
                "block_fs": [float(lo), float(hi)],
                "trans_fraction": round(float((st == 0).mean()), 3),
                "conformer_changes": int((np.diff(st) != 0).sum()),
            }
            for kind, s in (("IR", sp["ir"]), ("Raman", sp["raman"])):
                for band, c in band_centroids(s).items():
                    row[f"{kind} {band}"] = None if c is None else round(float(c), 1)
            row["kinetic_dof"] = power_windows(sp["power"])
            out.append(row)
    whole = conformer_states(tors[t >= 1000.0])
    return [
        {
            "frames": int(whole.shape[0]),
            "replicas": n_rep,
            "trans_fraction": round(float((whole == 0).mean()), 3),
            "conformer_changes": int((np.diff(whole, axis=0) != 0).sum()),
        },
        *out,
    ]


def power_windows(power) -> dict[str, float]:
    """Degrees of freedom (∫ power dν) of a velocity power spectrum in each of POWER_WINDOWS."""
    f = power.frequency_cm1
    df = float(f[1] - f[0])
    return {
        f"{lo:.0f}-{hi:.0f}": round(float(power.intensity[(f >= lo) & (f < hi)].sum() * df), 3)
        for lo, hi in POWER_WINDOWS
    }


def torsion_scan(calc, start) -> list[float]:
    """Relaxed H–O–C–C scan: energy (meV) relative to the lowest point, at SCAN_DEG.

    The hydroxyl H is turned about the C–O bond to each angle (``set_dihedral`` on C_methyl,
    C_alpha, O, H, moving H only), the torsion is held there (``FixInternals``) and everything
    else relaxes (BFGS, steps ≤ 0.05 Å, to 0.01 eV/Å)."""
    from ase.constraints import FixInternals
    from ase.optimize import BFGS

    h, o, c_a, c_m = torsion_atoms(start.numbers, start.positions)
    quad = [c_m, c_a, o, h]
    mask = [0] * len(start)
    mask[h] = 1
    energies = []
    for phi in SCAN_DEG:
        atoms = start.copy()
        atoms.set_dihedral(*quad, float(phi), mask=mask)
        atoms.set_constraint(FixInternals(dihedrals_deg=[[atoms.get_dihedral(*quad), quad]]))
        atoms.calc = calc
        if not BFGS(atoms, logfile=None, maxstep=0.05).run(fmax=0.01, steps=500):
            print(f"  torsion {phi:.0f}°: BFGS did not reach 0.01 eV/Å in 500 steps")
        energies.append(float(atoms.get_potential_energy()))
    e = np.asarray(energies)
    return [round(float(v), 2) for v in (e - e.min()) * 1000.0]


def _x(row: dict, against: str) -> float:
    return row["trans_fraction"] if against == "trans_fraction" else row["kinetic_dof"][CCO_WINDOW]


def fit_line(rows: list[dict], key: str, against: str) -> dict | None:
    """Least-squares line ``key = intercept + slope · x`` over blocks, x the trans fraction or the
    kinetic degrees of freedom in the C–C–O stretch band; None with under MIN_FIT_BLOCKS blocks
    or no spread in x. Consecutive blocks of one run are not independent: read the line as a
    description, not as a test."""
    rows = [r for r in rows if r.get(key) is not None]
    x = np.array([_x(r, against) for r in rows])
    y = np.array([r[key] for r in rows], dtype=float)
    if len(rows) < MIN_FIT_BLOCKS or np.ptp(x) < 0.05:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    return {
        "against": against,
        "intercept_cm1": round(float(intercept), 1),
        "slope_cm1": round(float(slope), 1),
        "residual_std_cm1": round(float(resid.std(ddof=2)), 1),
        "correlation": round(float(np.corrcoef(x, y)[0, 1]), 3),
        "blocks": len(rows),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--no-scan", action="store_true", help="skip the relaxed torsion scans")
    p.add_argument("--out", type=Path, default=HERE / "fingerprint.json")
    a = p.parse_args(argv)

    result: dict = {"block_fs": BLOCK_FS, "trans_above_deg": TRANS_DEG, "trajectories": {}}
    for name, path in trajectories().items():
        try:
            rows = blocks(path)
        except OSError as e:  # a trajectory still being written (HDF5 lock)
            print(f"skip {name}: {e}")
            continue
        result["trajectories"][name] = {
            "file": str(path.relative_to(ROOT)),
            "whole": rows[0],
            "blocks": rows[1:],
        }
        print(name, rows[0])
        for r in rows[1:]:
            print("   ", r["trans_fraction"], r["Raman fingerprint"], r["kinetic_dof"])

    # straight lines of Raman fingerprint centroid against trans fraction, per potential (RPMD)
    # one line per potential: the xTB runs together, each model on its own
    groups: dict[str, list] = {}
    for name, tr in result["trajectories"].items():
        if "RPMD" in name:
            key = (
                "GFN2-xTB RPMD"
                if name.startswith("GFN2")
                else re.sub(r"PaiNN RPMD \d+ \((.*?)(, seed \d+)?\)", r"PaiNN RPMD, \1", name)
            )
            groups.setdefault(key, []).extend(tr["blocks"])
    result["fits"] = {
        g: {
            f"{k} vs {against}": fit_line(rows, k, against)
            for k in ("Raman fingerprint", "IR fingerprint")
            for against in ("trans_fraction", "kinetic_dof_" + CCO_WINDOW)
        }
        for g, rows in groups.items()
    }
    print(json.dumps(result["fits"], indent=1))

    if not a.no_scan:
        from ase.io import read

        from equimol.md.ase_calculator import Calculator
        from equimol.reference.xtb import DEFAULT_SETTINGS, XTBCalculator

        start = read(HERE / "ethanol_xtb_min.xyz")
        scans = {"GFN2-xTB": torsion_scan(XTBCalculator(DEFAULT_SETTINGS), start)}
        models = {
            "spectra model": HERE / "painn_spectra.pt",
            "active learning": HERE / "active_learning/painn_al.pt",
        }
        for name, ckpt in models.items():
            if ckpt.exists():
                scans[name] = torsion_scan(Calculator(str(ckpt)), start)
        result["torsion_scan"] = {"torsion_deg": SCAN_DEG.tolist(), "energy_mev": scans}
        print(json.dumps(result["torsion_scan"]))
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    plot(result, a.out.with_suffix(".png"))
    print(f"wrote {a.out}")
    return 0


def plot(result: dict, path: Path) -> None:
    """Raman fingerprint centroid per block against the trans fraction and against the kinetic
    energy of the C–C–O stretch band, and the torsion profiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scan = result.get("torsion_scan")
    fig, axes = plt.subplots(1, 3 if scan else 2, figsize=(16 if scan else 11, 4.5), squeeze=False)
    for ax, against, label in (
        (axes[0, 0], "trans_fraction", "trans fraction of the 3-ps block (|H–O–C–C| > 120°)"),
        (
            axes[0, 1],
            "kinetic_dof_" + CCO_WINDOW,
            f"kinetic energy in {CCO_WINDOW} cm⁻¹ (degrees of freedom)",
        ),
    ):
        for k, (name, tr) in enumerate(result["trajectories"].items()):
            if "RPMD" not in name:
                continue
            x = [_x(r, against) for r in tr["blocks"]]
            y = [r["Raman fingerprint"] for r in tr["blocks"]]
            ax.plot(x, y, "s" if name.startswith("GFN2") else "o", color=f"C{k}", label=name, alpha=0.8)
        for k, g in enumerate(result["fits"]):
            style = "k-" if g.startswith("GFN2") else f"C{k + 1}--"
            f = result["fits"][g][f"Raman fingerprint vs {against}"]
            if f:
                xs = np.array(ax.get_xlim())
                ax.plot(xs, f["intercept_cm1"] + f["slope_cm1"] * xs, style, lw=1, label=f"fit, {g}")
        ax.set_xlabel(label)
        ax.set_ylabel("Raman fingerprint centroid (cm⁻¹)")
    axes[0, 0].legend(fontsize=6)
    if scan:
        ax = axes[0, 2]
        for name, e in scan["energy_mev"].items():
            ax.plot(scan["torsion_deg"], e, "o-", label=name)
        ax.set_xlabel("H–O–C–C torsion (°), relaxed")
        ax.set_ylabel("energy (meV)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
