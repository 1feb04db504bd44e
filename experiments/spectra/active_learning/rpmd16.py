"""The spectra model after active learning against the xTB-RPMD reference (issue #19).

    OMP_NUM_THREADS=1 python experiments/spectra/active_learning/rpmd16.py     # ≈ 35 min; resumable

Takes member 0 of the last round with a complete committee of ``runs/spectra_active_learning`` (the spectra model
``painn_spectra.pt`` fine-tuned on the set the loop grew; ``active_learning.yaml``), exports it as
``experiments/spectra/active_learning/painn_al.pt`` (where no round is here, as in a fresh clone,
it runs the committed ``painn_al.pt``, its trajectories named ``…_al_committed``), and runs the
16-bead ML-RPMD of
``experiments/spectra/run.py`` with it (the same protocol: 10 ps of 0.5 fs steps from the xTB
minimum, 300 K, the ring-polymer Nose-Hoover chains, μ and α every 4 steps, the first ps
discarded, 1 000 fs correlation depth, Hann window). Its spectra are compared with the 16-bead
xTB-RPMD reference and with the spectra model's own 16-bead run (their trajectories in
``--runs-dir``, default ``runs/spectra_ethanol`` of ``run.py``; the spectra model's 10-ps run is
made here from the committed ``painn_spectra.pt`` where it is not there at this protocol; a
reference made with another treatment of the rigid motion is refused): overlap and band
centroids, as ``run.py`` reports them.
Writes ``rpmd16.json`` and ``spectrum_rpmd16_al.csv`` here; the trajectory stays in
``runs/spectra_active_learning/md_rpmd16_al_round_K.h5``. ``--beads 64`` runs the paper's bead
count (``rpmd64.json``, ``spectrum_rpmd64_al.csv``), ``--ref-beads 64`` against the 64-bead
xTB-RPMD reference (``xtb_rpmd.py --beads 64``; default the 16-bead one; suffix ``_ref64``:
``rpmd64_ref64.json``); ``--seed S`` an independent run of the same protocol (suffix ``_seedS``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPECTRA = HERE.parent
ROOT = HERE.parents[2]
RUNS = ROOT / "runs" / "spectra_active_learning"
SPECTRA_MODEL_STEPS = 20_000  # the spectra model's 16-bead run: run.py's rpmd_ref_steps (10 ps)


def last_member0() -> Path | None:
    """Member 0 of the last round whose committee is complete (its committee.json written), or
    None where no round is here (a fresh clone: the committed ``painn_al.pt`` is used)."""
    done = sorted(RUNS.glob("round_*/committee/committee.json"), key=lambda p: int(p.parts[-3].split("_")[1]))
    if not done:
        return None
    return done[-1].parent / "member_0" / "best.pt"


def spectra(traj: Path, label: str) -> dict:
    """IR and unpolarised Raman of a trajectory with the protocol of the module docstring."""
    import dataclasses

    from equimol.spectra.trajectory import spectra_from_trajectory

    sp = spectra_from_trajectory(
        str(traj), power=True, depth_fs=1000.0, discard_fs=1000.0, temperature_k=300.0, unpolarized=True
    )
    raman = sp.pop("raman")  # "all" keeps the CSV's columns: ir, raman_iso, raman_aniso, power
    return {
        "all": sp,
        "ir": dataclasses.replace(sp["ir"], label=label),
        "raman": dataclasses.replace(raman, label=label),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--beads", type=int, default=16, help="64: the paper's bead count (≈ 4× the cost)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="velocity and thermostat seed; other than 0 the trajectory and results get a _seed<S> suffix"
        " (an independent run, for the spread between runs)",
    )
    p.add_argument(
        "--runs-dir",
        type=Path,
        default=ROOT / "runs" / "spectra_ethanol",
        help="folder of the xTB-RPMD reference md_xtb_rpmd16.h5 (xtb_rpmd.py --output-dir) and of the "
        "spectra model's 16-bead run md_rpmd16.h5 (default: run.py's, runs/spectra_ethanol)",
    )
    p.add_argument(
        "--ref-beads",
        type=int,
        default=16,
        help="bead count of the GFN2-xTB RPMD reference in --runs-dir (md_xtb_rpmd<N>.h5; 64: "
        "xtb_rpmd.py --beads 64, the same bead count as --beads 64)",
    )
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)

    from equimol import keys as K
    from equimol.data.formats import read_structures
    from equimol.io import export_inference_checkpoint, load
    from equimol.md.model_forces import ModelForceFn
    from equimol.spectra.trajectory import write_csv
    from equimol.workflows.compare import band_centroids, overlap
    from equimol.workflows.demo import DemoSettings, rigid_motion_record, run_md, same_rigid_motion

    best = last_member0()
    ckpt = HERE / "painn_al.pt"
    if best is not None:
        export_inference_checkpoint(best, ckpt)
        print(f"model: {best} -> {ckpt}")
        model, round_name = str(best.relative_to(ROOT)), best.parts[-4]
    elif ckpt.exists():
        print(f"no active-learning round in {RUNS}: the committed {ckpt.relative_to(ROOT)}")
        model, round_name = str(ckpt.relative_to(ROOT)), "committed"
    else:
        raise SystemExit(f"no trained round in {RUNS} and no {ckpt}: run equimol active-learn first")
    start = read_structures(SPECTRA / "ethanol_xtb_min.xyz")[0]
    cfg = DemoSettings(dt_fs=0.5, temperature_k=300.0, stride=4, seed=a.seed, progress=not a.no_progress)
    # one trajectory per round, bead count and seed (run_md resumes or skips by its settings, not
    # by the model)
    suffix = f"_seed{a.seed}" if a.seed else ""
    traj = RUNS / f"md_rpmd{a.beads}_al_{round_name}{suffix}.h5"
    fn = ModelForceFn(load(ckpt), start[K.ATOMIC_NUMBERS])
    wall = run_md(fn, start, traj, cfg, a.steps, a.beads, 1, thermostat="nhc")
    al = spectra(traj, f"PaiNN after active learning, RPMD {a.beads} beads")
    # results against another reference than the 16-bead one get a _ref<N> suffix (the committed
    # rpmd64.json compares the 64-bead run with the 16-bead reference)
    ref_tag = f"_ref{a.ref_beads}" if a.ref_beads != 16 else ""
    write_csv(HERE / f"spectrum_rpmd{a.beads}_al{suffix}{ref_tag}.csv", al["all"])
    # the trajectories of experiments/spectra/run.py (its CSVs are normalised per column, so the
    # unpolarised Raman is rebuilt from the trajectories): the xTB-RPMD reference of xtb_rpmd.py,
    # and the spectra model's 16-bead run, made here with the committed painn_spectra.pt where
    # run.py has not made it (run_md skips a finished run of the same settings)
    sp_runs = a.runs_dir.resolve()
    ref_traj = sp_runs / f"md_xtb_rpmd{a.ref_beads}.h5"
    make_ref = (
        f"experiments/spectra/xtb_rpmd.py --beads {a.ref_beads} --ps {10 if a.ref_beads == 16 else 5} "
        f"--classical-ps 0 --output-dir {sp_runs}"
    )
    if not Path(f"{ref_traj}.time.json").exists():
        raise SystemExit(f"{ref_traj} is not finished: run {make_ref} first")
    if not same_rigid_motion(Path(f"{ref_traj}.time.json"), cfg):
        raise SystemExit(
            f"{ref_traj} treated the rigid motion otherwise than this run ({rigid_motion_record(cfg)}): "
            f"rerun {make_ref}"
        )
    before_traj = sp_runs / "md_rpmd16.h5"
    if a.beads == 16 and not a.seed:
        spectra_model = ModelForceFn(load(SPECTRA / "painn_spectra.pt"), start[K.ATOMIC_NUMBERS])
        run_md(spectra_model, start, before_traj, cfg, SPECTRA_MODEL_STEPS, 16, 1, thermostat="nhc")
    ref = spectra(ref_traj, f"GFN2-xTB RPMD {a.ref_beads} beads")
    # the spectra model's run is made with seed 0 at 16 beads; other runs compare with it where it
    # is there at this protocol, and leave its fields out otherwise
    # (16 beads: against the 16-bead reference only)
    has_before = a.ref_beads == 16 and same_rigid_motion(Path(f"{before_traj}.time.json"), cfg)
    before = spectra(before_traj, "PaiNN (spectra model), RPMD 16 beads") if has_before else None
    out = {
        "model": model,
        "trajectory": str(traj.relative_to(ROOT)),
        "beads": a.beads,
        "reference_beads": a.ref_beads,
        "reference_trajectory": str(ref_traj.relative_to(ROOT))
        if ref_traj.is_relative_to(ROOT)
        else str(ref_traj),
        "seed": a.seed,
        "steps": a.steps,
        "dt_fs": cfg.dt_fs,
        **rigid_motion_record(cfg),  # the centroid's centre-of-mass motion and rotation (session 13)
        "wall_time_s": round(wall, 1),
    }
    # the hydroxyl conformer each run sampled (the fingerprint bands depend on it)
    import sys

    if str(SPECTRA) not in sys.path:
        sys.path.insert(0, str(SPECTRA))
    from runs_compare import conformers

    out["conformers"] = {"model": conformers(traj), "reference": conformers(ref_traj)}

    def shifts(c: dict, c_ref: dict) -> dict:
        return {b: None if c[b] is None or c_ref[b] is None else round(c[b] - c_ref[b], 1) for b in c_ref}

    for kind in ("ir", "raman"):
        c_ref = band_centroids(ref[kind])
        out[kind] = {
            "overlap_al_vs_xtb_rpmd": round(overlap(al[kind], ref[kind]), 3),
            "centroids_xtb_rpmd": c_ref,
            "centroid_shift_al_minus_xtb": shifts(band_centroids(al[kind]), c_ref),
        }
        if before is not None:
            out[kind]["overlap_before_vs_xtb_rpmd"] = round(overlap(before[kind], ref[kind]), 3)
            out[kind]["centroid_shift_before_minus_xtb"] = shifts(band_centroids(before[kind]), c_ref)
    (HERE / f"rpmd{a.beads}{suffix}{ref_tag}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
