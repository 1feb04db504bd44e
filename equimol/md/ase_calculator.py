"""ASE calculator backed by an equimol model: energy (eV), forces (eV/Å), stress (eV/Å³, Voigt
order xx yy zz yz xz xy, zero for non-periodic atoms), dipole (e·Å) and polarizability (Å³,
3×3) when the model predicts them; a committee (a committee.json, a folder holding one, or a
:class:`~equimol.committee.Committee`) adds ``energy_std`` (eV), ``forces_std`` (n, 3) eV/Å and
``force_disagreement`` (eV/Å), read with ``atoms.calc.get_property("forces_std", atoms)``.
Evaluation goes through :class:`equimol.evaluator.Evaluator` (neighbour lists kept between
calls with a Verlet skin)."""

from __future__ import annotations

import os

import numpy as np
import torch
from ase.calculators.calculator import Calculator as _AseCalculator
from ase.calculators.calculator import all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from equimol import keys as K
from equimol.evaluator import Evaluator
from equimol.potential import Potential

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Calculator(_AseCalculator):
    """``Calculator("model.pt")`` or ``Calculator(potential)``; works with ASE optimisers, MD,
    cell filters and NPT (stress from the strain derivative of the energy).

    Parameters
    ----------
    model: path to an equimol checkpoint or committee, a :class:`~equimol.potential.Potential`
        or a :class:`~equimol.committee.Committee`.
    device: torch device for evaluation.
    dtype: "float32" (default) or "float64" for the network weights.
    skin: Verlet skin of the cached neighbour list in Å (0 rebuilds it on every call).
    """

    implemented_properties = [
        "energy",
        "free_energy",
        "forces",
        "stress",
        "dipole",
        "polarizability",
        "energy_std",
        "forces_std",
        "dipole_std",
        "polarizability_std",
        "force_disagreement",
    ]

    def __init__(
        self,
        model: str | os.PathLike | Potential | torch.nn.Module,
        device: str = "cpu",
        dtype: str = "float32",
        skin: float = 0.5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        from equimol.io import load

        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {list(_DTYPES)}, got {dtype!r}")
        potential = model if isinstance(model, torch.nn.Module) else load(model, device=device)
        self.evaluator = Evaluator(potential, dtype=_DTYPES[dtype], device=device, skin=skin, stress=True)
        self.potential = self.evaluator.potential

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        s = {K.ATOMIC_NUMBERS: self.atoms.numbers.astype(np.int64), K.POSITIONS: self.atoms.positions}
        if self.atoms.pbc.any():
            s[K.CELL], s[K.PBC] = np.asarray(self.atoms.cell, dtype=np.float64), self.atoms.pbc.copy()
        if self.evaluator.validate:
            from equimol.data.validate import validate_structure

            validate_structure(s, "atoms")
        cell = s.get(K.CELL)
        if cell is not None and not self.atoms.pbc.all():
            raise ValueError("atoms: mixed periodic boundary conditions are not supported; use all or none")
        out = self.evaluator.predict_positions(
            self.atoms.positions[None], s[K.ATOMIC_NUMBERS], None if cell is None else cell[None]
        )
        r = {k: v.detach().double().cpu().numpy()[0] for k, v in out.items()}
        if K.ENERGY in r:
            self.results["energy"] = self.results["free_energy"] = float(r[K.ENERGY])
        if K.FORCES in r:
            self.results["forces"] = r[K.FORCES]
        if K.STRESS in r:
            self.results["stress"] = full_3x3_to_voigt_6_stress(r[K.STRESS])
        if K.DIPOLE in r:
            self.results["dipole"] = r[K.DIPOLE]
        if K.POLARIZABILITY in r:
            self.results["polarizability"] = r[K.POLARIZABILITY]
        for key in (K.ENERGY_STD, K.FORCE_DISAGREEMENT):
            if key in r:
                self.results[key] = float(r[key])
        for key in (K.FORCES_STD, K.DIPOLE_STD, K.POLARIZABILITY_STD):
            if key in r:
                self.results[key] = r[key]
