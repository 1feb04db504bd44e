"""The model after active learning in classical MD, against classical GFN2-xTB MD (issue #20's ML-MD row).

    OMP_NUM_THREADS=1 python experiments/spectra/active_learning/classical.py    # ≈ 30–40 min; resumable

``rpmd16.py`` compares the final model (``painn_al.pt``: the spectra model fine-tuned through
the active-learning rounds) with the GFN2-xTB RPMD reference; the classical comparison in
``experiments/spectra/report.json`` still uses the spectra model before active learning. This
script runs the classical half with the final model, at the protocol of ``run.py``: PaiNN MD,
4 replicas × 40 000 steps of 0.5 fs (20 ps) from the xTB minimum, NHC at 300 K (chain 3,
τ = 100 fs), μ and α every 4 steps; GFN2-xTB MD, 1 replica × 40 000 steps, same protocol. Spectra:
1 ps discarded, 1 000 fs correlation depth, Hann window, IR and unpolarised Raman, compared by
overlap and band centroids (fingerprint, C–H and O–H stretch), as ``rpmd16.py`` compares them.

The xTB trajectory is ``run.py``'s ``runs/spectra_ethanol/md_xtb.h5`` when it exists, else it is
run here into ``runs/spectra_active_learning/md_xtb.h5`` (≈ 5 min; its IR is checked against the
committed ``spectrum_xtb.csv``: ``reference_ir_overlap_vs_committed``). Writes ``classical.json``
and ``spectrum_classical_al.csv`` here; trajectories stay in ``runs/spectra_active_learning``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPECTRA = HERE.parent
ROOT = HERE.parents[2]
RUNS = ROOT / "runs" / "spectra_active_learning"


def committed_ir(path: Path):
    """The IR column of a committed spectrum CSV (``write_csv``: frequency_cm1, ir, …)."""
    from equimol.spectra.spectrum import Spectrum

    table = np.genfromtxt(path, delimiter=",", names=True)
    return Spectrum(frequency_cm1=table["frequency_cm1"], intensity=table["ir"], label=path.name)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=40_000, help="ML MD steps per replica (default 20 ps)")
    p.add_argument("--replicas", type=int, default=4)
    p.add_argument("--xtb-steps", type=int, default=40_000)
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)

    from rpmd16 import spectra

    from equimol import keys as K
    from equimol.data.formats import read_structures
    from equimol.io import load, write_text
    from equimol.md.model_forces import ModelForceFn
    from equimol.reference.xtb_forces import XTBForceFn
    from equimol.spectra.trajectory import write_csv
    from equimol.workflows.compare import band_centroids, overlap
    from equimol.workflows.demo import DemoSettings, run_md

    ckpt = HERE / "painn_al.pt"
    start = read_structures(SPECTRA / "ethanol_xtb_min.xyz")[0]
    cfg = DemoSettings(dt_fs=0.5, temperature_k=300.0, stride=4, seed=0, progress=not a.no_progress)
    RUNS.mkdir(parents=True, exist_ok=True)
    ref_traj = ROOT / "runs" / "spectra_ethanol" / "md_xtb.h5"
    if not same_protocol(ref_traj, a.xtb_steps, cfg):
        ref_traj = RUNS / "md_xtb.h5"
        print(f"GFN2-xTB MD: 1 replica × {a.xtb_steps} steps -> {ref_traj}", flush=True)
        fn_xtb = XTBForceFn(start[K.ATOMIC_NUMBERS], polarizability_every=cfg.stride)
        run_md(fn_xtb, start, ref_traj, cfg, a.xtb_steps, 1, 1)
    traj = RUNS / "md_classical_al.h5"
    print(f"PaiNN MD ({ckpt.name}): {a.replicas} replicas × {a.steps} steps -> {traj}", flush=True)
    fn = ModelForceFn(load(ckpt), start[K.ATOMIC_NUMBERS])
    wall = run_md(fn, start, traj, cfg, a.steps, 1, a.replicas)
    al = spectra(traj, "PaiNN after active learning, classical MD")
    ref = spectra(ref_traj, "GFN2-xTB MD")
    write_csv(HERE / "spectrum_classical_al.csv", al["all"])
    committed = committed_ir(SPECTRA / "spectrum_xtb.csv")
    out = {
        "model": str(ckpt.relative_to(ROOT)),
        "trajectory": str(traj.relative_to(ROOT)),
        "reference_trajectory": str(ref_traj.relative_to(ROOT)),
        "replicas": a.replicas,
        "steps": a.steps,
        "xtb_steps": json.loads(Path(f"{ref_traj}.time.json").read_text())["steps"],
        "wall_time_s": round(wall, 1),
        "reference_ir_overlap_vs_committed": round(overlap(ref["ir"], committed), 3),
    }
    report = read_json_or_none(SPECTRA / "report.json")
    before = (report or {}).get("spectra", {})
    for kind in ("ir", "raman"):
        c_ref, c_al = band_centroids(ref[kind]), band_centroids(al[kind])
        out[kind] = {
            "overlap_al_vs_xtb_md": round(overlap(al[kind], ref[kind]), 3),
            "overlap_before_vs_xtb_md": before.get(f"{kind}_overlap_ml_md_vs_xtb_md"),
            "centroids_xtb_md": c_ref,
            "centroid_shift_al_minus_xtb": {
                b: None if c_al[b] is None or c_ref[b] is None else round(c_al[b] - c_ref[b], 1)
                for b in c_ref
            },
        }
    write_text(HERE / "classical.json", json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


def same_protocol(traj: Path, steps: int, cfg) -> bool:
    """Whether ``traj`` is a finished trajectory of ``steps`` steps at ``cfg``'s protocol (its
    ``.time.json`` stamp, as ``equimol.workflows.demo.run_md`` writes it)."""
    stamp = Path(f"{traj}.time.json")
    if not traj.exists() or not stamp.exists():
        return False
    done = json.loads(stamp.read_text())
    want = {"steps": steps, "beads": 1, "dt_fs": cfg.dt_fs, "stride": cfg.stride}
    return all(done.get(k) == v for k, v in want.items()) and done.get("thermostat", "nhc") == "nhc"


def read_json_or_none(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


if __name__ == "__main__":
    raise SystemExit(main())
