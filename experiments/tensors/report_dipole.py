"""Test errors of dipole models in Debye: vector components, |Δμ| and |μ|, side by side.

    python experiments/tensors/report_dipole.py runs/data/qm9_rimp2_dipole_test.h5 \
        Eq.13=experiments/tensors/painn_qm9_dipole_eq13.pt Eq.12=runs/tensors_qm9_dipole_eq12/best.pt \
        --json experiments/tensors/qm9_dipole_test.json

For magnitude-only data (CHAMPS |μ|) only the |μ| error is reported.
"""

import argparse
import json

import numpy as np
import torch

from equimol import keys as K
from equimol import units as U
from equimol.data.dataset import GraphDataset
from equimol.data.formats import read_structures
from equimol.param_count import count_parameters
from equimol.train.checkpoint import load, read_checkpoint
from equimol.train.loop import batches


def predict(model, structures) -> np.ndarray:
    model.eval()
    data = GraphDataset(structures, model.cutoff, cache=False)
    return np.concatenate(
        [model(b, forces=False)[K.DIPOLE].double().numpy() for b in batches(data, 100, torch.float32)]
    )


def errors(pred: np.ndarray, structures) -> dict:
    to_d = 1.0 / U.DEBYE
    out = {}
    mag = np.linalg.norm(pred, axis=1)
    if K.DIPOLE in structures[0]:
        ref = np.stack([s[K.DIPOLE] for s in structures])
        out["component_mae_D"] = float(np.abs(pred - ref).mean() * to_d)
        out["vector_error_mean_D"] = float(np.linalg.norm(pred - ref, axis=1).mean() * to_d)
        ref_mag = np.linalg.norm(ref, axis=1)
    else:
        ref_mag = np.array([float(s[K.DIPOLE_MAGNITUDE]) for s in structures])
    out["magnitude_mae_D"] = float(np.abs(mag - ref_mag).mean() * to_d)
    out["mean_magnitude_D"] = float(ref_mag.mean() * to_d)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("test")
    p.add_argument("models", nargs="+", help="LABEL=CHECKPOINT")
    p.add_argument("--json")
    a = p.parse_args()
    structures = read_structures(a.test)
    result = {"test": a.test, "n_test": len(structures), "models": {}}
    for item in a.models:
        label, path = item.split("=", 1)
        model = load(path)
        meta = read_checkpoint(path)["metadata"]
        row = errors(predict(model, structures), structures)
        row.update(
            checkpoint=path,
            n_parameters=count_parameters(model),
            best_epoch=meta.get("epoch"),
            train_wall_time_min=round(meta.get("wall_time_s", 0.0) / 60, 1),
            heads=meta["spec"].get("heads"),
        )
        result["models"][label] = row
        print(label, json.dumps(row))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
