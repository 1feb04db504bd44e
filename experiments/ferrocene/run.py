"""PaiNN Fig. 4: rotational energy profile of Fe(C5H4F)2 learned by invariant vs equivariant models.

    python experiments/ferrocene/run.py --write-configs          # (re)write configs/*.yaml and exit
    OMP_NUM_THREADS=1 python experiments/ferrocene/run.py        # data (if missing), train, evaluate, plot
    python experiments/ferrocene/run.py --report-only            # no training: results from existing runs
    OMP_NUM_THREADS=1 python experiments/ferrocene/run.py --smoke   # tiny end-to-end check in /tmp

Models SchNet, PaiNN and L1Net at r_cut 2.5, 3.0, 4.0 Å are trained on GFN2-xTB normal-mode
samples at 300 K with random relative Cp rotations (experiments/reference_data, generated into
data_generated/reference/ when missing), then predict the rigid 1000-point rotation profile.
The paper's claim: invariant models are flat at small cutoffs (the Cp rings are > 3 Å apart),
PaiNN is not.

Each model trains for at most ``--epochs`` epochs and ``--minutes`` minutes of training time
(both go into the configs; runs/ferrocene/<model>_rc<cutoff>/). Training is resumable: rerun
the command after an interruption; a run counts as finished once it has used its epochs or
its time budget, or stopped early. To extend a budget, rewrite the configs with larger
``--epochs``/``--minutes`` and rerun. Outputs (experiments/ferrocene/): results.json (errors
and all profiles), results.md (table of errors per model and cutoff) and profile.png;
``--copy-checkpoints`` also copies each best.pt (weights and metadata only, no training state) to
experiments/ferrocene/<model>_rc<cutoff>.pt.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from equimol.train.checkpoint import export_inference_checkpoint, run_state

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "data_generated" / "reference"
TRAIN_NAME = "ferrocene_F2_nms300K.xyz"
SCAN_NAME = "ferrocene_F2_rotation_scan.xyz"
SMOKE = Path("/tmp/equimol_smoke/ferrocene")
MODELS = {
    "schnet": {"n_features": 128, "n_interactions": 3},
    "painn": {"n_features": 128, "n_interactions": 3},
    # L1Net at the L0/L1 experiment's size (2.4e5 parameters; experiments/l0l1): at equimol's
    # TFN defaults (3.5e6 parameters) one epoch took about 30 min on this CPU
    "l1net": {
        "radial_basis": "gaussian",
        "n_features": 32,
        "n_scalars": 32,
        "n_vectors": 8,
        "n_interactions": 3,
        "radial_hidden": 32,
    },
}
SMOKE_MODELS = {
    "schnet": {"n_features": 16, "n_interactions": 1},
    "painn": {"n_features": 16, "n_interactions": 1},
    "l1net": {
        "radial_basis": "gaussian",
        "n_features": 8,
        "n_scalars": 8,
        "n_vectors": 3,
        "n_interactions": 1,
        "n_basis": 16,
        "radial_hidden": 8,
    },
}
CUTOFFS = (2.5, 3.0, 4.0)


class Layout:
    """Where data, configs, runs and results go (the repository, or /tmp for --smoke)."""

    def __init__(self, smoke: bool):
        self.smoke = smoke
        self.data = SMOKE / "data" if smoke else DATA
        self.train = self.data / TRAIN_NAME
        self.scan = self.data / SCAN_NAME
        self.configs = (SMOKE if smoke else HERE) / "configs"
        self.runs = SMOKE / "runs" if smoke else ROOT / "runs" / "ferrocene"
        self.results = SMOKE if smoke else HERE
        self.models = SMOKE_MODELS if smoke else MODELS

    def path_in_config(self, target: Path) -> str:
        """Relative to the config folder (as load_config resolves it); absolute for /tmp."""
        return str(target) if self.smoke else os.path.relpath(target, self.configs)


def config(
    model: str, cutoff: float, n_train: int, n_val: int, epochs: int, minutes: float, lay: Layout
) -> dict:
    return {
        "data": {
            "train": lay.path_in_config(lay.train),
            "n_train": n_train,
            "n_val": n_val,
            "seed": 0,
            "targets": ["energy", "forces"],
        },
        "model": {"name": model, "cutoff": cutoff, **lay.models[model]},
        "training": {
            "epochs": epochs,
            "batch_size": 10,
            "lr": 5e-4,
            "weights": {"energy": 0.05, "forces": 0.95},
            "lr_patience": 10,
            "min_lr": 1e-5,
            "ema_decay": 0.99,
            "max_time_minutes": minutes,
            # the compiled training step (equimol.train.compiled; the same gradients to 1e-7): every
            # batch holds 10 ferrocenes; their edge counts vary a little at r_cut 2.5 Å (8 values in
            # 40 batches), for which dynamo builds one dynamic-shape graph: 55 vs 104 ms per step
            "compile": not lay.smoke,
            "progress": False,
        },
        "output_dir": lay.path_in_config(lay.runs / f"{model}_rc{cutoff}"),
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--write-configs", action="store_true", help="(re)write the configs and exit")
    p.add_argument("--report-only", action="store_true", help="train nothing; results from existing runs")
    p.add_argument("--n-train", type=int, default=None, help="training samples (default 2000; smoke 8)")
    p.add_argument("--n-val", type=int, default=None, help="validation samples (default 200; smoke 4)")
    p.add_argument("--epochs", type=int, default=None, help="default 200; smoke 1")
    p.add_argument("--minutes", type=float, default=None, help="training time limit per model (default 20)")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--cutoffs", nargs="+", type=float, default=list(CUTOFFS))
    p.add_argument(
        "--copy-checkpoints",
        action="store_true",
        help="copy each best.pt to the results folder as <model>_rc<cutoff>.pt",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny end-to-end run under {SMOKE}: 8 + 4 samples, 8 scan points, 1 epoch, tiny models",
    )
    a = p.parse_args()
    lay = Layout(a.smoke)
    n_train = a.n_train or (8 if a.smoke else 2000)
    n_val = a.n_val or (4 if a.smoke else 200)
    epochs = a.epochs or (1 if a.smoke else 200)
    minutes = a.minutes or (1.0 if a.smoke else 20.0)
    names = [(m, rc) for m in a.models for rc in a.cutoffs]
    lay.configs.mkdir(parents=True, exist_ok=True)
    if not a.report_only:
        for m, rc in names:
            path = lay.configs / f"{m}_rc{rc}.yaml"
            if a.write_configs or a.smoke or not path.exists():
                cfg = config(m, rc, n_train, n_val, epochs, minutes, lay)
                path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        if a.write_configs:
            print(f"wrote {len(names)} configs to {lay.configs}")
            return
    if not (lay.train.exists() and lay.scan.exists()):
        if a.report_only:
            sys.exit(f"no reference data in {lay.data}: run without --report-only first")
        extra = n_train + n_val + (2 if a.smoke else 200)  # spares for failed labels
        cmd = [
            sys.executable,
            str(ROOT / "experiments/reference_data/generate.py"),
            "ferrocene",
            "--samples",
            str(extra),
            "--scan-points",
            "8" if a.smoke else "1000",
            "--workers",
            "1" if a.smoke else "2",
            "--out",
            str(lay.data),
        ]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)
    from equimol.data.formats import read_structures
    from equimol.train.config import load_config
    from equimol.train.loop import train

    scan = read_structures(lay.scan)
    angles = np.linspace(0.0, 360.0, len(scan), endpoint=False)
    ref = np.array([float(s["energy"]) for s in scan])
    ref -= ref.min()
    results, profiles = {}, {"reference": ref.tolist()}
    earlier = {} if a.smoke else read_earlier(lay.results / "results.json")
    for m, rc in names:
        name = f"{m}_rc{rc}"
        cfg_path = lay.configs / f"{name}.yaml"
        if not cfg_path.exists():
            print(f"[{name}] no config {cfg_path}: left out")
            continue
        cfg = load_config(cfg_path)
        n_train = cfg.data.n_train
        run_dir = Path(cfg.output_dir)
        state = run_state(run_dir, cfg.training.epochs, cfg.training.max_time_minutes)
        if not a.report_only and not state["done"]:
            print(f"[{name}] training ({state['status']})", flush=True)
            train(cfg, resume=True)
            state = run_state(run_dir, cfg.training.epochs, cfg.training.max_time_minutes)
        elif not a.report_only:
            print(f"[{name}] {state['status']}: skipping training")
        ev = evaluate_run(run_dir, lay.scan, scan)
        if ev is None and name in earlier.get("results", {}) and not run_dir.exists():
            # a run of an earlier checkout (runs/ is not in git): its committed results stay
            results[name] = {**earlier["results"][name], "run_folder_here": False}
            if not results[name]["status"].endswith("(earlier checkout)"):
                results[name]["status"] += " (earlier checkout)"
            if name in earlier.get("profiles_eV", {}):
                profiles[name] = earlier["profiles_eV"][name]
            print(f"[{name}] no run folder here: its results from {lay.results / 'results.json'} are kept")
            continue
        if ev is None:
            print(f"[{name}] no best.pt yet: left out")
            continue
        pred = np.asarray(ev["profile_eV"])
        profiles[name] = pred.tolist()
        results[name] = {
            "model": m,
            "cutoff": rc,
            "status": state["status"],
            "epochs_run": state["epochs"],
            "train_minutes": state["wall_time_s"] / 60,
            "best_epoch": ev["key"]["best_epoch"],
            "val_energy_mae_meV": 1000 * ev["val_metrics"]["energy"]["mae"],
            "val_forces_mae_meV_A": 1000 * ev["val_metrics"]["forces"]["mae"],
            "profile_mae_meV": 1000 * float(np.abs(pred - ref).mean()),
            "profile_range_meV": 1000 * float(pred.max() - pred.min()),
            "scan_force_mae_meV_A": ev["scan_force_mae_meV_A"],
        }
        if a.copy_checkpoints:
            export_inference_checkpoint(run_dir / "best.pt", lay.results / f"{name}.pt")
    out = {
        "results": results,
        "reference_range_meV": 1000 * float(ref.max()),
        "n_train": n_train,
        "angles_deg": angles.tolist(),
        "profiles_eV": profiles,
    }
    lay.results.mkdir(parents=True, exist_ok=True)
    (lay.results / "results.json").write_text(json.dumps(out, indent=1))
    md = markdown(out)
    (lay.results / "results.md").write_text(md)
    plot(angles, profiles, lay.results / "profile.png")
    print(md)
    print(f"wrote {lay.results / 'results.json'}, results.md and profile.png")


def read_earlier(path: Path) -> dict:
    """The committed results.json (empty when missing or unreadable)."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def evaluate_run(run_dir: Path, scan_path: Path, scan: list) -> dict | None:
    """Profile (shifted to its minimum, eV) and scan force MAE of best.pt, cached per best epoch."""
    from equimol.train.checkpoint import load, read_checkpoint
    from equimol.train.evaluate import evaluate_structures

    best = run_dir / "best.pt"
    if not best.exists():
        return None
    meta = read_checkpoint(best)["metadata"]
    key = {"best_epoch": meta["epoch"], "scan": str(scan_path), "n_scan": len(scan)}
    cache = run_dir / "scan_eval.json"
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached
    model = load(best)
    pred = predict_energies(model, scan)
    pred -= pred.min()
    ev = evaluate_structures(model, scan)["metrics"]
    out = {
        "key": key,
        "profile_eV": pred.tolist(),
        "scan_force_mae_meV_A": 1000 * ev["forces"]["mae"],
        "val_metrics": meta["val_metrics"],
    }
    cache.write_text(json.dumps(out))
    return out


def predict_energies(model, structures) -> np.ndarray:
    from equimol import keys as K
    from equimol.evaluator import Evaluator

    results = Evaluator(model).predict(structures, batch_size=50, forces=False)
    return np.array([float(r[K.ENERGY]) for r in results])


def markdown(out: dict) -> str:
    lines = [
        "# Fe(C5H4F)2 rotation profile (PaiNN Fig. 4)",
        "",
        f"Trained on {out['n_train']} GFN2-xTB normal-mode samples (300 K, random Cp rotations); evaluated "
        f"on the rigid {len(out['angles_deg'])}-point rotation scan, whose reference profile spans "
        f"{out['reference_range_meV']:.1f} meV. Profiles are shifted to their minima. Generated by "
        "`experiments/ferrocene/run.py`.",
        "",
        "| model | r_cut (Å) | profile MAE (meV) | profile range (meV) | scan force MAE (meV/Å) "
        "| val E MAE (meV) | val F MAE (meV/Å) | epochs | train min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["results"].values():
        lines.append(
            f"| {r['model']} | {r['cutoff']:g} | {r['profile_mae_meV']:.2f} "
            f"| {r['profile_range_meV']:.2f} "
            f"| {r['scan_force_mae_meV_A']:.1f} | {r['val_energy_mae_meV']:.2f} "
            f"| {r['val_forces_mae_meV_A']:.1f} | {r['epochs_run']} | {r['train_minutes']:.1f} |"
        )
    lines += ["", "Status per run:", ""]
    lines += [f"- {k}: {r['status']}; best epoch {r['best_epoch']}" for k, r in out["results"].items()]
    lines.append("")
    return "\n".join(lines)


def plot(angles, profiles, path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cutoffs = sorted({k.split("_rc")[1] for k in profiles if "_rc" in k}, key=float)
    fig = Figure(figsize=(4 * max(len(cutoffs), 1), 3.5))
    FigureCanvasAgg(fig)
    for i, rc in enumerate(cutoffs):
        ax = fig.add_subplot(1, len(cutoffs), i + 1)
        ax.plot(angles, 1000 * np.asarray(profiles["reference"]), "k-", lw=2, label="GFN2-xTB")
        for k, v in profiles.items():
            if k.endswith(f"_rc{rc}"):
                ax.plot(angles, 1000 * np.asarray(v), label=k.split("_rc")[0])
        ax.set_title(f"r_cut = {rc} Å")
        ax.set_xlabel("relative Cp rotation / degree")
        ax.set_ylabel("energy / meV")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
