"""The shared model contract: every model (representation + heads) must pass these checks.

Usage in a model's test module::

    from tests.models.contract import ContractTests
    class TestPaiNN(ContractTests):
        model_name = "painn"
        options = {"n_features": 16}

Checks: rotation/translation/permutation symmetry of energy, forces (R F), dipole (R μ)
and polarizability (R α Rᵀ) when the model predicts them; forces equal minus the
finite-difference gradient (float64); one molecule alone equals the same molecule in a
batch; gradients do not leak between molecules; energy smooth at the cutoff.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

import equimol
from equimol import keys as K
from equimol.data.batch import collate
from equimol.data.neighbors import add_neighbors


def make_batch(structures, cutoff, dtype=torch.float64):
    return collate([add_neighbors(s, cutoff) for s in structures], dtype=dtype)


class ContractTests:
    model_name: str = "painn"
    options: dict = {}
    heads: tuple = ("energy",)
    cutoff: float = 4.0
    # tolerances (float64)
    atol: float = 1e-8

    def build(self, dtype=torch.float64):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = equimol.build_model(self.model_name, heads=self.heads, cutoff=self.cutoff, **self.options)
        for p in model.parameters():  # random, non-trivial weights
            p.data = p.data.to(dtype)
        return model.eval()

    def predict(self, model, structures, dtype=torch.float64):
        return model(make_batch(structures, self.cutoff, dtype))

    def test_rotation_translation(self, mixed_structures):
        model = self.build()
        ref = self.predict(model, mixed_structures)
        R = Rotation.random(random_state=1).as_matrix()
        shift = np.array([1.3, -0.7, 2.1])
        moved = [{**s, K.POSITIONS: s[K.POSITIONS] @ R.T + shift} for s in mixed_structures]
        out = self.predict(model, moved)
        Rt = torch.as_tensor(R)
        torch.testing.assert_close(out[K.ENERGY], ref[K.ENERGY], atol=self.atol, rtol=1e-9)
        torch.testing.assert_close(out[K.FORCES], ref[K.FORCES] @ Rt.T, atol=self.atol, rtol=1e-7)
        if K.DIPOLE in ref:
            torch.testing.assert_close(out[K.DIPOLE], ref[K.DIPOLE] @ Rt.T, atol=self.atol, rtol=1e-7)
        if K.POLARIZABILITY in ref:
            expected = Rt @ ref[K.POLARIZABILITY] @ Rt.T
            torch.testing.assert_close(out[K.POLARIZABILITY], expected, atol=self.atol, rtol=1e-7)

    def test_permutation(self, ethanol):
        model = self.build()
        ref = self.predict(model, [ethanol])
        perm = np.random.default_rng(3).permutation(len(ethanol[K.ATOMIC_NUMBERS]))
        p = {k: v[perm] for k, v in ethanol.items()}
        out = self.predict(model, [p])
        torch.testing.assert_close(out[K.ENERGY], ref[K.ENERGY], atol=self.atol, rtol=1e-9)
        torch.testing.assert_close(
            out[K.FORCES], ref[K.FORCES][torch.as_tensor(perm)], atol=self.atol, rtol=1e-7
        )
        for key in (K.DIPOLE, K.POLARIZABILITY):
            if key in ref:
                torch.testing.assert_close(out[key], ref[key], atol=self.atol, rtol=1e-7)

    def test_forces_finite_difference(self, water):
        model = self.build()
        f = self.predict(model, [water])[K.FORCES].numpy()
        h = 1e-5
        for atom in range(3):
            for c in range(3):
                plus = {**water, K.POSITIONS: water[K.POSITIONS].copy()}
                minus = {**water, K.POSITIONS: water[K.POSITIONS].copy()}
                plus[K.POSITIONS][atom, c] += h
                minus[K.POSITIONS][atom, c] -= h
                ep = float(self.predict(model, [plus])[K.ENERGY])
                em = float(self.predict(model, [minus])[K.ENERGY])
                assert abs(-(ep - em) / (2 * h) - f[atom, c]) < 1e-6 * max(1.0, abs(f[atom, c]))

    def test_batch_equals_single(self, mixed_structures):
        model = self.build()
        batched = self.predict(model, mixed_structures)
        n0 = 0
        for b, s in enumerate(mixed_structures):
            single = self.predict(model, [s])
            n = len(s[K.ATOMIC_NUMBERS])
            torch.testing.assert_close(
                batched[K.ENERGY][b : b + 1], single[K.ENERGY], atol=self.atol, rtol=1e-9
            )
            torch.testing.assert_close(
                batched[K.FORCES][n0 : n0 + n], single[K.FORCES], atol=self.atol, rtol=1e-7
            )
            for key in (K.DIPOLE, K.POLARIZABILITY):
                if key in single:
                    torch.testing.assert_close(
                        batched[key][b : b + 1], single[key], atol=self.atol, rtol=1e-7
                    )
            n0 += n

    def test_no_gradient_leak(self, mixed_structures):
        model = self.build()
        batch = make_batch(mixed_structures, self.cutoff)
        pos = batch[K.POSITIONS].clone().requires_grad_(True)
        energy = model.properties({**batch, K.POSITIONS: pos})[K.ENERGY]
        (g,) = torch.autograd.grad(energy[0], pos)
        n0 = len(mixed_structures[0][K.ATOMIC_NUMBERS])
        assert torch.all(g[n0:] == 0)
        assert torch.any(g[:n0] != 0)

    def test_edges_beyond_cutoff_are_ignored(self, mixed_structures):
        """A Verlet list with skin (MD) gives exactly the result of a list at the cutoff."""
        model = self.build()
        ref = self.predict(model, mixed_structures)
        wide = model(make_batch(mixed_structures, self.cutoff + 1.0))
        torch.testing.assert_close(wide[K.ENERGY], ref[K.ENERGY], atol=self.atol, rtol=1e-9)
        torch.testing.assert_close(wide[K.FORCES], ref[K.FORCES], atol=self.atol, rtol=1e-7)

    def test_smooth_at_cutoff(self):
        """Energy and force of a dimer go continuously to their separated-atom values at r_cut."""
        model = self.build()

        def dimer(r):
            return {K.ATOMIC_NUMBERS: np.array([6, 8]), K.POSITIONS: np.array([[0.0, 0, 0], [r, 0, 0]])}

        far = self.predict(model, [dimer(self.cutoff + 0.5)])
        for eps in (1e-3, 1e-4):
            near = self.predict(model, [dimer(self.cutoff - eps)])
            assert abs(float(near[K.ENERGY] - far[K.ENERGY])) < 1e3 * eps**2 + 1e-9
            assert float(near[K.FORCES].abs().max()) < 1e2 * eps + 1e-9
