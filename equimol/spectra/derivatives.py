"""Harmonic-spectrum ingredients (Hessian, ∂μ/∂r, ∂α/∂r) for an equimol model and for GFN2-xTB.

Both return the same dict so :func:`harmonic_spectra` can treat them alike:
``positions`` (N,3) Å of the relaxed structure, ``hessian`` (3N,3N) eV/Å², and when
available ``dipole_derivatives`` (3N,3) e and ``polarizability_derivatives`` (3N,3,3) Å².
Row order is atom-major (x0, y0, z0, x1, ...).
"""

from __future__ import annotations

import numpy as np
import torch

from equimol import keys as K


def model_derivatives(potential, structure: dict, relax: bool = True, fmax: float = 1e-3) -> dict:
    """Relax with the model (FIRE, float64), then Hessian and property derivatives by autograd.

    Works on a float64 copy of ``potential`` (the caller's model is not changed)."""
    from equimol.evaluator import Evaluator
    from equimol.md.model_forces import ModelForceFn
    from equimol.md.optimize import optimize
    from equimol.potential import compute_hessian

    z = structure[K.ATOMIC_NUMBERS]
    pos = np.asarray(structure[K.POSITIONS], dtype=np.float64)
    evaluator = Evaluator(potential, dtype=torch.float64)
    if relax:
        fn = ModelForceFn(evaluator.potential, z, dtype=torch.float64)
        # FIRE with short steps: an L-BFGS line search can jump into unsampled regions (bonds of
        # 0.5 Å) where a model trained on MD frames has spurious minima
        pos = optimize(
            fn, torch.as_tensor(pos), method="fire", fmax=fmax, max_steps=5000, maxstep=0.05
        ).positions.numpy()
    batch = evaluator.batch([{K.ATOMIC_NUMBERS: z, K.POSITIONS: pos}])
    model = evaluator.potential
    out = {"positions": pos, "hessian": compute_hessian(model, batch).numpy()}
    x = batch[K.POSITIONS].clone().requires_grad_(True)
    with torch.enable_grad():
        props = model.properties({**batch, K.POSITIONS: x})
        for key, name, shape in (
            (K.DIPOLE, "dipole_derivatives", (3,)),
            (K.POLARIZABILITY, "polarizability_derivatives", (3, 3)),
        ):
            if key not in props:
                continue
            flat = props[key][0].reshape(-1)
            rows = [
                torch.autograd.grad(flat[c], x, retain_graph=True)[0].reshape(-1) for c in range(flat.numel())
            ]
            out[name] = torch.stack(rows, dim=1).reshape(-1, *shape).detach().numpy()
    return out


def xtb_derivatives(structure: dict, relax: bool = True, step: float = 0.005, settings=None) -> dict:
    """Relax with GFN2-xTB, Hessian from forces and ∂μ/∂r, ∂α/∂r by central differences (step Å)."""
    from equimol.reference.sampling import relax as xtb_relax
    from equimol.reference.xtb import DEFAULT_SETTINGS, hessian, single_point

    settings = settings or DEFAULT_SETTINGS
    s = xtb_relax(structure, settings) if relax else structure
    z, pos = s[K.ATOMIC_NUMBERS], np.asarray(s[K.POSITIONS], dtype=np.float64)
    n = len(z)
    dmu = np.zeros((3 * n, 3))
    dalpha = np.zeros((3 * n, 3, 3))
    for k in range(3 * n):
        res = []
        for sign in (1, -1):
            p = pos.copy()
            p.reshape(-1)[k] += sign * step
            res.append(single_point(p, z, settings, ("dipole", "polarizability")))
        dmu[k] = (res[0]["dipole"] - res[1]["dipole"]) / (2 * step)
        dalpha[k] = (res[0]["polarizability"] - res[1]["polarizability"]) / (2 * step)
    return {
        "positions": pos,
        "hessian": hessian(pos, z, settings),
        "dipole_derivatives": dmu,
        "polarizability_derivatives": dalpha,
    }


def harmonic_spectra(
    derivs: dict,
    atomic_numbers,
    grid_cm1: np.ndarray,
    fwhm_cm1: float = 20.0,
    label: str = "harmonic",
    laser_nm: float = 514.0,
    temperature_k: float = 300.0,
) -> dict:
    """Broadened harmonic IR (km/mol per cm⁻¹) and unpolarised Raman spectra, plus stick data."""
    from ase.data import atomic_masses

    from equimol.spectra.harmonic import (
        broaden,
        ir_intensities,
        normal_modes,
        raman_activities,
        raman_intensities,
    )

    masses = atomic_masses[np.asarray(atomic_numbers)]
    modes = normal_modes(derivs["hessian"], masses, derivs["positions"])
    out = {"frequencies_cm1": modes.frequencies_cm1}
    if "dipole_derivatives" in derivs:
        ir = ir_intensities(modes, derivs["dipole_derivatives"])
        out["ir_sticks"] = ir
        out["ir"] = broaden(
            modes.frequencies_cm1, ir, grid_cm1, fwhm_cm1=fwhm_cm1, label=f"{label} IR", unit="km mol⁻¹"
        )
    if "polarizability_derivatives" in derivs:
        act = raman_activities(modes, derivs["polarizability_derivatives"])
        inten = raman_intensities(modes.frequencies_cm1, act, laser_nm, temperature_k)
        out["raman_sticks"] = inten
        out["raman"] = broaden(
            modes.frequencies_cm1,
            inten,
            grid_cm1,
            fwhm_cm1=fwhm_cm1,
            label=f"{label} Raman",
            unit="Å⁶ fs cm⁻¹",
        )
    return out
