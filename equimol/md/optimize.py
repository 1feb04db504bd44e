"""Geometry optimisation on the force_fn interface (no ASE): L-BFGS (SciPy) or FIRE.

Converged when the largest per-atom force norm is at most ``fmax`` (eV/Å), the criterion
of ASE optimisers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor

from equimol import keys
from equimol.md.state import ForceFn


@dataclass
class OptimizationResult:
    """positions (N, 3) Å, energy eV, forces (N, 3) eV/Å at the final geometry."""

    positions: Tensor
    energy: float
    forces: Tensor
    max_force: float
    n_evaluations: int
    converged: bool


def _evaluate(force_fn: ForceFn, x: Tensor) -> tuple[float, Tensor]:
    out = force_fn(x[None])
    return float(out[keys.ENERGY].detach()[0]), out[keys.FORCES].detach()[0].to(x)


def _max_force(forces: Tensor) -> float:
    return float(forces.norm(dim=-1).max())


def optimize(
    force_fn: ForceFn,
    positions: Tensor,
    *,
    method: str = "lbfgs",
    fmax: float = 0.01,
    max_steps: int = 1000,
    maxstep: float = 0.2,
) -> OptimizationResult:
    """Minimise the energy of one structure, positions (N, 3) Å (dtype/device kept).

    method "lbfgs": SciPy L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995) on the flattened
    coordinates, at most ``max_steps`` iterations. method "fire": FIRE (Bitzek et al.,
    Phys. Rev. Lett. 97, 170201 (2006)) with ASE's default parameters and a step of at most
    ``maxstep`` Å. force_fn is called with (1, N, 3) positions.
    """
    if positions.ndim != 2 or positions.shape[-1] != 3:
        raise ValueError(f"positions must be (N, 3) Å, got {tuple(positions.shape)}")
    if not fmax > 0:
        raise ValueError(f"fmax must be > 0, got {fmax}")
    if method == "lbfgs":
        return _lbfgs(force_fn, positions, fmax, max_steps)
    if method == "fire":
        return _fire(force_fn, positions, fmax, max_steps, maxstep)
    raise ValueError(f"unknown method {method!r}; use 'lbfgs' or 'fire'")


def _lbfgs(force_fn: ForceFn, x0: Tensor, fmax: float, max_steps: int) -> OptimizationResult:
    shape, n_eval = x0.shape, 0
    last: dict[str, object] = {}

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal n_eval
        n_eval += 1
        x = torch.as_tensor(flat.reshape(shape), dtype=x0.dtype, device=x0.device)
        energy, forces = _evaluate(force_fn, x)
        last.update(x=x, energy=energy, forces=forces)
        return energy, -forces.cpu().double().numpy().ravel()

    def callback(intermediate_result: object) -> None:
        if _max_force(last["forces"]) <= fmax:  # type: ignore[arg-type]
            raise StopIteration

    fun(x0.detach().cpu().double().numpy().ravel())
    if _max_force(last["forces"]) > fmax:  # type: ignore[arg-type]
        minimize(
            fun,
            x0.detach().cpu().double().numpy().ravel(),
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={"maxiter": max_steps, "gtol": fmax / math.sqrt(3.0) / 10.0, "ftol": 0.0},
        )
    x, forces = last["x"], last["forces"]
    assert isinstance(x, Tensor) and isinstance(forces, Tensor)
    mf = _max_force(forces)
    return OptimizationResult(x, float(last["energy"]), forces, mf, n_eval, mf <= fmax)  # type: ignore[arg-type]


def _fire(force_fn: ForceFn, x0: Tensor, fmax: float, max_steps: int, maxstep: float) -> OptimizationResult:
    dt, dtmax, n_min, finc, fdec, a_start, fa = 0.1, 1.0, 5, 1.1, 0.5, 0.1, 0.99
    x = x0.detach().clone()
    v = torch.zeros_like(x)
    a, n_pos = a_start, 0
    energy, forces = _evaluate(force_fn, x)
    n_eval = 1
    for _ in range(max_steps):
        if _max_force(forces) <= fmax:
            break
        vf = float((v * forces).sum())
        if vf > 0.0:
            v = (1.0 - a) * v + a * forces * (v.norm() / forces.norm())
            if n_pos > n_min:
                dt, a = min(dt * finc, dtmax), a * fa
            n_pos += 1
        else:
            v, a, dt, n_pos = torch.zeros_like(v), a_start, dt * fdec, 0
        v = v + dt * forces
        dr = dt * v
        norm = float(dr.norm())
        if norm > maxstep:
            dr = dr * (maxstep / norm)
        x = x + dr
        energy, forces = _evaluate(force_fn, x)
        n_eval += 1
    mf = _max_force(forces)
    return OptimizationResult(x, energy, forces, mf, n_eval, mf <= fmax)
