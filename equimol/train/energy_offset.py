"""Energy integration constant after force-only training (So3krates App. A.14).

Trained on forces alone (loss weight β = 1 on forces, 0 on energies), a potential is fixed up to
an additive constant. App. A.14 fits it afterwards; here the constant is per element, fitted
by least squares on the residual energies E_ref − E_pred, and added to the energy head's
per-element references e_Z, so the model itself predicts absolute energies afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from equimol import keys as K
from equimol.data.stats import fit_atom_references
from equimol.errors import ConfigError
from equimol.evaluator import Evaluator


def _energy_head(potential: torch.nn.Module) -> torch.nn.Module:
    for head in potential.heads:
        if K.ENERGY in getattr(head, "outputs", ()) and hasattr(head, "atom_refs"):
            return head
    raise ConfigError("fit_energy_offset: the potential has no energy head with per-element references")


def predict_energies(
    potential: torch.nn.Module, structures: Sequence[dict[str, np.ndarray]], batch_size: int = 64
) -> np.ndarray:
    """Energies (M,) eV predicted for ``structures`` (dicts with positions, atomic numbers)."""
    param = next(potential.parameters())
    evaluator = Evaluator(potential, dtype=param.dtype, device=param.device, validate=False)
    out = []
    with torch.no_grad():
        for start in range(0, len(structures), batch_size):
            batch = evaluator.batch(structures[start : start + batch_size])
            out.append(evaluator(batch, forces=False)[K.ENERGY].double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def fit_energy_offset(
    potential: torch.nn.Module, structures: Sequence[dict[str, np.ndarray]], batch_size: int = 64
) -> dict[int, float]:
    """Fit per-element energy offsets c_Z (eV) to E_ref − E_pred and add them to the energy head.

    ``structures``: dicts with POSITIONS (Å), ATOMIC_NUMBERS and ENERGY (eV). Returns the fitted
    {Z: c_Z} (elements present in ``structures`` only). With a single composition (one molecule
    in rMD17) only Σ_Z n_Z c_Z is determined; the minimum-norm solution is used, which fixes the
    energy of that composition exactly. Forces are unchanged.
    """
    if not structures:
        raise ConfigError("fit_energy_offset: no structures given")
    missing = [i for i, s in enumerate(structures) if K.ENERGY not in s]
    if missing:
        raise ConfigError(f"fit_energy_offset: structure {missing[0]} has no {K.ENERGY!r}")
    head = _energy_head(potential)
    predicted = predict_energies(potential, structures, batch_size)
    residual = [
        {K.ATOMIC_NUMBERS: np.asarray(s[K.ATOMIC_NUMBERS]), K.ENERGY: float(np.asarray(s[K.ENERGY])) - e}
        for s, e in zip(structures, predicted.tolist(), strict=False)
    ]
    max_z = head.atom_refs.shape[0]
    offsets = fit_atom_references(residual, max_z=max_z)
    with torch.no_grad():
        head.atom_refs += torch.as_tensor(offsets, dtype=head.atom_refs.dtype, device=head.atom_refs.device)
    present = np.unique(np.concatenate([np.asarray(s[K.ATOMIC_NUMBERS]) for s in structures]))
    return {int(z): float(offsets[z]) for z in present}
