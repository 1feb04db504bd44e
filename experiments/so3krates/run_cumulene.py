"""So3krates Fig. 2: the end-group twist profile of cumulenes, local vs non-local models.

    python experiments/so3krates/run_cumulene.py                  # data (if missing), split, train, evaluate
    python experiments/so3krates/run_cumulene.py --minutes 20     # longer budget: resumes unfinished runs
    python experiments/so3krates/run_cumulene.py --report-only    # evaluate the checkpoints there are
    python experiments/so3krates/run_cumulene.py --smoke          # tiny end-to-end check, outputs in /tmp

Data (experiments/reference_data, GFN2-xTB): for every chain length H2C=(C=)_{n-2}CH2,
n = 3…7 carbons, ``--samples`` normal-mode samples at 300 K, each with the last CH2 twisted by a
uniform random angle in [0°, 180°), and the rigid 180-point twist scan from the minimum. As in
the paper, one model is trained on all chain lengths together; the rigid twist profile of the
longest chain (C7 by default) is the test the figure shows. The scans of the shorter chains are
evaluated too. Per chain length, ``--test-per-n`` and ``--val-per-n`` random samples (seed
1000 + n) go to the test and validation sets, the rest to training; the split is written once
(runs/so3krates_cumulene/data/) and reused by every model and every resume.

Models, all with r_cut 2.5 Å and the same training (So3krates Fig. 2: forces only, β = 1,
batch 8, lr halved every 1000 epochs, gradient clipping 1, EMA 0.99), configs in this folder:
  nonlocal  So3krates with non-local corrections  (cumulene_nonlocal.yaml: F 128, 4 layers, l_max 1)
  local     So3krates without them                (cumulene_local.yaml)
  painn     PaiNN, F 128, 3 interactions          (cumulene_painn.yaml)
  schnet    SchNet, F 128, 6 interactions         (cumulene_schnet.yaml)
each run as ``equimol train CONFIG --set data.train=… --set data.val=… --set output_dir=…
--set training.max_time_minutes=MINUTES`` would (in this process, through load_config/train).

What to expect on the rigid scan: every interatomic distance below 2.5 Å is the same at all
twist angles (the two CH2 groups are > 3 Å apart even in allene), so SchNet's profile is exactly
flat. The molecule keeps a C2 axis along the chain at every twist angle, so the l = 1 features
of the chain carbons are parallel to the axis and cannot carry the orientation of an end group
either: models whose features stop at l = 1 (PaiNN; So3krates with l_max 1, local) also give
(numerically almost) flat profiles. The non-local corrections connect the two ends directly.

Training runs are resumable: rerunning continues unfinished runs, skips finished ones (done.json),
and continues finished ones when ``--minutes`` is raised. ``--set KEY=VALUE`` (repeatable) adds
overrides for every run (e.g. ``--set training.lr_decay_steps=5000``; do not change it between
resumes). Outputs: cumulene_results.json, cumulene_results.md, cumulene_profile.png (this folder).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "data_generated" / "reference"
RUNS = ROOT / "runs" / "so3krates_cumulene"
MODELS = {
    "nonlocal": ("cumulene_nonlocal.yaml", "So3krates non-local"),
    "local": ("cumulene_local.yaml", "So3krates local"),
    "painn": ("cumulene_painn.yaml", "PaiNN"),
    "schnet": ("cumulene_schnet.yaml", "SchNet"),
}
SMOKE = Path("/tmp/so3krates_cumulene_smoke")


def nms_file(data: Path, n: int) -> Path:
    return data / f"cumulene_C{n}_nms300K_twist.xyz"


def scan_file(data: Path, n: int) -> Path:
    return data / f"cumulene_C{n}_twist_scan.xyz"


def generate(a: argparse.Namespace) -> None:
    """Run the reference_data recipe for the chain lengths whose files are missing."""
    missing = [n for n in a.n_carbons if not (nms_file(a.data, n).exists() and scan_file(a.data, n).exists())]
    if not missing:
        return
    cmd = [
        sys.executable,
        str(ROOT / "experiments/reference_data/generate.py"),
        "cumulene",
        "--n-carbons",
        *map(str, missing),
        "--samples",
        str(a.samples),
        "--scan-points",
        str(a.scan_points),
        "--workers",
        str(a.workers),
        "--out",
        str(a.data),
    ]
    print("generating:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def split(a: argparse.Namespace) -> dict[str, Path]:
    """Per chain length: test, validation, training samples (seed 1000 + n); written once."""
    from equimol.data.formats import read_structures, write_structures

    out = a.runs / "data"
    paths = {k: out / f"{k}.extxyz" for k in ("train", "val", "test")}
    meta_path = out / "split.json"
    want = {
        "n_carbons": a.n_carbons,
        "val_per_n": a.val_per_n,
        "test_per_n": a.test_per_n,
        "data": str(a.data),
    }
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} != want:
            raise SystemExit(
                f"{meta_path} was written with other settings ({ {k: meta.get(k) for k in want} });"
                f" delete {out} (and the runs trained on it) or use the same settings"
            )
        if all(p.exists() for p in paths.values()):
            return paths
    sets: dict[str, list] = {k: [] for k in paths}
    counts = {}
    for n in a.n_carbons:
        structures = read_structures(nms_file(a.data, n))
        order = np.random.default_rng(1000 + n).permutation(len(structures))
        n_test, n_val = a.test_per_n, a.val_per_n
        if len(order) <= n_test + n_val:
            raise SystemExit(f"C{n}: {len(order)} samples, need more than {n_test + n_val}")
        parts = {
            "test": order[:n_test],
            "val": order[n_test : n_test + n_val],
            "train": order[n_test + n_val :],
        }
        for k, idx in parts.items():
            sets[k] += [structures[int(i)] for i in idx]
        counts[f"C{n}"] = {k: len(v) for k, v in parts.items()}
    out.mkdir(parents=True, exist_ok=True)
    for k, p in paths.items():
        write_structures(p, sets[k])
    meta_path.write_text(json.dumps({**want, "counts": counts, "seed": "1000 + n"}, indent=1))
    return paths


def train_all(a: argparse.Namespace, paths: dict[str, Path]) -> None:
    from equimol.errors import TrainingDivergedError
    from equimol.train.config import load_config
    from equimol.train.loop import train

    for name in a.models:
        run_dir = a.runs / name
        done = run_dir / "done.json"
        if done.exists():
            info = json.loads(done.read_text())
            time_limited = str(info.get("stop_reason") or "").startswith("time limit")
            if not time_limited or info.get("minutes", 0) >= a.minutes:
                why = info.get("stop_reason") or "all epochs trained"
                print(
                    f"{name}: done ({why}); skipping"
                    + (" (raise --minutes to continue)" if time_limited else ""),
                    flush=True,
                )
                continue
        overrides = [
            f"data.train={paths['train']}",
            f"data.val={paths['val']}",
            f"output_dir={run_dir}",
            f"training.max_time_minutes={a.minutes}",
            "training.progress=false",
            *a.set,
        ]
        cfg = load_config(HERE / MODELS[name][0], overrides)
        print(f"{name}: training ({a.minutes:g} min budget) -> {run_dir}", flush=True)
        try:
            result = train(cfg, resume=True)
        except TrainingDivergedError as e:  # the other models train; the run keeps finite weights
            print(f"{name}: {e}; not marked done (rerun with e.g. --set training.lr=…)", flush=True)
            continue
        done.write_text(json.dumps({"minutes": a.minutes, "overrides": overrides, **result}, indent=1))


def predict_energies(model, structures) -> np.ndarray:
    import torch

    from equimol import keys as K
    from equimol.data.dataset import GraphDataset
    from equimol.train.loop import batches

    model.eval()
    out = [
        model(b, forces=False)[K.ENERGY].detach().double().numpy()
        for b in batches(GraphDataset(structures, model.cutoff, cache=False), 50, torch.float32)
    ]
    return np.concatenate(out)


def evaluate(a: argparse.Namespace, paths: dict[str, Path]) -> dict:
    import equimol
    from equimol import keys as K
    from equimol.data.formats import read_structures
    from equimol.train.checkpoint import read_checkpoint
    from equimol.train.energy_offset import fit_energy_offset
    from equimol.train.evaluate import evaluate_structures

    largest = max(a.n_carbons)
    test = read_structures(paths["test"])
    n_of = [int(np.sum(s[K.ATOMIC_NUMBERS] == 6)) for s in test]  # chain length of each test sample
    scans = {n: read_structures(scan_file(a.data, n)) for n in a.n_carbons}
    refs = {n: np.array([float(s[K.ENERGY]) for s in scans[n]]) for n in a.n_carbons}
    angles = {n: np.linspace(0.0, 180.0, len(scans[n]), endpoint=False) for n in a.n_carbons}
    results: dict = {}
    profiles: dict = {
        f"C{n}": {"angles_deg": angles[n].tolist(), "reference_eV": (refs[n] - refs[n].min()).tolist()}
        for n in a.n_carbons
    }
    for name in MODELS:  # --models selects what trains; the comparison shows every trained model
        ckpt = a.runs / name / "best.pt"
        if not ckpt.exists():
            print(f"{name}: no checkpoint {ckpt}, left out", flush=True)
            continue
        model = equimol.load(ckpt)
        done = a.runs / name / "done.json"
        info = json.loads(done.read_text()) if done.exists() else {}
        meta = read_checkpoint(ckpt)["metadata"]
        weights = meta.get("config", {}).get("training", {}).get("weights", {})
        offsets = None
        if not weights.get("energy"):  # forces only (Fig. 2, β = 1): fit the constant (App. A.14)
            offsets = fit_energy_offset(model, read_structures(paths["train"]))
        last = a.runs / name / "last.pt"
        last_meta = read_checkpoint(last)["metadata"] if last.exists() else meta
        row: dict = {
            "label": MODELS[name][1],
            "parameters": sum(p.numel() for p in model.parameters()),
            "best_epoch": meta.get("epoch"),
            "epochs_trained": last_meta.get("epoch"),
            "train_wall_min": (last_meta.get("wall_time_s") or 0) / 60,
            "budget_min": info.get("minutes"),
            "finished": done.exists(),
            "stop_reason": info.get("stop_reason"),
            "val_metrics": meta.get("val_metrics"),
            "energy_offset_eV": offsets,
            "loss_weights": weights,
        }
        ev = evaluate_structures(model, test)["metrics"]
        row["test"] = {
            "all": {
                "energy_mae_meV": 1000 * ev["energy"]["mae"],
                "forces_mae_meV_A": 1000 * ev["forces"]["mae"],
                "n": len(test),
            }
        }
        for n in a.n_carbons:
            sub = [s for s, k in zip(test, n_of, strict=True) if k == n]
            e = evaluate_structures(model, sub)["metrics"]
            row["test"][f"C{n}"] = {
                "energy_mae_meV": 1000 * e["energy"]["mae"],
                "forces_mae_meV_A": 1000 * e["forces"]["mae"],
                "n": len(sub),
            }
        row["profile"] = {}
        for n in a.n_carbons:
            pred = predict_energies(model, scans[n])
            ref = refs[n]
            dev = (pred - pred.mean()) - (ref - ref.mean())
            scan_ev = evaluate_structures(model, scans[n])["metrics"]
            row["profile"][f"C{n}"] = {
                "mae_meV": 1000 * float(np.abs(dev).mean()),
                "max_abs_meV": 1000 * float(np.abs(dev).max()),
                "range_pred_meV": 1000 * float(np.ptp(pred)),
                "range_ref_meV": 1000 * float(np.ptp(ref)),
                "forces_mae_meV_A": 1000 * scan_ev["forces"]["mae"],
            }
            # aligned to the reference by the mean offset, relative to the reference minimum
            profiles[f"C{n}"][name] = (pred - pred.mean() + ref.mean() - ref.min()).tolist()
        results[name] = row
        p = row["profile"][f"C{largest}"]
        print(
            f"{name}: test E {row['test']['all']['energy_mae_meV']:.1f} meV, F "
            f"{row['test']['all']['forces_mae_meV_A']:.1f} meV/Å; C{largest} profile MAE {p['mae_meV']:.1f} meV "
            f"(range {p['range_pred_meV']:.0f} vs {p['range_ref_meV']:.0f} meV)",
            flush=True,
        )
    return {"largest_n": largest, "results": results, "profiles": profiles}


def write_report(a: argparse.Namespace, out: dict, paths: dict[str, Path]) -> None:
    a.out.mkdir(parents=True, exist_ok=True)
    split_meta = json.loads((paths["train"].parent / "split.json").read_text())
    out = {
        "settings": {
            "n_carbons": a.n_carbons,
            "minutes": a.minutes,
            "overrides": a.set,
            "data": str(a.data),
            "runs": str(a.runs),
            "split": split_meta,
            "smoke": a.smoke,
            "written": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
        **out,
    }
    (a.out / "cumulene_results.json").write_text(json.dumps(out, indent=1))
    n_max = out["largest_n"]
    lines = [
        "# Cumulene twist profile: So3krates with and without non-local corrections (So3krates Fig. 2)",
        "",
        f"Written by `experiments/so3krates/run_cumulene.py`{' --smoke (NOT a result)' if a.smoke else ''}. "
        f"Trained on GFN2-xTB normal-mode samples (300 K, random end-group twist) of C{min(a.n_carbons)}…C{n_max} "
        f"together; split per chain length: {split_meta['counts']}. r_cut 2.5 Å for every model; "
        f"Training wall-time budget per model: the `budget` column (`--minutes`; the run stops at the first "
        f"epoch end past it), 1 CPU thread on a shared machine.",
        "",
        f"Profile error: MAE over the rigid twist scan after removing the mean offset (pred − ⟨pred⟩ vs "
        f"ref − ⟨ref⟩); 'range' is max − min of the profile. The C{n_max} scan is the test the figure shows.",
        "",
        f"| model | parameters | epochs (best) | train min (budget) | test E MAE (meV) | test F MAE (meV/Å) | "
        f"C{n_max} profile MAE (meV) | C{n_max} range pred / ref (meV) | C{n_max} scan F MAE (meV/Å) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _name, r in out["results"].items():
        p = r["profile"][f"C{n_max}"]
        lines.append(
            f"| {r['label']} | {r['parameters']:,} | {r['epochs_trained']} ({r['best_epoch']}) | "
            f"{r['train_wall_min']:.1f} ({r['budget_min']}) | {r['test']['all']['energy_mae_meV']:.1f} | "
            f"{r['test']['all']['forces_mae_meV_A']:.1f} | {p['mae_meV']:.1f} | "
            f"{p['range_pred_meV']:.0f} / {p['range_ref_meV']:.0f} | {p['forces_mae_meV_A']:.1f} |"
        )
    lines += [
        "",
        "Profile MAE (meV) per chain length (mean offset removed); reference barrier in the last row:",
        "",
        "| model | " + " | ".join(f"C{n}" for n in a.n_carbons) + " |",
        "|---|" + "---|" * len(a.n_carbons),
    ]
    for _name, r in out["results"].items():
        lines.append(
            f"| {r['label']} | "
            + " | ".join(f"{r['profile'][f'C{n}']['mae_meV']:.1f}" for n in a.n_carbons)
            + " |"
        )
    if out["results"]:
        any_r = next(iter(out["results"].values()))
        lines.append(
            "| reference range | "
            + " | ".join(f"{any_r['profile'][f'C{n}']['range_ref_meV']:.0f}" for n in a.n_carbons)
            + " |"
        )
    lines += [
        "",
        "Test-set energy / force MAE per chain length (meV, meV/Å):",
        "",
        "| model | " + " | ".join(f"C{n}" for n in a.n_carbons) + " |",
        "|---|" + "---|" * len(a.n_carbons),
    ]
    for _name, r in out["results"].items():
        lines.append(
            f"| {r['label']} | "
            + " | ".join(
                f"{r['test'][f'C{n}']['energy_mae_meV']:.1f} / {r['test'][f'C{n}']['forces_mae_meV_A']:.1f}"
                for n in a.n_carbons
            )
            + " |"
        )
    lines += [
        "",
        f"Plot: `{(a.out / 'cumulene_profile.png').name}` (reference vs models, per chain length).",
        "",
    ]
    (a.out / "cumulene_results.md").write_text("\n".join(lines))
    plot(out, a.n_carbons, a.out / "cumulene_profile.png")


def plot(out: dict, n_carbons, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    order = sorted(n_carbons, reverse=True)  # the test chain first
    fig = Figure(figsize=(3.6 * len(order), 3.4))
    FigureCanvasAgg(fig)
    for k, n in enumerate(order):
        ax = fig.add_subplot(1, len(order), k + 1)
        prof = out["profiles"][f"C{n}"]
        x = np.asarray(prof["angles_deg"])
        ax.plot(x, prof["reference_eV"], "k-", lw=2.5, label="GFN2-xTB")
        for name in out["results"]:
            ax.plot(x, prof[name], lw=1.3, label=MODELS[name][1])
        ax.set_title(f"C{n}" + (" (test profile)" if n == out["largest_n"] else ""))
        ax.set_xlabel("end-group twist / degree")
        if k == 0:
            ax.set_ylabel("energy / eV (models: mean-aligned)")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-carbons", type=int, nargs="+", default=[3, 4, 5, 6, 7])
    p.add_argument(
        "--samples", type=int, default=1000, help="normal-mode samples per chain length (generation)"
    )
    p.add_argument("--scan-points", type=int, default=180, help="rigid twist scan points in [0°, 180°)")
    p.add_argument("--workers", type=int, default=1, help="xTB labelling processes")
    p.add_argument("--val-per-n", type=int, default=50)
    p.add_argument("--test-per-n", type=int, default=100)
    p.add_argument("--minutes", type=float, default=6.0, help="training wall-time budget per model")
    p.add_argument(
        "--models",
        nargs="+",
        choices=list(MODELS),
        default=list(MODELS),
        help="models to train (the report shows every model with a checkpoint)",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    p.add_argument("--data", type=Path, default=DATA, help="reference data folder")
    p.add_argument("--runs", type=Path, default=RUNS, help="split and training runs")
    p.add_argument("--out", type=Path, default=HERE, help="where the results/plot go")
    p.add_argument(
        "--report-only", action="store_true", help="no generation, no training: evaluate checkpoints"
    )
    p.add_argument("--smoke", action="store_true", help=f"tiny end-to-end check under {SMOKE}")
    a = p.parse_args()
    if a.smoke:
        a.n_carbons, a.samples, a.scan_points, a.val_per_n, a.test_per_n = [3, 5], 24, 8, 4, 4
        a.minutes = min(a.minutes, 0.2)
        a.data, a.runs, a.out = SMOKE / "data", SMOKE / "runs", SMOKE
        a.set = ["training.epochs=1", *a.set]
    t0 = time.perf_counter()
    if not a.report_only:
        generate(a)
    paths = split(a)
    if not a.report_only:
        train_all(a, paths)
    out = evaluate(a, paths)
    write_report(a, out, paths)
    print(
        f"wrote {a.out / 'cumulene_results.json'}, .md, cumulene_profile.png ({time.perf_counter() - t0:.0f} s)"
    )


if __name__ == "__main__":
    main()
