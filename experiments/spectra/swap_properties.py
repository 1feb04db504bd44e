"""Is an ML-RPMD spectrum off because of its dynamics or because of its dipole/polarizability?

    OMP_NUM_THREADS=1 python experiments/spectra/swap_properties.py     # ≈ 5 min per model -> swap_properties.json

Takes the 16-bead GFN2-xTB RPMD reference trajectory (``runs/spectra_ethanol/md_xtb_rpmd16.h5``,
from ``xtb_rpmd.py``: every bead's geometry, dipole and polarizability every 4 steps) and
replaces its GFN2-xTB dipoles and polarizabilities by a model's, evaluated on the same bead
geometries. The spectra of that hybrid (xTB dynamics, model properties) against the reference
(xTB dynamics, xTB properties) isolate the error of the model's μ and α heads on ring-polymer
geometries; what remains of the ML-RPMD error (``rpmd16.py``: model dynamics, model properties)
is the model's dynamics. Same protocol as ``run.py`` (first ps discarded, 1 000 fs correlation
depth, Hann window), overlap and band centroids of ``equimol.workflows.compare``, plus the share
of the fingerprint window's intensity in five sub-windows (where a centroid moves from).

Models: the spectra model (``painn_spectra.pt``) and member 0 of every finished
active-learning round (``runs/spectra_active_learning/round_K/committee/member_0/best.pt``).
Predictions are cached in ``runs/spectra_swap/``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REFERENCE = ROOT / "runs" / "spectra_ethanol" / "md_xtb_rpmd16.h5"
CACHE = ROOT / "runs" / "spectra_swap"
SUB_WINDOWS = ((400.0, 700.0), (700.0, 1000.0), (1000.0, 1200.0), (1200.0, 1400.0), (1400.0, 1600.0))


def models() -> dict[str, Path]:
    out = {"spectra model": HERE / "painn_spectra.pt"}
    rounds = ROOT / "runs" / "spectra_active_learning"
    for c in sorted(
        rounds.glob("round_*/committee/committee.json"), key=lambda p: int(p.parts[-3].split("_")[1])
    ):
        out[f"active learning {c.parts[-3]}"] = c.parent / "member_0" / "best.pt"
    return out


def predict_properties(ckpt: Path, positions: np.ndarray, z: np.ndarray, frames_per_call: int = 50) -> dict:
    """Dipole (T, R, P, 3) e·Å and polarizability (T, R, P, 3, 3) Å³ of every bead geometry in
    ``positions`` (T, R, P, N, 3) Å."""
    import torch

    from equimol.evaluator import Evaluator
    from equimol.io import load

    ev = Evaluator(load(ckpt), dtype=torch.float64, validate=False)
    t, r, p, n, _ = positions.shape
    flat = positions.reshape(t * r * p, n, 3)
    mu, alpha = [], []
    step = frames_per_call * r * p
    with torch.no_grad():
        for k in range(0, len(flat), step):
            out = ev(ev.positions_batch(flat[k : k + step], z), forces=False)
            mu.append(out["dipole"].numpy())
            alpha.append(out["polarizability"].numpy())
    return {
        "dipole": np.concatenate(mu).reshape(t, r, p, 3),
        "polarizability": np.concatenate(alpha).reshape(t, r, p, 3, 3),
    }


def spectra(data: dict, label: str) -> dict:
    import dataclasses

    from equimol.spectra.trajectory import spectra_from_trajectory

    sp = spectra_from_trajectory(
        data, power=False, depth_fs=1000.0, discard_fs=1000.0, temperature_k=300.0, unpolarized=True
    )
    return {k: dataclasses.replace(sp[k], label=label) for k in ("ir", "raman")}


def shares(s) -> list[float]:
    f, y = s.frequency_cm1, np.clip(s.intensity, 0.0, None)
    total = float(y[(f >= SUB_WINDOWS[0][0]) & (f <= SUB_WINDOWS[-1][1])].sum())
    return [round(float(y[(f >= lo) & (f < hi)].sum()) / total, 3) for lo, hi in SUB_WINDOWS]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reference", type=Path, default=REFERENCE)
    p.add_argument("--out", type=Path, default=HERE / "swap_properties.json")
    a = p.parse_args(argv)

    from equimol.spectra.trajectory import load_trajectory
    from equimol.workflows.compare import band_centroids, overlap

    if not a.reference.exists():
        raise SystemExit(f"{a.reference} not found: run experiments/spectra/xtb_rpmd.py first")
    ref_data = load_trajectory(a.reference)
    ref = spectra(ref_data, "GFN2-xTB RPMD")
    c_ref = {k: band_centroids(ref[k]) for k in ("ir", "raman")}
    out: dict = {
        "reference": str(a.reference.relative_to(ROOT))
        if a.reference.is_relative_to(ROOT)
        else str(a.reference),
        "sub_windows_cm1": [list(w) for w in SUB_WINDOWS],
        "xtb": {k: {"centroids": c_ref[k], "fingerprint_shares": shares(ref[k])} for k in ("ir", "raman")},
        "models": {},
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    pos = np.asarray(ref_data["positions"])
    z = np.asarray(ref_data["atomic_numbers"])
    for name, ckpt in models().items():
        if not ckpt.exists():
            print(f"skip {name}: {ckpt} missing")
            continue
        # one cache per model and reference trajectory, valid while both are unchanged
        cache = CACHE / f"{name.replace(' ', '_')}__{a.reference.stem}.npz"
        newest = max(ckpt.stat().st_mtime, a.reference.stat().st_mtime)
        props = dict(np.load(cache)) if cache.exists() and cache.stat().st_mtime > newest else None
        if props is None or props["dipole"].shape != np.asarray(ref_data["dipole"]).shape:
            props = predict_properties(ckpt, pos, z)
            np.savez(cache, **props)
        hybrid = spectra({**ref_data, **props}, f"xTB RPMD, {name} μ/α")
        row: dict = {
            "checkpoint": str(ckpt.relative_to(ROOT)),
            "dipole_mae_e_angstrom": round(float(np.abs(props["dipole"] - ref_data["dipole"]).mean()), 5),
            "polarizability_mae_angstrom3": round(
                float(np.abs(props["polarizability"] - ref_data["polarizability"]).mean()), 5
            ),
        }
        for k in ("ir", "raman"):
            c = band_centroids(hybrid[k])
            row[k] = {
                "overlap_vs_xtb_rpmd": round(overlap(hybrid[k], ref[k]), 3),
                "centroid_shift_minus_xtb": {
                    b: None if c[b] is None or c_ref[k][b] is None else round(c[b] - c_ref[k][b], 1)
                    for b in c
                },
                "fingerprint_shares": shares(hybrid[k]),
            }
        out["models"][name] = row
        print(name, json.dumps(row))
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
