"""ML-RPMD against xTB-RPMD over independent runs: band centroids with their run-to-run spread,
and the positions of the individual fingerprint peaks (issue #19, item 5).

    OMP_NUM_THREADS=1 python experiments/spectra/runs_compare.py     # ≈ 1 min -> runs_compare.json
    python experiments/spectra/runs_compare.py --beads 64 --runs-dir runs/spectra_rpmd   # -> runs_compare_64.json

``--beads 64`` compares the paper's bead count the same way (``xtb_rpmd.py --beads 64 [--seed S]``
against ``rpmd16.py --beads 64 [--seed S]``); every run's hydroxyl conformer (trans fraction and
changes, ``fingerprint.py``) is recorded, since the fingerprint bands move with it.

One 10-ps trajectory does not fix a band centroid to 20 cm⁻¹: under the paper's global
thermostat the kinetic energy of a 9-atom molecule is shared unevenly among its modes for
picoseconds, and the hydroxyl conformers change a few dozen times (``fingerprint.py``). So the
comparison uses every independent run of each potential (different seeds of the same protocol:
16 beads, 0.5 fs, 300 K, ring-polymer NHC, first ps discarded, 1 000 fs correlation depth, Hann
window):

- per run, the IR and Raman band centroids (``equimol.workflows.compare.band_centroids``) and the
  overlap with every xTB-RPMD run;
- per potential, the mean of the runs (each run weighted by its production length) and the
  spread between runs; the xTB-RPMD runs against each other give the overlap and centroid
  differences that two runs of the *same* potential show;
- the fingerprint peaks (400–1600 cm⁻¹, ``main_peaks``, at least 5 % of the highest) of the
  spectrum averaged over the xTB runs, each matched to the nearest peak of the averaged model
  spectrum within 60 cm⁻¹: peak positions, which move only when a band moves, against centroids,
  which also move when intensity moves between bands.

The model runs are the 16-bead runs of ``active_learning/rpmd16.py`` with the last round's model
(``--seed``); the xTB runs those of ``xtb_rpmd.py`` (``--seed``). A 64-bead run of the same model
(``rpmd16.py --beads 64``, the paper's bead count) is compared with both 16-bead averages
(``beads_64``: not an error measure, the distance from bead convergence). The averaged spectra go
to ``spectrum_xtb_rpmd_runs.csv`` and ``spectrum_rpmd_ref_beads.csv`` (issue #19's name for
ML-RPMD at the reference's beads), plotted in ``ir_rpmd_runs.png`` and ``raman_rpmd_runs.png``;
the 64-bead run's spectra to ``spectrum_rpmd.csv`` (issue #19's name for ML-RPMD at 64 beads).
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
# the averaged spectra (columns frequency_cm1, ir, raman_iso, raman_aniso, each normalised to 1),
# xTB first; the model's is issue #19's ML-RPMD at the reference's beads and protocol (the xTB
# reference of that name, spectrum_xtb_rpmd.csv, stays the single run of xtb_rpmd.py's command)
CSV_NAMES = ("spectrum_xtb_rpmd_runs.csv", "spectrum_rpmd_ref_beads.csv")


def todays(path: Path) -> bool:
    """Whether ``path`` is a finished trajectory made with today's treatment of the rigid motion
    (its stamp; ``equimol.workflows.demo.same_rigid_motion``): runs of another protocol are left
    out of the comparison."""
    from equimol.workflows.demo import DemoSettings, same_rigid_motion

    stamp = Path(f"{path}.time.json")
    return path.exists() and stamp.exists() and same_rigid_motion(stamp, DemoSettings())


def xtb_runs(folder: Path, beads: int = 16) -> dict[str, Path]:
    out = {"seed 0": folder / f"md_xtb_rpmd{beads}.h5"}
    for p in sorted(folder.glob(f"md_xtb_rpmd{beads}_seed*.h5")):
        out[f"seed {p.stem.rsplit('seed', 1)[1]}"] = p
    return {k: v for k, v in out.items() if todays(v)}


def model_runs(round_name: str | None, beads: int = 16) -> tuple[str, dict[str, Path]]:
    """The ``beads``-bead runs of ``rpmd16.py`` at today's protocol: of the active-learning round
    ``round_name``, else of the committed final model (``committed``) or the last round."""
    pattern = re.compile(rf"md_rpmd{beads}_al_(round_\d+|committed)(?:_seed(\d+))?$")
    found: dict[str, dict[str, Path]] = {}
    for p in (RUNS / "spectra_active_learning").glob(f"md_rpmd{beads}_al_*.h5"):
        m = pattern.match(p.stem)
        if m and todays(p):
            found.setdefault(m[1], {})[f"seed {m[2] or 0}"] = p
    if not found:
        raise SystemExit(
            f"no {beads}-bead ML-RPMD run at today's protocol in runs/spectra_active_learning: "
            f"run active_learning/rpmd16.py --beads {beads}"
        )
    name = round_name or max(found, key=lambda r: float("inf") if r == "committed" else int(r.split("_")[1]))
    return name, dict(sorted(found[name].items()))


def conformers(path: Path, discard_fs: float = 1000.0) -> dict:
    """The centroid's hydroxyl conformer over the production part of a run (replica 0 of
    ``fingerprint.conformer_record``): the fraction of frames in trans and the number of changes.
    The fingerprint bands depend on the conformer, so runs that sample the torsion differently
    differ there."""
    import sys

    if str(HERE) not in sys.path:  # fingerprint.py beside this file, also when imported
        sys.path.insert(0, str(HERE))
    from fingerprint import conformer_record

    rec = conformer_record(path, discard_fs)
    return {"trans_fraction": rec["trans_fraction"][0], "changes": rec["conformer_changes"][0]}


def spectra(path: Path) -> tuple[dict, float]:
    """IR and unpolarised Raman of a trajectory (protocol of the module docstring) and its
    production length in ps."""
    from equimol.spectra.trajectory import load_trajectory, spectra_from_trajectory

    data = load_trajectory(path)
    sp = spectra_from_trajectory(
        data, power=False, depth_fs=1000.0, discard_fs=1000.0, temperature_k=300.0, unpolarized=True
    )
    t = np.asarray(data["time_fs"])
    return sp, (float(t[-1] - t[0]) - 1000.0) / 1000.0


def average(curves: list, weights: list[float]):
    """Mean of spectra of one protocol (same units, same frequency axis), weighted by production
    length: the runs' correlation functions averaged with the weight of their frame counts."""
    import dataclasses

    if not curves:
        raise ValueError("no spectra to average")
    base = curves[0]
    total = np.zeros_like(base.intensity)
    for c, w in zip(curves, weights, strict=True):
        if not np.allclose(c.frequency_cm1, base.frequency_cm1):
            raise ValueError("spectra on different frequency axes: use the same correlation depth and stride")
        total += w * c.intensity
    return dataclasses.replace(base, intensity=total / sum(weights))


def spread(values: list[float | None]) -> float | None:
    """Standard deviation between runs (ddof 1); None with fewer than two values."""
    v = [x for x in values if x is not None]
    return round(float(np.std(v, ddof=1)), 1) if len(v) > 1 else None


def _minus(a: dict, b: dict) -> dict:
    return {k: None if a[k] is None or b[k] is None else round(a[k] - b[k], 1) for k in a}


def plot_averages(
    ref_mean: dict, mod_mean: dict, g_ref: str, g_mod: str, groups: dict, beads: int = 16
) -> None:
    """ir_rpmd_runs.png and raman_rpmd_runs.png (``_64`` etc. for other bead counts): the two
    averages over runs, overlaid."""
    import dataclasses

    from equimol.spectra.plot import plot_spectra

    n = {g: len(v["runs"]) for g, v in groups.items()}
    for kind, title in (("ir", "IR"), ("raman", "Raman (unpolarised)")):
        curves = [
            dataclasses.replace(ref_mean[kind], label=f"{g_ref}, {n[g_ref]} runs"),
            dataclasses.replace(mod_mean[kind], label=f"{g_mod}, {n[g_mod]} runs"),
        ]
        plot_spectra(
            curves,
            HERE / f"{kind}_rpmd_runs{'' if beads == 16 else f'_{beads}'}.png",
            xlim_cm1=(400.0, 4000.0),
            title=f"ethanol {title}, 300 K, {beads}-bead RPMD averaged over independent runs",
        )


def difference_stderr(groups: dict, kind: str) -> dict:
    """Standard error of the difference of the two groups' mean centroids, per band, from the
    run-to-run variance pooled over both groups (Σ(n−1)s² / Σ(n−1)) times sqrt(1/n₁ + 1/n₂),
    with its degrees of freedom; None where no group has two runs."""
    out: dict = {}
    ns = [len(g["runs"]) for g in groups.values()]
    bands = next(iter(groups.values()))["average"][kind]["centroids_cm1"]
    for b in bands:
        num = dof = 0.0
        for g in groups.values():
            vals = [r[f"{kind}_centroids_cm1"][b] for r in g["runs"].values()]
            vals = [v for v in vals if v is not None]
            if len(vals) > 1:
                num += (len(vals) - 1) * float(np.var(vals, ddof=1))
                dof += len(vals) - 1
        out[b] = (
            {"stderr": round(float(np.sqrt(num / dof * sum(1.0 / n for n in ns))), 1), "dof": int(dof)}
            if dof
            else None
        )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--round", help="active-learning round of the model runs (default: the last with a run)")
    p.add_argument(
        "--beads",
        type=int,
        default=16,
        help="bead count of the runs (64: xtb_rpmd.py --beads 64 and rpmd16.py --beads 64 runs; "
        "outputs get a _64 suffix: runs_compare_64.json, ir_rpmd_runs_64.png, …)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="default runs_compare.json (_<beads> for other counts)"
    )
    p.add_argument(
        "--runs-dir",
        type=Path,
        default=RUNS / "spectra_ethanol",
        help="folder of the xTB-RPMD runs (xtb_rpmd.py --output-dir; default runs/spectra_ethanol)",
    )
    a = p.parse_args(argv)

    from equimol.spectra.trajectory import write_csv
    from equimol.workflows.compare import band_centroids, main_peaks, match_peaks, overlap
    from equimol.workflows.demo import DemoSettings, rigid_motion_record

    tag = "" if a.beads == 16 else f"_{a.beads}"
    out_json = a.out or HERE / f"runs_compare{tag}.json"
    round_name, model = model_runs(a.round, a.beads)
    groups = {
        f"GFN2-xTB RPMD {a.beads}": xtb_runs(a.runs_dir.resolve(), a.beads),
        f"PaiNN RPMD {a.beads} (active learning {round_name})": model,
    }
    result: dict = {"beads": a.beads, "groups": {}, **rigid_motion_record(DemoSettings())}
    means: dict = {}
    for g, runs in groups.items():
        rows, curves, weights = {}, {"ir": [], "raman": [], "raman_iso": [], "raman_aniso": []}, []
        for name, path in runs.items():
            try:
                sp, ps = spectra(path)
                conf = conformers(path)
            except OSError as e:  # still being written (HDF5 lock)
                print(f"skip {g}, {name}: {e}")
                continue
            weights.append(ps)
            rows[name] = {
                "file": str(path.relative_to(ROOT)),
                "production_ps": round(ps, 2),
                "conformers": conf,
            }
            for kind in curves:
                curves[kind].append(sp[kind])
            for kind in ("ir", "raman"):
                rows[name][f"{kind}_centroids_cm1"] = band_centroids(sp[kind])
        if not weights:
            raise SystemExit(f"{g}: no finished run to compare")
        mean = {kind: average(curves[kind], weights) for kind in curves}
        means[g] = (mean, curves)
        csv = HERE / CSV_NAMES[len(means) - 1].replace(".csv", f"{tag}.csv")
        write_csv(csv, {k: mean[k] for k in ("ir", "raman_iso", "raman_aniso")})
        result.setdefault("csv", {})[g] = csv.name
        summary = {}
        for kind in ("ir", "raman"):
            c = band_centroids(mean[kind])
            sd = {b: spread([r[f"{kind}_centroids_cm1"][b] for r in rows.values()]) for b in c}
            summary[kind] = {"centroids_cm1": c, "run_to_run_std_cm1": sd, "runs": len(rows)}
        result["groups"][g] = {"runs": rows, "average": summary}

    (g_ref, (ref_mean, ref_curves)), (g_mod, (mod_mean, mod_curves)) = means.items()
    cmp: dict = {}
    for kind in ("ir", "raman"):
        c_ref, c_mod = band_centroids(ref_mean[kind]), band_centroids(mod_mean[kind])
        ref_peaks = main_peaks(ref_mean[kind], n=10, lo=400.0, hi=1600.0)
        mod_peaks = main_peaks(mod_mean[kind], n=10, lo=400.0, hi=1600.0)
        cmp[kind] = {
            "overlap_averages": round(overlap(mod_mean[kind], ref_mean[kind]), 3),
            "overlap_each_model_run_vs_each_xtb_run": [
                round(overlap(m, r), 3) for m in mod_curves[kind] for r in ref_curves[kind]
            ],
            "overlap_between_xtb_runs": [
                round(overlap(ref_curves[kind][i], ref_curves[kind][j]), 3)
                for i in range(len(ref_curves[kind]))
                for j in range(i + 1, len(ref_curves[kind]))
            ],
            "centroid_difference_cm1": {
                b: None if c_mod[b] is None or c_ref[b] is None else round(c_mod[b] - c_ref[b], 1)
                for b in c_ref
            },
            "centroid_difference_stderr_cm1": difference_stderr(result["groups"], kind),
            "fingerprint_peaks": match_peaks(ref_peaks, mod_peaks, window=60.0),
        }
    result["model_minus_xtb"] = cmp
    plot_averages(ref_mean, mod_mean, g_ref, g_mod, result["groups"], a.beads)
    # the paper's bead count with the same model: how far 16 beads are from converged
    paths_64 = (
        (RUNS / "spectra_active_learning").glob(f"md_rpmd64_al_{round_name}*.h5") if a.beads == 16 else ()
    )
    for path in sorted(paths_64):
        if not todays(path):
            continue
        try:
            sp, ps = spectra(path)
        except OSError as e:
            print(f"skip {path.name}: {e}")
            continue
        write_csv(HERE / "spectrum_rpmd.csv", {k: sp[k] for k in ("ir", "raman_iso", "raman_aniso")})
        result.setdefault("beads_64", {})[path.stem] = {
            "production_ps": round(ps, 2),
            **{
                kind: {
                    "centroids_cm1": band_centroids(sp[kind]),
                    "minus_model_16_cm1": _minus(band_centroids(sp[kind]), band_centroids(mod_mean[kind])),
                    "minus_xtb_16_cm1": _minus(band_centroids(sp[kind]), band_centroids(ref_mean[kind])),
                    "overlap_vs_model_16": round(overlap(sp[kind], mod_mean[kind]), 3),
                    "overlap_vs_xtb_16": round(overlap(sp[kind], ref_mean[kind]), 3),
                }
                for kind in ("ir", "raman")
            },
        }
    out_json.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
