"""Reference RPMD spectrum of ethanol without ML: ring-polymer MD driven by GFN2-xTB itself.

    OMP_NUM_THREADS=1 python experiments/spectra/xtb_rpmd.py            # resumable; ~1 h on one core
    python experiments/spectra/xtb_rpmd.py --beads 16 --ps 5 --dt-fs 0.5

The known answer for ML-RPMD, as xTB-MD is for ML-MD (issue #19): the same protocol as the ML
runs of ``experiments/spectra/run.py`` (xTB minimum as start, 300 K, the paper's ring-polymer
Nose-Hoover chains ``--thermostat nhc`` with chain 3 and τ = 100 fs, dipole and polarizability
every ``--stride`` steps, the first ``--discard-fs`` dropped, 1 000 fs correlation depth, Hann
window, centroid (bead-averaged) dipole and polarizability), only with 16 beads and 5 ps to fit
one CPU core: each step is ``--beads`` xTB single points, and every recorded frame adds the
7-SCF finite-field polarizability of every bead.

Writes runs/spectra_ethanol/md_xtb_rpmd<P>.h5 (restartable; rerun to continue) and, when the
trajectory is complete, experiments/spectra/spectrum_<NAME>.csv and <NAME>.json (``--name``,
default ``xtb_rpmd``: issue #19's file name for the committed 16-bead, 10 ps reference)
(main IR/Raman bands, overlap and band shifts against classical xTB MD of the same protocol,
run here too unless ``--classical-ps 0``; timing, CPU model).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from equimol.benchmark.timing import cpu_model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--beads", type=int, default=16)
    p.add_argument("--ps", type=float, default=5.0, help="trajectory length in ps")
    p.add_argument("--dt-fs", type=float, default=0.5)
    p.add_argument("--stride", type=int, default=4, help="steps between recorded dipoles/polarizabilities")
    p.add_argument("--discard-fs", type=float, default=1000.0)
    p.add_argument("--depth-fs", type=float, default=1000.0)
    p.add_argument("--temperature-k", type=float, default=300.0)
    p.add_argument(
        "--classical-ps",
        type=float,
        default=20.0,
        help="also run (or reuse) classical xTB MD of this length for the comparison (0: skip)",
    )
    p.add_argument("--output-dir", default=str(ROOT / "runs" / "spectra_ethanol"))
    p.add_argument(
        "--name", default="xtb_rpmd", help="results go to experiments/spectra/spectrum_NAME.csv and NAME.json"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="velocity and thermostat seed; other than 0 the trajectory is md_xtb_rpmd<P>_seed<S>.h5 (an"
        " independent run of the same protocol, for the spread between runs)",
    )
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args()

    from equimol import keys as K
    from equimol.reference.molecules import ethanol
    from equimol.reference.sampling import relax
    from equimol.reference.xtb_forces import XTBForceFn
    from equimol.spectra.raman import combine_raman
    from equimol.spectra.trajectory import spectra_from_trajectory, write_csv
    from equimol.workflows.compare import band_centroids, band_positions, main_peaks, match_peaks, overlap
    from equimol.workflows.demo import DemoSettings, rigid_motion_record, run_md, same_rigid_motion

    out = Path(a.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps = int(round(a.ps * 1000.0 / a.dt_fs))
    cfg = DemoSettings(
        output_dir=str(out),
        dt_fs=a.dt_fs,
        stride=a.stride,
        temperature_k=a.temperature_k,
        depth_fs=a.depth_fs,
        discard_fs=a.discard_fs,
        progress=not a.no_progress,
        seed=a.seed,
    )
    start = relax(ethanol())
    path = out / (f"md_xtb_rpmd{a.beads}.h5" if a.seed == 0 else f"md_xtb_rpmd{a.beads}_seed{a.seed}.h5")
    print(f"GFN2-xTB RPMD: {a.beads} beads x {steps} steps of {a.dt_fs} fs ({a.ps} ps), NHC, -> {path}")
    fn = XTBForceFn(start[K.ATOMIC_NUMBERS], polarizability_every=a.stride)
    t0 = time.perf_counter()
    wall = run_md(fn, start, path, cfg, steps, a.beads, 1, thermostat="nhc")
    print(f"trajectory done ({wall:.0f} s of MD in all; {time.perf_counter() - t0:.0f} s in this call)")

    depth = min(a.depth_fs, 0.5 * (a.ps * 1000.0 - a.discard_fs))
    kw = dict(ir=True, raman=True, power=True, depth_fs=depth, discard_fs=a.discard_fs)
    sp = spectra_from_trajectory(str(path), temperature_k=a.temperature_k, **kw)
    tag = a.name
    write_csv(HERE / f"spectrum_{tag}.csv", sp)
    curves = {"ir": sp["ir"], "raman": combine_raman(sp["raman_iso"], sp["raman_aniso"])}
    report: dict = {
        "command": (
            f"python experiments/spectra/xtb_rpmd.py --beads {a.beads} --ps {a.ps} --dt-fs {a.dt_fs} --name {a.name}"
            + (f" --seed {a.seed}" if a.seed else "")
        ),
        "beads": a.beads,
        "seed": a.seed,
        "steps": steps,
        "dt_fs": a.dt_fs,
        "stride": a.stride,
        "thermostat": "nhc (ring-polymer Nose-Hoover chains, chain 3, tau 100 fs)",
        **rigid_motion_record(cfg),  # the centroid's centre-of-mass motion and rotation (session 13)
        "discard_fs": a.discard_fs,
        "depth_fs": depth,
        "wall_time_s": round(wall, 1),
        "ms_per_step": round(1000.0 * wall / steps, 2),
        "cpu": cpu_model(),
        "main_peaks_cm1": {k: [round(float(f), 1) for f in main_peaks(c)] for k, c in curves.items()},
        "bands_cm1": {k: band_positions(c) for k, c in curves.items()},
        "band_centroids_cm1": {k: band_centroids(c) for k, c in curves.items()},
    }
    classical = out / "md_xtb.h5"
    if a.classical_ps > 0:
        n_cl = int(round(a.classical_ps * 1000.0 / a.dt_fs))
        print(f"classical GFN2-xTB MD, the same protocol: {n_cl} steps -> {classical}")
        fn = XTBForceFn(start[K.ATOMIC_NUMBERS], polarizability_every=a.stride)
        report["classical_wall_time_s"] = round(run_md(fn, start, classical, cfg, n_cl, 1, 1), 1)
        report["classical_ps"] = a.classical_ps
    if classical.exists() and same_rigid_motion(Path(f"{classical}.time.json"), cfg):
        ref = spectra_from_trajectory(str(classical), temperature_k=a.temperature_k, **kw)
        ref_curves = {"ir": ref["ir"], "raman": combine_raman(ref["raman_iso"], ref["raman_aniso"])}
        report["vs_xtb_md"] = {
            k: {
                "overlap": round(overlap(curves[k], ref_curves[k]), 3),
                "peaks": match_peaks(main_peaks(ref_curves[k]), main_peaks(curves[k])),
                "bands_cm1_xtb_md": band_positions(ref_curves[k]),
                "band_centroids_cm1_xtb_md": band_centroids(ref_curves[k]),
            }
            for k in curves
        }
    (HERE / f"{tag}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
