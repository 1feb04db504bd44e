"""PaiNN Fig. 4: rotational energy profile of Fe(C5H4F)2 learned by invariant vs equivariant models.

    python experiments/ferrocene/run.py --write-configs          # (re)write configs/*.yaml
    python experiments/ferrocene/run.py                          # data (if missing), train, evaluate, plot

Models SchNet, PaiNN and L1Net at r_cut 2.5, 3.0, 4.0 Å are trained on GFN2-xTB normal-mode
samples at 300 K with random relative Cp rotations (experiments/reference_data), then predict
the rigid 1000-point rotation profile. The paper's claim: invariant models are flat at small
cutoffs (the Cp rings are > 3 Å apart), PaiNN is not. Training is resumable (rerun the command).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "data_generated" / "reference"
TRAIN = DATA / "ferrocene_F2_nms300K.xyz"
SCAN = DATA / "ferrocene_F2_rotation_scan.xyz"
MODELS = {"schnet": {"n_features": 128, "n_interactions": 3}, "painn": {"n_features": 128, "n_interactions": 3},
          "l1net": {"radial_basis": "gaussian"}}
CUTOFFS = (2.5, 3.0, 4.0)


def config(model: str, cutoff: float, n_train: int, epochs: int, minutes: float) -> dict:
    return {
        "data": {"train": str(Path("../../data_generated/reference") / TRAIN.name), "n_train": n_train,
                 "n_val": 200, "seed": 0, "targets": ["energy", "forces"]},
        "model": {"name": model, "cutoff": cutoff, **MODELS[model]},
        "training": {"epochs": epochs, "batch_size": 10, "lr": 5e-4, "weights": {"energy": 0.05, "forces": 0.95},
                     "lr_patience": 10, "min_lr": 1e-5, "ema_decay": 0.99, "max_time_minutes": minutes,
                     "progress": False},
        "output_dir": f"../../runs/ferrocene/{model}_rc{cutoff}",
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--write-configs", action="store_true")
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--minutes", type=float, default=20.0, help="training time limit per model")
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--cutoffs", nargs="+", type=float, default=list(CUTOFFS))
    a = p.parse_args()
    (HERE / "configs").mkdir(exist_ok=True)
    for m in a.models:
        for rc in a.cutoffs:
            path = HERE / "configs" / f"{m}_rc{rc}.yaml"
            if a.write_configs or not path.exists():
                path.write_text(yaml.safe_dump(config(m, rc, a.n_train, a.epochs, a.minutes), sort_keys=False))
    if a.write_configs:
        return
    if not (TRAIN.exists() and SCAN.exists()):
        subprocess.run([sys.executable, str(ROOT / "experiments/reference_data/generate.py"), "ferrocene",
                        "--samples", str(a.n_train + 400), "--scan-points", "1000", "--workers", "2"], check=True)
    from equimol.data.formats import read_structures
    from equimol.train.checkpoint import load
    from equimol.train.config import load_config
    from equimol.train.evaluate import evaluate_structures
    from equimol.train.loop import train

    scan = read_structures(SCAN)
    angles = np.linspace(0.0, 360.0, len(scan), endpoint=False)
    ref = np.array([float(s["energy"]) for s in scan])
    ref -= ref.min()
    results, profiles = {}, {"reference": ref.tolist()}
    for m in a.models:
        for rc in a.cutoffs:
            name = f"{m}_rc{rc}"
            cfg = load_config(HERE / "configs" / f"{name}.yaml")
            done = Path(cfg.output_dir) / "done.json"
            if not done.exists():
                done.write_text(json.dumps(train(cfg, resume=True)))
            ckpt = Path(cfg.output_dir) / "best.pt"
            model = load(ckpt)
            pred = predict_energies(model, scan)
            pred -= pred.min()
            profiles[name] = pred.tolist()
            ev = evaluate_structures(model, scan)["metrics"]
            results[name] = {"profile_mae_meV": 1000 * float(np.abs(pred - ref).mean()),
                             "profile_range_meV": 1000 * float(pred.max() - pred.min()),
                             "scan_force_mae_meV_A": 1000 * ev["forces"]["mae"]}
            (HERE / f"{name}.pt").write_bytes(ckpt.read_bytes())
    results["reference_range_meV"] = 1000 * float(ref.max())
    (HERE / "results.json").write_text(json.dumps({"results": results, "angles_deg": angles.tolist(),
                                                    "profiles_eV": profiles}, indent=1))
    plot(angles, profiles, HERE / "rotation_profile.png")
    print(json.dumps(results, indent=1))


def predict_energies(model, structures) -> np.ndarray:
    import torch

    from equimol import keys as K
    from equimol.data.dataset import GraphDataset
    from equimol.train.loop import batches

    out = []
    for batch in batches(GraphDataset(structures, model.cutoff, cache=False), 50, torch.float32):
        out.append(model(batch, forces=False)[K.ENERGY].double().numpy())
    return np.concatenate(out)


def plot(angles, profiles, path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cutoffs = sorted({k.split("_rc")[1] for k in profiles if "_rc" in k})
    fig = Figure(figsize=(4 * len(cutoffs), 3.5))
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
