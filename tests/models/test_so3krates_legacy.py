"""``LEGACY_OPTIONS`` rebuild equimol's earlier So3krates: the rMD17 ethanol checkpoint written
before the paper-exact defaults (checkpoint format 1; kept as tests/data/legacy/
so3krates_ethanol_format1.pt, the file experiments/so3krates/so3krates_ethanol.pt was until the
paper-size model replaced it, commit 0f9e60a) loads into it and gives the energies and forces
that the earlier code gave (values recorded with it)."""

from pathlib import Path

import numpy as np
import torch

from equimol import keys as K
from equimol.io import read_checkpoint
from equimol.models.so3krates import LEGACY_OPTIONS
from equimol.potential import build_potential
from equimol.reference.molecules import cumulene
from equimol.testing import make_batch, mixed_structures

CHECKPOINT = Path(__file__).resolve().parents[1] / "data" / "legacy" / "so3krates_ethanol_format1.pt"

# energies (eV) and the forces on the first three atoms (eV/Å) of mixed_structures() + [cumulene(9)],
# from the earlier code (float64)
ENERGIES = [-1334.2100559873, -4209.8026620850, -4925.8621629355, -4307.4937113268]
FORCES = [
    [-0.0211531357, -0.4716640572, 0.8566533168],
    [-0.0160181752, 1.1017382125, -0.5934408225],
    [0.0371713109, -0.6300741553, -0.2632124943],
]


def test_ethanol_checkpoint_rebuilds_with_legacy_options():
    raw = read_checkpoint(CHECKPOINT)
    spec = raw["metadata"]["spec"]
    assert not set(LEGACY_OPTIONS) & set(spec["model"]["options"])  # written before these options
    spec["model"]["options"] = {**LEGACY_OPTIONS, **spec["model"]["options"]}
    potential = build_potential(spec)
    potential.load_state_dict(raw["model"])  # strict: same parameter names and shapes
    potential = potential.double().eval()
    out = potential(make_batch(mixed_structures() + [cumulene(9)], potential.cutoff))
    np.testing.assert_allclose(out[K.ENERGY].detach().numpy(), ENERGIES, rtol=0, atol=1e-8)
    np.testing.assert_allclose(out[K.FORCES][:3].detach().numpy(), FORCES, rtol=0, atol=1e-8)


def test_ethanol_checkpoint_spec_builds_a_different_default_network():
    """Without the options the stored spec builds the paper's network, whose parameters differ
    (φ_{1,2} sees F + 2|L| inputs, φ_3 has a bias, 5 instead of 8 CG paths)."""
    raw = read_checkpoint(CHECKPOINT)
    default = build_potential(raw["metadata"]["spec"]).state_dict()
    shapes = {k: tuple(v.shape) for k, v in raw["model"].items()}
    assert shapes["representation.layers.0.interaction.phi12.0.weight"] == (96, 99)
    assert tuple(default["representation.layers.0.interaction.phi12.0.weight"].shape) == (96, 102)
    assert tuple(default["representation.layers.0.interaction.coupled.k"].shape) == (5,)
    assert "representation.layers.0.interaction.phi3.bias" not in raw["model"]
    assert torch.is_tensor(default["representation.layers.0.interaction.phi3.bias"])


def test_equimol_load_migrates_the_version1_checkpoint():
    """``equimol.load`` applies LEGACY_OPTIONS to format-1 So3krates specs (equimol.io.migrate_spec)."""
    import equimol

    potential = equimol.load(CHECKPOINT, dtype=torch.float64)
    for key, value in LEGACY_OPTIONS.items():
        assert potential.spec["model"]["options"][key] == value
    out = potential(make_batch(mixed_structures() + [cumulene(9)], potential.cutoff))
    np.testing.assert_allclose(out[K.ENERGY].detach().numpy(), ENERGIES, rtol=0, atol=1e-6)
