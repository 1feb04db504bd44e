"""One spherical-harmonics function (equimol.nn.so3) for So3krates ('norm') and TFN ('component')."""

import pytest
import torch
from e3nn import o3

from equimol.models import tfn_layers
from equimol.nn import so3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("normalization", ["norm", "component", "integral"])
def test_same_values_as_e3nn(dtype, normalization):
    vectors = torch.randn(20, 3, generator=torch.Generator().manual_seed(0), dtype=dtype) * 2.0
    degrees = (0, 1, 2, 4)
    expected = o3.spherical_harmonics(list(degrees), vectors, normalize=True, normalization=normalization)
    assert torch.equal(so3.spherical_harmonics(degrees, vectors, normalization=normalization), expected)


def test_default_is_norm_and_tfn_uses_component():
    vectors = torch.randn(10, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = so3.spherical_harmonics((1, 2), vectors)
    torch.testing.assert_close(y[:, :3].norm(dim=1), torch.ones(10, dtype=torch.float64))
    torch.testing.assert_close(y[:, 3:].norm(dim=1), torch.ones(10, dtype=torch.float64))
    tfn = tfn_layers.spherical_harmonics(2, vectors)
    expected = o3.spherical_harmonics([0, 1, 2], vectors, normalize=True, normalization="component")
    assert torch.equal(tfn, expected) and torch.equal(tfn[:, 0], torch.ones(10, dtype=torch.float64))
    assert tfn_layers.l1_to_cartesian is so3.l1_to_cartesian
