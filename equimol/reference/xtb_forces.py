"""GFN2-xTB as an MD ``force_fn`` (for reference trajectories driven by xTB itself)."""

from __future__ import annotations

import numpy as np
import torch

from equimol.reference.xtb import DEFAULT_SETTINGS, XTBSettings, single_point


class XTBForceFn:
    """``force_fn(positions (S, N, 3) Å)`` → energy (S,) eV, forces (S,N,3) eV/Å, dipole (S,3) e·Å and,
    every ``polarizability_every``-th call, polarizability (S,3,3) Å³ (finite field, 7 SCFs).

    The MD loop calls the force function once per step (call 0 is the initial state), so with
    ``polarizability_every`` equal to the trajectory stride the polarizability is computed
    exactly for the frames that are written; other calls repeat the last value.
    """

    def __init__(
        self, atomic_numbers, settings: XTBSettings = DEFAULT_SETTINGS, polarizability_every: int = 0
    ):
        self.z = np.asarray(atomic_numbers, dtype=np.int64)
        self.settings = settings
        self.every = int(polarizability_every)
        self.n_calls = 0
        self._alpha: torch.Tensor | None = None

    def __call__(self, positions: torch.Tensor) -> dict[str, torch.Tensor]:
        want_alpha = self.every > 0 and self.n_calls % self.every == 0
        props = ("energy", "forces", "dipole") + (("polarizability",) if want_alpha else ())
        pos = positions.detach().cpu().double().numpy()
        res = [single_point(p, self.z, self.settings, props) for p in pos]
        dt, dev = positions.dtype, positions.device
        out = {
            "energy": torch.tensor([float(r["energy"]) for r in res], dtype=dt, device=dev),
            "forces": torch.as_tensor(np.stack([r["forces"] for r in res]), dtype=dt, device=dev),
            "dipole": torch.as_tensor(np.stack([r["dipole"] for r in res]), dtype=dt, device=dev),
        }
        if want_alpha:
            self._alpha = torch.as_tensor(np.stack([r["polarizability"] for r in res]), dtype=dt, device=dev)
        if self._alpha is not None:
            out["polarizability"] = self._alpha
        self.n_calls += 1
        return out
