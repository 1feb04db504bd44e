"""The model after active learning in classical MD, against classical GFN2-xTB MD (issue #20's ML-MD row).

    OMP_NUM_THREADS=1 python experiments/spectra/active_learning/classical.py    # ≈ 30–40 min; resumable

``rpmd16.py`` compares the final model (``painn_al.pt``: the spectra model fine-tuned through
the active-learning rounds) with the GFN2-xTB RPMD reference; the classical comparison in
``experiments/spectra/report.json`` still uses the spectra model before active learning. This
script runs the classical half with the final model, at the protocol of ``run.py``: PaiNN MD,
4 replicas × 40 000 steps of 0.5 fs (20 ps) from the xTB minimum, NHC at 300 K (chain 3,
τ = 100 fs), μ and α every 4 steps. Spectra: 1 ps discarded, 1 000 fs correlation depth, Hann
window, IR and unpolarised Raman, compared by overlap and band centroids (fingerprint, C–H and
O–H stretch), as ``rpmd16.py`` compares them.

The reference is GFN2-xTB MD at the same protocol and the same statistics, 4 replicas × 20 ps
(``--xtb-replicas``; ``run.py``'s reference is one replica): two single-replica xTB runs of 20 ps
agree only to an IR overlap of 0.90 (this script's first run against the committed
``spectrum_xtb.csv``), the very threshold of the comparison. The noise floor is reported too:
the overlap between the spectra of replicas 1–2 and 3–4 of each trajectory (``half_overlap``).
The spectra model before active learning (its committed 4 × 20 ps ``spectrum_classical.csv``)
is compared with the same reference (IR only: the CSV's Raman columns are normalised apart).
Writes ``classical.json`` and ``spectrum_classical_al.csv`` here; trajectories stay in
``runs/spectra_active_learning`` (the xTB one ≈ 25 min, the PaiNN one ≈ 10 min on one core).

The MD removes the centre-of-mass motion and redraws the rotation at 300 K every 1 000 fs, as the
spectra workflows do (``DemoSettings.rotation_resample_fs``); ``--rotation-resample-fs 0`` removes
the rotation instead and writes ``classical_norot.json`` (the comparison of the two treatments of a
free molecule's rotation, ``experiments/spectra/README.md``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from equimol.md.config import SPECTRA_ROTATION_RESAMPLE_FS

HERE = Path(__file__).resolve().parent
SPECTRA = HERE.parent
ROOT = HERE.parents[2]
RUNS = ROOT / "runs" / "spectra_active_learning"
BEFORE = SPECTRA / "painn_spectra.pt"  # the spectra model before active learning


def half_overlap(traj: Path, kind: str) -> float:
    """Overlap of the ``kind`` spectra of the first and second half of the replicas of ``traj``
    (the protocol of ``rpmd16.spectra``)."""
    from equimol.spectra.trajectory import load_trajectory, spectra_from_trajectory
    from equimol.workflows.compare import overlap

    data = load_trajectory(traj)
    n = data["dipole"].shape[1]
    per_replica = ("positions", "velocities", "dipole", "polarizability")
    halves = []
    for part in (slice(0, n // 2), slice(n // 2, n)):
        sub = {k: v[:, part] if k in per_replica else v for k, v in data.items()}
        sp = spectra_from_trajectory(
            sub, power=False, depth_fs=1000.0, discard_fs=1000.0, temperature_k=300.0, unpolarized=True
        )
        halves.append(sp[kind])
    return overlap(*halves)


def rotation_tag(resample_fs: float) -> str:
    """File-name suffix of a treatment of the rotation: none for the spectra workflows' default,
    ``_norot`` for the rotation removed (0), ``_rotFS`` for another interval."""
    if resample_fs == SPECTRA_ROTATION_RESAMPLE_FS:
        return ""
    return "_norot" if not resample_fs else f"_rot{resample_fs:g}"


def conformers(traj: Path, discard_fs: float = 1000.0) -> dict:
    """Per replica of ``traj``, after ``discard_fs``: the fraction of frames in the trans
    conformer (hydroxyl torsion beyond 120°) and the number of conformer changes
    (``fingerprint.conformer_record``): how well each replica samples the torsion."""
    import sys

    if str(SPECTRA) not in sys.path:  # fingerprint.py beside this folder; once per process
        sys.path.insert(0, str(SPECTRA))
    from fingerprint import conformer_record

    return conformer_record(traj, discard_fs)


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
    p.add_argument("--xtb-replicas", type=int, default=4, help="replicas of the GFN2-xTB MD (default 4)")
    p.add_argument(
        "--rotation-resample-fs",
        type=float,
        default=SPECTRA_ROTATION_RESAMPLE_FS,
        metavar="FS",
        help="redraw the rotation at T every FS fs (MDConfig.rotation_resample_fs; default "
        f"{SPECTRA_ROTATION_RESAMPLE_FS:g}, the spectra workflows'); 0: remove it. Other than the "
        "default, trajectories and results get the suffix _rotFS, or _norot for 0 (classical_norot.json)",
    )
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)

    from rpmd16 import spectra

    from equimol import keys as K
    from equimol.data.formats import read_structures
    from equimol.io import load, write_text
    from equimol.md.model_forces import ModelForceFn
    from equimol.reference.xtb_forces import XTBForceFn
    from equimol.spectra.trajectory import trajectory_temperatures, write_csv
    from equimol.workflows.compare import band_centroids, overlap
    from equimol.workflows.demo import DemoSettings, rigid_motion_record, run_md

    ckpt = HERE / "painn_al.pt"
    start = read_structures(SPECTRA / "ethanol_xtb_min.xyz")[0]
    cfg = DemoSettings(
        dt_fs=0.5,
        temperature_k=300.0,
        stride=4,
        seed=0,
        progress=not a.no_progress,
        rotation_resample_fs=a.rotation_resample_fs or None,
    )
    tag = rotation_tag(a.rotation_resample_fs)
    RUNS.mkdir(parents=True, exist_ok=True)
    ref_traj = RUNS / f"md_xtb_r{a.xtb_replicas}{tag}.h5"
    print(f"GFN2-xTB MD: {a.xtb_replicas} replicas × {a.xtb_steps} steps -> {ref_traj}", flush=True)
    fn_xtb = XTBForceFn(start[K.ATOMIC_NUMBERS], polarizability_every=cfg.stride)
    run_md(fn_xtb, start, ref_traj, cfg, a.xtb_steps, 1, a.xtb_replicas)
    traj = RUNS / f"md_classical_al{tag}.h5"
    print(f"PaiNN MD ({ckpt.name}): {a.replicas} replicas × {a.steps} steps -> {traj}", flush=True)
    fn = ModelForceFn(load(ckpt), start[K.ATOMIC_NUMBERS])
    wall = run_md(fn, start, traj, cfg, a.steps, 1, a.replicas)
    before_traj = RUNS / f"md_classical_before{tag}.h5"
    print(f"PaiNN MD ({BEFORE.name}): {a.replicas} replicas × {a.steps} steps -> {before_traj}", flush=True)
    run_md(
        ModelForceFn(load(BEFORE), start[K.ATOMIC_NUMBERS]), start, before_traj, cfg, a.steps, 1, a.replicas
    )
    al = spectra(traj, "PaiNN after active learning, classical MD")
    ref = spectra(ref_traj, "GFN2-xTB MD")
    before = spectra(before_traj, "PaiNN before active learning, classical MD")
    write_csv(HERE / f"spectrum_classical_al{tag}.csv", al["all"])
    committed = committed_ir(SPECTRA / "spectrum_xtb.csv")
    out = {
        "model": str(ckpt.relative_to(ROOT)),
        "trajectory": str(traj.relative_to(ROOT)),
        "reference_trajectory": str(ref_traj.relative_to(ROOT)),
        "model_before": str(BEFORE.relative_to(ROOT)),
        "trajectory_before": str(before_traj.relative_to(ROOT)),
        "replicas": a.replicas,
        "steps": a.steps,
        "xtb_steps": a.xtb_steps,
        "xtb_replicas": a.xtb_replicas,
        **rigid_motion_record(cfg),
        "wall_time_s": round(wall, 1),
        # the committed single replica of run.py (spectrum_xtb.csv) was run with the rigid motion
        # of its random start kept: this overlap compares the two protocols
        "reference_ir_overlap_vs_committed_single_replica": round(overlap(ref["ir"], committed), 3),
        "kinetic_temperatures_k": {
            name: {k: [round(float(x), 1) for x in v] for k, v in trajectory_temperatures(t, 1000.0).items()}
            for name, t in (("xtb_md", ref_traj), ("al", traj), ("before", before_traj))
        },
        "conformers_per_replica": {
            name: conformers(t) for name, t in (("xtb_md", ref_traj), ("al", traj), ("before", before_traj))
        },
    }

    def shifts(c, c_ref):
        return {b: None if c[b] is None or c_ref[b] is None else round(c[b] - c_ref[b], 1) for b in c_ref}

    for kind in ("ir", "raman"):
        c_ref, c_al = band_centroids(ref[kind]), band_centroids(al[kind])
        out[kind] = {
            "overlap_al_vs_xtb_md": round(overlap(al[kind], ref[kind]), 3),
            "half_overlap_xtb_md": round(half_overlap(ref_traj, kind), 3),
            "half_overlap_al": round(half_overlap(traj, kind), 3),
            "centroids_xtb_md": c_ref,
            "centroid_shift_al_minus_xtb": shifts(c_al, c_ref),
        }
        out[kind]["overlap_before_vs_xtb_md"] = round(overlap(before[kind], ref[kind]), 3)
        out[kind]["half_overlap_before"] = round(half_overlap(before_traj, kind), 3)
        out[kind]["centroid_shift_before_minus_xtb"] = shifts(band_centroids(before[kind]), c_ref)
    write_text(HERE / f"classical{tag}.json", json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
