"""The model contract: checks every equimol model passes, for users' own models too.

Subclass :class:`ContractTests` in a pytest module and name the model::

    from equimol.testing import ContractTests

    class TestMyPaiNN(ContractTests):
        model_name = "painn"
        options = {"n_features": 16}
        heads = ("energy", "dipole", "polarizability")

or override :meth:`ContractTests.build` to return any :class:`~equimol.potential.Potential`.

Checks (float64 unless stated): rotation and translation (energy invariant, forces R F, dipole
R μ, polarizability and rank-2 tensors R α Rᵀ, ⟨R²⟩ invariant); reflection (the same with a
mirror for parity-invariant models; SO(3)-only models must really depend on handedness);
permutation of atoms; forces equal minus the finite-difference gradient; one molecule alone
equals the same molecule in a batch; gradients do not leak between molecules; edges beyond the
cutoff change nothing (Verlet lists); energy and forces smooth at the cutoff; float32 agrees
with float64; the input batch is not mutated; the evaluator path
(:class:`equimol.evaluator.Evaluator`) equals the direct ``Potential`` call.
"""

from __future__ import annotations

import numpy as np
import torch

from equimol import keys as K
from equimol.evaluator import Evaluator, structures_batch

Structure = dict[str, np.ndarray]


def _molecule(name: str) -> Structure:
    from ase.build import molecule

    a = molecule(name)
    return {K.ATOMIC_NUMBERS: a.numbers.astype(np.int64), K.POSITIONS: a.positions.astype(np.float64)}


def water() -> Structure:
    """H₂O from ``ase.build.molecule`` (Å)."""
    return _molecule("H2O")


def ethanol() -> Structure:
    """CH₃CH₂OH from ``ase.build.molecule`` (Å)."""
    return _molecule("CH3CH2OH")


def mixed_structures() -> list[Structure]:
    """Water, ethanol and benzene, slightly distorted (σ = 0.05 Å): a batch of mixed sizes."""
    rng = np.random.default_rng(0)
    out = []
    for name in ("H2O", "CH3CH2OH", "C6H6"):
        s = _molecule(name)
        s[K.POSITIONS] = s[K.POSITIONS] + 0.05 * rng.standard_normal(s[K.POSITIONS].shape)
        out.append(s)
    return out


def make_batch(structures, cutoff: float, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    """A batch of ``structures`` with neighbour lists at ``cutoff`` Å."""
    return structures_batch(structures, cutoff, dtype)


def _transform(out: dict[str, torch.Tensor], m: torch.Tensor) -> dict[str, torch.Tensor]:
    """How each output transforms under x → m x (m orthogonal, 3×3)."""
    expected = {K.ENERGY: out[K.ENERGY], K.FORCES: out[K.FORCES] @ m.T}
    if K.DIPOLE in out:
        expected[K.DIPOLE] = out[K.DIPOLE] @ m.T
    for key in (K.POLARIZABILITY, K.TENSOR):
        if key in out and out[key].shape[1:] == (3, 3):
            expected[key] = m @ out[key] @ m.T
    if K.SPATIAL_EXTENT in out:
        expected[K.SPATIAL_EXTENT] = out[K.SPATIAL_EXTENT]
    return expected


class ContractTests:
    """Mixin of pytest tests; set ``model_name``, ``options``, ``heads``, ``cutoff``."""

    model_name: str = "painn"
    options: dict = {}
    heads: tuple = ("energy",)
    cutoff: float = 4.0
    atol: float = 1e-8  # float64 tolerance
    parity_invariant: bool = True  # False for SO(3)-only models (e.g. L1Net without parity)

    def build(self, dtype: torch.dtype = torch.float64):
        import equimol

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = equimol.build_model(self.model_name, heads=self.heads, cutoff=self.cutoff, **self.options)
        for p in model.parameters():  # random, non-trivial weights
            p.data = p.data.to(dtype)
        return model.eval()

    def predict(self, model, structures, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        return model(make_batch(structures, self.cutoff, dtype))

    def assert_outputs(self, out, expected, rtol: float = 1e-7) -> None:
        for key, value in expected.items():
            torch.testing.assert_close(
                out[key], value, atol=self.atol, rtol=rtol, msg=lambda m, k=key: f"{k}: {m}"
            )

    def test_rotation_translation(self):
        from scipy.spatial.transform import Rotation

        model, structures = self.build(), mixed_structures()
        ref = self.predict(model, structures)
        rot = Rotation.random(random_state=1).as_matrix()
        moved = [{**s, K.POSITIONS: s[K.POSITIONS] @ rot.T + np.array([1.3, -0.7, 2.1])} for s in structures]
        self.assert_outputs(self.predict(model, moved), _transform(ref, torch.as_tensor(rot)))

    def test_reflection(self):
        model, structures = self.build(), mixed_structures()
        mirror = np.diag([-1.0, 1.0, 1.0])
        ref = self.predict(model, structures)
        out = self.predict(model, [{**s, K.POSITIONS: s[K.POSITIONS] @ mirror} for s in structures])
        if self.parity_invariant:
            self.assert_outputs(out, _transform(ref, torch.as_tensor(mirror)))
        else:  # an SO(3)-only model must see handedness; else it should declare parity_invariant
            assert not torch.allclose(out[K.ENERGY], ref[K.ENERGY], atol=1e-6, rtol=1e-6)

    def test_permutation(self):
        model, mol = self.build(), ethanol()
        ref = self.predict(model, [mol])
        perm = np.random.default_rng(3).permutation(len(mol[K.ATOMIC_NUMBERS]))
        out = self.predict(model, [{k: v[perm] for k, v in mol.items()}])
        expected = {
            k: v for k, v in ref.items() if k in (K.ENERGY, K.DIPOLE, K.POLARIZABILITY, K.SPATIAL_EXTENT)
        }
        self.assert_outputs(out, {**expected, K.FORCES: ref[K.FORCES][torch.as_tensor(perm)]})

    def test_forces_finite_difference(self):
        model, mol = self.build(), water()
        f = self.predict(model, [mol])[K.FORCES].numpy()
        h = 1e-5
        for atom in range(3):
            for c in range(3):
                shifted = []
                for sign in (1, -1):
                    pos = mol[K.POSITIONS].copy()
                    pos[atom, c] += sign * h
                    shifted.append(float(self.predict(model, [{**mol, K.POSITIONS: pos}])[K.ENERGY]))
                assert abs(-(shifted[0] - shifted[1]) / (2 * h) - f[atom, c]) < 1e-6 * max(
                    1.0, abs(f[atom, c])
                )

    def test_batch_equals_single(self):
        model, structures = self.build(), mixed_structures()
        batched = self.predict(model, structures)
        n0 = 0
        for b, s in enumerate(structures):
            single = self.predict(model, [s])
            n = len(s[K.ATOMIC_NUMBERS])
            expected = {k: v[b : b + 1] for k, v in batched.items() if v.shape[0] == len(structures)}
            expected = {k: v for k, v in expected.items() if k in single and k != K.FORCES}
            self.assert_outputs(single, {**expected, K.FORCES: batched[K.FORCES][n0 : n0 + n]})
            n0 += n

    def test_no_gradient_leak(self):
        model, structures = self.build(), mixed_structures()
        batch = make_batch(structures, self.cutoff)
        pos = batch[K.POSITIONS].clone().requires_grad_(True)
        energy = model.properties({**batch, K.POSITIONS: pos})[K.ENERGY]
        (g,) = torch.autograd.grad(energy[0], pos)
        n0 = len(structures[0][K.ATOMIC_NUMBERS])
        assert torch.all(g[n0:] == 0) and torch.any(g[:n0] != 0)

    def test_edges_beyond_cutoff_are_ignored(self):
        """A Verlet list with skin (MD) gives exactly the result of a list at the cutoff."""
        model, structures = self.build(), mixed_structures()
        ref = self.predict(model, structures)
        wide = model(make_batch(structures, self.cutoff + 1.0))
        self.assert_outputs(wide, {K.ENERGY: ref[K.ENERGY], K.FORCES: ref[K.FORCES]})

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

    def test_float32_agrees_with_float64(self):
        structures = mixed_structures()
        ref = self.predict(self.build(torch.float64), structures)
        out = self.predict(self.build(torch.float32), structures, torch.float32)
        for key in ref:
            if not ref[key].is_floating_point():
                continue
            scale = float(ref[key].abs().max()) + 1e-3
            err = float((out[key].double() - ref[key]).abs().max())
            assert err < 1e-4 * scale, f"{key}: float32 differs from float64 by {err:.3g} (scale {scale:.3g})"

    def test_batch_is_not_mutated(self):
        model = self.build()
        batch = make_batch(mixed_structures(), self.cutoff)
        before = {k: v.clone() for k, v in batch.items()}
        model(batch)
        model.properties(batch)
        assert set(batch) == set(before)
        for key, value in before.items():
            assert torch.equal(batch[key], value) and not batch[key].requires_grad, key

    def test_evaluator_equals_direct_call(self):
        model, structures = self.build(), mixed_structures()
        direct = self.predict(model, structures)
        results = Evaluator(model, dtype=torch.float64).predict(structures)
        n0 = 0
        for b, (s, r) in enumerate(zip(structures, results, strict=True)):
            n = len(s[K.ATOMIC_NUMBERS])
            for key, value in r.items():
                ref = direct[key][n0 : n0 + n] if key == K.FORCES else direct[key][b]
                np.testing.assert_allclose(value, ref.numpy(), atol=self.atol, rtol=1e-9, err_msg=key)
            n0 += n
