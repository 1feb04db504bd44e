import numpy as np
import pytest
import torch

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.heads.polarizability import (
    PolarizabilityHead,
    anisotropy,
    isotropic,
    isotropic_atom_references,
    traceless,
)
from tests.heads.conftest import build, transformed


def test_rotation_translation_and_symmetry(batch, rotation):
    head = build(PolarizabilityHead)
    ref = head(batch)[K.POLARIZABILITY]
    assert ref.shape == (3, 3, 3)
    torch.testing.assert_close(ref, ref.transpose(1, 2), atol=0, rtol=0)
    out = head(transformed(batch, rotation, shift=(2.0, -4.0, 1.0)))[K.POLARIZABILITY]
    R = torch.as_tensor(rotation)
    torch.testing.assert_close(out, R @ ref @ R.T)
    torch.testing.assert_close(isotropic(out), isotropic(ref))
    torch.testing.assert_close(anisotropy(out), anisotropy(ref))


def test_statistics_shift_the_isotropic_part(batch):
    head = build(PolarizabilityHead)
    ref = head(batch)[K.POLARIZABILITY]
    refs = np.zeros(10)
    refs[1], refs[6], refs[8] = 0.5, 1.5, 1.0
    head.set_statistics(1.0, refs)
    out = head(batch)[K.POLARIZABILITY]
    added = torch.zeros(3, dtype=torch.float64).index_add(
        0, batch[K.BATCH], torch.as_tensor(refs)[batch[K.ATOMIC_NUMBERS]]
    )
    torch.testing.assert_close(out - ref, added[:, None, None] * torch.eye(3, dtype=torch.float64))
    head.set_statistics(2.0, np.zeros(10))
    torch.testing.assert_close(head(batch)[K.POLARIZABILITY], 2 * ref)


def test_invariants_known_values():
    alpha = torch.diag(torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64))
    assert float(isotropic(alpha)) == pytest.approx(3.0)
    # γ² = ½[(1−2)² + (2−6)² + (6−1)²] = 21
    assert float(anisotropy(alpha)) == pytest.approx(np.sqrt(21.0))
    assert float(anisotropy(5.0 * torch.eye(3, dtype=torch.float64))) == pytest.approx(0.0, abs=1e-12)
    torch.testing.assert_close(torch.diagonal(traceless(alpha)).sum(), torch.tensor(0.0, dtype=torch.float64))


def test_anisotropy_matches_component_formula():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(5, 3, 3, generator=g, dtype=torch.float64)
    a = a + a.transpose(1, 2)
    xx, yy, zz = a[:, 0, 0], a[:, 1, 1], a[:, 2, 2]
    xy, yz, zx = a[:, 0, 1], a[:, 1, 2], a[:, 2, 0]
    gamma2 = 0.5 * ((xx - yy) ** 2 + (yy - zz) ** 2 + (zz - xx) ** 2 + 6 * (xy**2 + yz**2 + zx**2))
    torch.testing.assert_close(anisotropy(a) ** 2, gamma2)


def test_isotropic_atom_references_recover_additive_model():
    rng = np.random.default_rng(0)
    truth = {1: 0.4, 6: 1.2, 8: 0.8}
    structures = []
    for _ in range(20):
        z = rng.choice([1, 6, 8], size=rng.integers(2, 9))
        iso = sum(truth[int(x)] for x in z)
        structures.append(
            {K.ATOMIC_NUMBERS: z, K.POLARIZABILITY: iso * np.eye(3) + np.diag([0.3, -0.3, 0.0])}
        )
    refs = isotropic_atom_references(structures)
    for z, value in truth.items():
        assert refs[z] == pytest.approx(value)


def test_needs_vector_features(batch):
    with pytest.raises(ConfigError, match="polarizability"):
        build(PolarizabilityHead)({k: v for k, v in batch.items() if k != K.VECTOR_FEATURES})
