"""Test errors of a polarizability model in bohr³: tensor components and isotropic part.

python experiments/tensors/report_alpha.py experiments/tensors/painn_malonaldehyde_alpha.pt \
    runs/data/malonaldehyde_alpha_test.h5
"""

import json
import sys

import numpy as np
import torch

from equimol import keys as K
from equimol import units as U
from equimol.data.dataset import GraphDataset
from equimol.data.formats import read_structures
from equimol.train.checkpoint import load
from equimol.train.loop import batches

model = load(sys.argv[1])
structures = read_structures(sys.argv[2])
pred = np.concatenate(
    [
        model(b, forces=False)[K.POLARIZABILITY].double().numpy()
        for b in batches(GraphDataset(structures, model.cutoff, cache=False), 100, torch.float32)
    ]
)
ref = np.stack([s[K.POLARIZABILITY] for s in structures])
to_bohr3 = 1.0 / U.BOHR3
iso_p, iso_r = np.trace(pred, axis1=1, axis2=2) / 3, np.trace(ref, axis1=1, axis2=2) / 3
result = {
    "n_test": len(structures),
    "component_mae_bohr3": float(np.abs(pred - ref).mean() * to_bohr3),
    "component_rmse_bohr3": float(np.sqrt(((pred - ref) ** 2).mean()) * to_bohr3),
    "isotropic_mae_bohr3": float(np.abs(iso_p - iso_r).mean() * to_bohr3),
    "isotropic_mean_bohr3": float(iso_r.mean() * to_bohr3),
    "component_std_bohr3": float(ref.std(axis=0).mean() * to_bohr3),
}
print(json.dumps(result, indent=1))
