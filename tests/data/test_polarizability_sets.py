import numpy as np
import pytest

from equimol import keys as K
from equimol import units as U
from equimol.data.polarizability_sets import (
    MALONALDEHYDE_ORDER,
    read_atom_order,
    read_polarizability_set,
    read_tensoap_xyz,
    symmetrize,
)
from equimol.errors import DataError
from tests.conftest import FIXTURES, shared_path

# frames per set: the committed fixture (20 of each, PROVENANCE.md) and the full shared files
FRAMES = {
    "fixture": dict.fromkeys(
        ["malonaldehyde-train", "malonaldehyde-test", "biphenyl-train", "biphenyl-test", "water"], 20
    ),
    "full": {"malonaldehyde-train": 2000, "malonaldehyde-test": 500, "biphenyl-train": 2000,
             "biphenyl-test": 501, "water": 1000},
}  # fmt: skip


@pytest.fixture(
    scope="module",
    params=[pytest.param("fixture"), pytest.param("full", marks=pytest.mark.shared_data)],
)
def source(request):
    """(folder, frame counts) of the fixture or of the full shared data."""
    path = FIXTURES / "polarizability" if request.param == "fixture" else shared_path("polarizability")
    return path, FRAMES[request.param]


@pytest.fixture(scope="module")
def data_dir(source):
    return source[0]


def _nearest(pos):
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return d.argmin(1), d.min(1)


@pytest.mark.parametrize(
    ("name", "split", "n_atoms"),
    [
        ("malonaldehyde", "train", 9),
        ("malonaldehyde", "test", 9),
        ("biphenyl", "train", 22),
        ("biphenyl", "test", 22),
    ],
)
def test_bpm_sets(source, name, split, n_atoms):
    data_dir, frames = source
    structures = read_polarizability_set(name, split, data_dir)
    assert len(structures) == frames[f"{name}-{split}"]
    s = structures[0]
    assert s[K.POSITIONS].shape == (n_atoms, 3) and s[K.POLARIZABILITY].shape == (3, 3)
    alpha = np.stack([x[K.POLARIZABILITY] for x in structures])
    np.testing.assert_array_equal(alpha, alpha.transpose(0, 2, 1))
    raw = np.load(
        data_dir
        / (
            "alpha_MDA.npy"
            if (name, split) == ("malonaldehyde", "train")
            else {"malonaldehyde": "alpha_MDA_test.npy", "biphenyl": f"alpha_biphenyl_{split}.npy"}[name]
        )
    )
    np.testing.assert_allclose(alpha, 0.5 * (raw + raw.transpose(0, 2, 1)) * U.BOHR3)
    # isotropic polarizabilities in Å³: malonaldehyde about 6–7, biphenyl about 20
    iso = np.trace(alpha, axis1=1, axis2=2).mean() / 3
    assert (5 < iso < 9) if name == "malonaldehyde" else (17 < iso < 25)
    # atom order: every H sits 0.95–1.15 Å from its nearest atom, a C or an O
    z = s[K.ATOMIC_NUMBERS]
    nearest, dist = _nearest(s[K.POSITIONS])
    hydrogens = z == 1
    assert np.all((dist[hydrogens] > 0.9) & (dist[hydrogens] < 1.15))
    assert np.all(np.isin(z[nearest[hydrogens]], [6, 8]))


def test_atom_orders(data_dir):
    assert read_atom_order(data_dir / "data_MA.txt") == MALONALDEHYDE_ORDER
    biphenyl = read_atom_order(data_dir / "data_biphenyl.txt")
    assert len(biphenyl) == 22 and biphenyl.count("C") == 12 and biphenyl.count("H") == 10
    # malonaldehyde: H6 is the hydroxyl proton (it hops between O2 and O4 at 500 K); H5, H7, H8 sit on carbons
    for split in ("train", "test"):
        structures = read_polarizability_set("malonaldehyde", split, data_dir)
        for s in structures[:: max(1, len(structures) // 20)]:
            nearest, _ = _nearest(s[K.POSITIONS])
            assert nearest[6] in (2, 4) and all(nearest[h] in (0, 1, 3) for h in (5, 7, 8))


@pytest.mark.parametrize(
    ("name", "n_atoms", "charge"), [("water_monomer", 3, 0.0), ("water_dimer", 6, 0.0), ("zundel", 7, 1.0)]
)
def test_tensoap_water(source, name, n_atoms, charge):
    data_dir, frames = source
    structures = read_polarizability_set(name, data_dir=data_dir)
    assert len(structures) == frames["water"]
    s = structures[0]
    assert s[K.POSITIONS].shape == (n_atoms, 3) and K.CELL not in s and K.PBC not in s
    assert s[K.DIPOLE].shape == (3,) and s[K.POLARIZABILITY].shape == (3, 3) and s[K.ENERGY].shape == ()
    assert float(s.get(K.TOTAL_CHARGE, 0.0)) == charge
    energies = np.array([float(x[K.ENERGY]) for x in structures])
    assert np.all(
        (energies / U.HARTREE > -77 * (n_atoms // 3)) & (energies / U.HARTREE < -76 * (n_atoms // 3))
    )
    for x in structures[:50]:
        np.testing.assert_array_equal(x[K.POLARIZABILITY], x[K.POLARIZABILITY].T)


def test_tensoap_units(data_dir):
    s = read_tensoap_xyz(data_dir / "water_monomer_cc.xyz")[0]
    assert float(s[K.ENERGY]) == pytest.approx(-76.3489282585 * U.HARTREE)
    np.testing.assert_allclose(s[K.DIPOLE], np.array([-0.734398, 0.0, -0.040971]) * U.E_BOHR)
    assert s[K.POLARIZABILITY][0, 0] == pytest.approx(9.812358 * U.BOHR3)
    assert s[K.POLARIZABILITY][0, 2] == pytest.approx(0.019696 * U.BOHR3)
    # water: |μ| ≈ 1.87 D, isotropic α ≈ 1.46 Å³
    assert np.linalg.norm(s[K.DIPOLE]) / U.DEBYE == pytest.approx(1.87, abs=0.1)
    assert np.trace(s[K.POLARIZABILITY]) / 3 == pytest.approx(1.46, abs=0.1)


def test_errors(tmp_path, data_dir):
    with pytest.raises(DataError, match="not symmetric"):
        symmetrize(np.array([[[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]]]), "x")
    with pytest.raises(DataError, match="unknown polarizability set"):
        read_polarizability_set("ethanol", data_dir=data_dir)
    with pytest.raises(DataError, match="unknown split"):
        read_polarizability_set("biphenyl", "validation", data_dir)
    with pytest.raises(DataError, match="not found"):
        read_polarizability_set("biphenyl", "train", tmp_path)
    (tmp_path / "data_MA.txt").write_text("no order here\n")
    with pytest.raises(DataError, match="atom order"):
        read_atom_order(tmp_path / "data_MA.txt")
