"""Evaluate a model on a data file: MAE/RMSE of every target present in both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from equimol import keys as K
from equimol import units as U
from equimol.data.formats import detect_format, read_structures
from equimol.evaluator import Evaluator
from equimol.potential import Potential
from equimol.train.metrics import Metrics

# reported unit and factor from internal units, per target
REPORT_UNITS = {
    K.ENERGY: ("eV", 1.0),
    K.FORCES: ("eV/Å", 1.0),
    K.DIPOLE: ("e·Å", 1.0),
    K.DIPOLE_MAGNITUDE: ("D", 1.0 / U.DEBYE),
    K.POLARIZABILITY: ("Å^3", 1.0),
    K.SPATIAL_EXTENT: ("Å^2", 1.0),
}


def evaluate_structures(
    potential: Potential, structures: list[dict], batch_size: int = 50, dtype: torch.dtype = torch.float32
) -> dict:
    """``{"n_structures": M, "metrics": {target: {"mae", "rmse", "unit"}}}`` in report units."""
    outputs = set(potential.outputs)
    if K.DIPOLE in outputs:
        outputs.add(K.DIPOLE_MAGNITUDE)
    if K.DIPOLE in structures[0] and K.DIPOLE_MAGNITUDE not in structures[0]:
        structures = [{**s, K.DIPOLE_MAGNITUDE: np.asarray(np.linalg.norm(s[K.DIPOLE]))} for s in structures]
    targets = [t for t in REPORT_UNITS if t in outputs and t in structures[0]]
    metrics = Metrics(targets)
    evaluator = Evaluator(potential, dtype=dtype, validate=False)  # read_structures validated them
    for k in range(0, len(structures), batch_size):
        batch = evaluator.batch(structures[k : k + batch_size])
        pred = evaluator(batch, forces=K.FORCES in targets)
        if K.DIPOLE in pred and K.DIPOLE_MAGNITUDE not in pred:
            pred[K.DIPOLE_MAGNITUDE] = torch.linalg.vector_norm(pred[K.DIPOLE], dim=-1)
        metrics.update(pred, batch)
    result = {}
    for t, m in metrics.result().items():
        unit, f = REPORT_UNITS[t]
        result[t] = {"mae": m["mae"] * f, "rmse": m["rmse"] * f, "unit": unit}
    return {"n_structures": len(structures), "metrics": result}


def evaluate_file(
    potential: Potential,
    path: str,
    energy_unit: str | None = None,
    batch_size: int = 50,
    dtype: torch.dtype = torch.float32,
    length_unit: str = "Å",
    label_keys: dict[str, str] | None = None,
) -> dict:
    """Evaluate on any supported file; also reports energies/forces in the file's own unit.
    ``length_unit`` is the unit of the file's positions (converted to Å on reading);
    ``label_keys`` the file's keys of its labels (see :func:`equimol.data.formats.read_structures`)."""
    structures = read_structures(
        path, energy_unit=energy_unit, length_unit=length_unit, label_keys=label_keys
    )
    out = evaluate_structures(potential, structures, batch_size, dtype)
    data_unit = energy_unit or ("kcal/mol" if detect_format(Path(path)) == "npz" else "eV")
    if data_unit != "eV":
        f = U.ENERGY_UNITS[data_unit]
        for t, suffix in ((K.ENERGY, ""), (K.FORCES, "/Å")):
            if t in out["metrics"]:
                m = out["metrics"][t]
                m["data_unit"] = {"mae": m["mae"] / f, "rmse": m["rmse"] / f, "unit": data_unit + suffix}
    out["data"] = str(path)
    return out
