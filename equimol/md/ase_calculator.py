"""ASE calculator backed by an equimol model: energy (eV), forces (eV/Å), dipole (e·Å),
polarizability (Å^3, 3×3) when the model predicts them."""

from __future__ import annotations

import os

import numpy as np
import torch
from ase.calculators.calculator import Calculator as _AseCalculator
from ase.calculators.calculator import all_changes

from equimol import keys as K
from equimol.data.batch import collate
from equimol.data.neighbors import add_neighbors
from equimol.data.validate import validate_structure
from equimol.potential import Potential


class Calculator(_AseCalculator):
    """``Calculator("model.pt")`` or ``Calculator(potential)``; works with ASE optimisers and MD.

    Parameters
    ----------
    model: path to an equimol checkpoint, or a :class:`~equimol.potential.Potential`.
    device: torch device for evaluation.
    dtype: "float32" (default) or "float64" for the network weights.
    """

    implemented_properties = ["energy", "free_energy", "forces", "dipole", "polarizability"]

    def __init__(
        self, model: str | os.PathLike | Potential, device: str = "cpu", dtype: str = "float32", **kwargs
    ):
        super().__init__(**kwargs)
        from equimol.train.checkpoint import load

        tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.potential = (
            load(model, device=device, dtype=tdtype) if not isinstance(model, Potential) else model
        )
        self.potential.eval()
        self.device, self.dtype = device, tdtype

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        s = {
            K.ATOMIC_NUMBERS: self.atoms.numbers.astype(np.int64),
            K.POSITIONS: self.atoms.positions.astype(np.float64),
        }
        if self.atoms.pbc.any():
            s[K.CELL] = np.asarray(self.atoms.cell, dtype=np.float64)
            s[K.PBC] = self.atoms.pbc.copy()
        validate_structure(s, "atoms")
        batch = collate([add_neighbors(s, self.potential.cutoff)], dtype=self.dtype, device=self.device)
        out = self.potential(batch)
        if K.ENERGY in out:
            e = float(out[K.ENERGY][0])
            self.results["energy"] = e
            self.results["free_energy"] = e
        if K.FORCES in out:
            self.results["forces"] = out[K.FORCES].double().cpu().numpy()
        if K.DIPOLE in out:
            self.results["dipole"] = out[K.DIPOLE][0].double().cpu().numpy()
        if K.POLARIZABILITY in out:
            self.results["polarizability"] = out[K.POLARIZABILITY][0].double().cpu().numpy()
