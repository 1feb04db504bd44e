"""One normal-mode analysis, equimol.spectra.harmonic.normal_modes: used by harmonic spectra and by
normal-mode sampling (equimol.reference.sampling)."""

import numpy as np
import pytest
from ase.data import atomic_masses

from equimol.reference import sampling
from equimol.spectra import harmonic


def _pair_hessian(positions: np.ndarray, k: float = 30.0) -> np.ndarray:
    """(3N, 3N) eV/Å² of springs k/r² along every pair (a symmetric positive semi-definite model)."""
    n = len(positions)
    h = np.zeros((3 * n, 3 * n))
    for i in range(n):
        for j in range(i + 1, n):
            d = positions[j] - positions[i]
            block = k / (d @ d) * np.outer(d, d) / (d @ d)
            for a, b, sign in ((i, i, 1), (j, j, 1), (i, j, -1), (j, i, -1)):
                h[3 * a : 3 * a + 3, 3 * b : 3 * b + 3] += sign * block
    return h


WATER = (np.array([[0.0, 0.0, 0.12], [0.0, 0.76, -0.47], [0.0, -0.76, -0.47]]), [8, 1, 1])
CO2 = (np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.16], [0.0, 0.0, -1.16]]), [6, 8, 8])


@pytest.mark.parametrize(("molecule", "n_modes"), [(WATER, 3), (CO2, 4)])
def test_sampling_view_of_the_same_modes(molecule, n_modes):
    positions, numbers = molecule
    masses = atomic_masses[numbers]
    hessian = _pair_hessian(positions)
    full = harmonic.normal_modes(hessian, masses, positions, linear_tolerance=1e-6)
    view = sampling.normal_modes(hessian, positions, masses)
    assert view.frequencies_cm.shape == (n_modes,) and view.modes.shape == (n_modes, 3, 3)
    np.testing.assert_array_equal(view.frequencies_cm, full.frequencies_cm1)
    # unit Cartesian directions along ∂x/∂Q, and K = qᵀ H q along them
    directions = view.modes.reshape(n_modes, -1)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    cartesian = full.cartesian_displacements / np.linalg.norm(full.cartesian_displacements, axis=0)
    np.testing.assert_allclose(directions, cartesian.T, atol=1e-12)
    np.testing.assert_allclose(
        view.force_constants, np.einsum("mi,ij,mj->m", directions, hessian, directions)
    )


def test_rigid_body_basis_spans_translations_and_rotations():
    positions, numbers = WATER
    masses = atomic_masses[numbers]
    basis = harmonic.rigid_body_basis(positions, masses)
    assert basis.shape == (9, 6)
    np.testing.assert_allclose(basis.T @ basis, np.eye(6), atol=1e-12)
    translation = np.tile([1.0, 0.0, 0.0], 3) * np.sqrt(np.repeat(masses, 3))
    np.testing.assert_allclose(basis @ (basis.T @ translation), translation, atol=1e-12)
    assert harmonic.rigid_body_basis(*CO2[:1], atomic_masses[CO2[1]]).shape == (9, 5)  # linear
