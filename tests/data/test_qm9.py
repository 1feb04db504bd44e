import numpy as np
import pytest

from equimol import keys as K
from equimol import units as U
from equimol.data.qm9 import (
    QM9_HEADER,
    parse_qm9_xyz,
    qm9_atom_references,
    qm9_float,
    read_qm9,
    read_qm9_extxyz,
    read_qm9_labels,
    read_qm9_records,
    read_qm9_xyz,
)
from equimol.data.stats import fit_atom_references
from equimol.errors import ConfigError, DataError
from tests.conftest import FIXTURES, shared_path

QM9 = FIXTURES / "qm9"  # 20 molecules cut from shared/data/qm9 (PROVENANCE.md)
EXTXYZ = QM9 / "qm9_full_properties_100.extxyz"
TARBALL = QM9 / "qm9_geometries_ppqm.tar.gz"

# Methane (gdb 1) in the native QM9 layout, properties as in the extxyz file; one Mulliken
# charge written with a Fortran/Mathematica exponent.
METHANE = """5
gdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t
C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689
H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921
H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922
H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923
H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 1.33923*^-1
1341.307\t1341.3284\t1341.365\t1562.6731\t1562.7453\t3038.3205\t3151.6034\t3151.6788\t3151.7078
C\tC\t
InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4
"""


def test_fortran_exponents():
    assert qm9_float("1.2*^-6") == pytest.approx(1.2e-6)
    assert qm9_float("-3.5") == -3.5


def test_native_xyz_units_and_layout(tmp_path):
    mol = parse_qm9_xyz(METHANE, "methane.xyz")
    assert mol.name == "dsgdb9nsd_000001" and mol.smiles == "C"
    s = mol.structure
    np.testing.assert_array_equal(s[K.ATOMIC_NUMBERS], [6, 1, 1, 1, 1])
    assert s[K.POSITIONS].shape == (5, 3)
    assert s[K.PARTIAL_CHARGES][-1] == pytest.approx(0.133923)
    assert abs(s[K.PARTIAL_CHARGES].sum()) < 1e-4
    p = mol.properties
    assert set(p) == set(QM9_HEADER)
    assert p["alpha"] == pytest.approx(13.21 * 0.529177210903**3, rel=1e-6)  # a0³ → Å³
    assert p["r2"] == pytest.approx(35.3641 * 0.529177210903**2, rel=1e-6)  # a0² → Å²
    assert p["U0"] == pytest.approx(-40.47893 * 27.211386, rel=1e-6)  # Ha → eV
    assert p["A"] == 157.7118 and p["Cv"] == 6.469
    path = tmp_path / "dsgdb9nsd_000001.xyz"
    path.write_text(METHANE)
    (read,) = read_qm9_xyz(tmp_path)
    assert read[K.ENERGY] == pytest.approx(p["U0"]) and read[K.DIPOLE_MAGNITUDE] == 0.0
    assert read[K.SPATIAL_EXTENT] == pytest.approx(p["r2"])


def test_native_matches_extxyz_variant():
    molecules = read_qm9_extxyz(EXTXYZ)
    assert len(molecules) == 20
    native = parse_qm9_xyz(METHANE)
    for key in QM9_HEADER:
        assert molecules[0].properties[key] == pytest.approx(native.properties[key], rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(molecules[0].structure[K.POSITIONS], native.structure[K.POSITIONS], atol=1e-8)


def test_extxyz_variant_units():
    molecules = read_qm9_extxyz(EXTXYZ)
    water = molecules[2].to_structure()
    np.testing.assert_array_equal(water[K.ATOMIC_NUMBERS], [8, 1, 1])
    assert water[K.DIPOLE_MAGNITUDE] == pytest.approx(1.8511 * U.DEBYE)
    assert molecules[2].properties["alpha"] == pytest.approx(6.31 * U.BOHR3)
    assert water[K.ENERGY] == pytest.approx(-76.404702 * U.HARTREE)
    for m in molecules:  # energies in eV, dipoles below 10 D, gap positive
        assert -20000 < m.properties["U0"] < -1000 and 0 <= m.properties["mu"] < 10 * U.DEBYE
        assert m.properties["gap"] > 0 and m.properties["r2"] > 0


def test_atom_references():
    refs = qm9_atom_references()
    assert refs[6] == pytest.approx(-37.846772 * U.HARTREE) and refs[2] == 0.0
    molecules = read_qm9_extxyz(EXTXYZ)
    atomization = [m.properties["U0"] - refs[m.structure[K.ATOMIC_NUMBERS]].sum() for m in molecules]
    # methane: −0.631066 Ha; every molecule is bound by a few eV per atom
    assert atomization[0] == pytest.approx((-40.47893 + 37.846772 + 4 * 0.500273) * U.HARTREE, abs=1e-6)
    per_atom = np.array(atomization) / [len(m.structure[K.ATOMIC_NUMBERS]) for m in molecules]
    assert np.all((per_atom < -2.0) & (per_atom > -6.0))
    fitted = fit_atom_references([m.to_structure() for m in molecules])
    assert set(np.flatnonzero(fitted)) <= {1, 6, 7, 8, 9}
    with pytest.raises(ConfigError):
        qm9_atom_references("zpve")


def test_tarball_with_labels():
    records = read_qm9_records(TARBALL, labels=("energy", "dipole_magnitude"), limit=4, seed=None)
    names = [n for n, _ in records]
    assert names == sorted(names) and len(names) == 4
    by_name = {f"dsgdb9nsd_{i + 1:06d}": m for i, m in enumerate(read_qm9_extxyz(EXTXYZ))}
    for name, s in records:
        ref = by_name[name]
        np.testing.assert_allclose(s[K.POSITIONS], ref.structure[K.POSITIONS], atol=1e-6)
        np.testing.assert_array_equal(s[K.ATOMIC_NUMBERS], ref.structure[K.ATOMIC_NUMBERS])
        # CHAMPS potential energy = QM9 U0 − ZPVE (B3LYP electronic energy)
        assert s[K.ENERGY] == pytest.approx(ref.properties["U0"] - ref.properties["zpve"], abs=1e-3)
        assert s[K.DIPOLE_MAGNITUDE] == pytest.approx(ref.properties["mu"], abs=1e-3)


def test_tarball_rimp2_dipole_vectors():
    structures = read_qm9(TARBALL, labels=("dipole",), limit=2, seed=None)
    water = structures[0]  # dsgdb9nsd_000003 is the first RI-MP2 molecule
    np.testing.assert_array_equal(water[K.ATOMIC_NUMBERS], [8, 1, 1])
    np.testing.assert_allclose(water[K.DIPOLE], np.array([0.70719, -0.4458, -0.00913]) * U.E_BOHR)
    # the dipole points from O towards the H atoms (geometry frame, not a rotated one)
    pos = water[K.POSITIONS]
    oh = pos[1:].mean(0) - pos[0]
    assert np.dot(oh, water[K.DIPOLE]) / np.linalg.norm(oh) / np.linalg.norm(water[K.DIPOLE]) > 0.99


def test_labels_are_joined_by_name():
    table = read_qm9_labels(QM9, ("energy", "dipole"))
    assert len(table) <= 10_000 and "dsgdb9nsd_000003" in table
    assert set(table["dsgdb9nsd_000003"]) == {K.ENERGY, K.DIPOLE}
    with pytest.raises(DataError, match="unknown QM9 label"):
        read_qm9_labels(QM9, ("homo",))


def test_malformed_files(tmp_path):
    with pytest.raises(DataError, match="malformed"):
        parse_qm9_xyz("5\n\nC 0 0 0\n", "bad.xyz")
    with pytest.raises(DataError, match="property line"):
        parse_qm9_xyz("1\ngdb 1 2 3\nC 0 0 0 0\n", "bad.xyz")
    with pytest.raises(DataError, match="not found"):
        read_qm9(tmp_path / "missing.tar.gz", labels=())
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar archive")
    with pytest.raises(DataError, match="tar"):
        read_qm9(broken, labels=())


def _small_archive(tmp_path, n=4):
    import io
    import tarfile

    tar_path = tmp_path / "small.tar.gz"
    text = METHANE.replace(METHANE.splitlines()[1], "")  # the ppqm layout: empty property line
    with tarfile.open(tar_path, "w:gz") as tf:
        for i in range(1, n + 1):
            data = text.encode()
            info = tarfile.TarInfo(f"xyz/dsgdb9nsd_{i:06d}.xyz")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (tmp_path / "champs_potential_energy.csv").write_text(
        "molecule_name,potential_energy\n" + "".join(f"dsgdb9nsd_{i:06d},-40.{i}\n" for i in range(1, n + 2))
    )
    (tmp_path / "champs_dipole_moments.csv").write_text(
        "molecule_name,X,Y,Z\n" + "".join(f"dsgdb9nsd_{i:06d},0,{i},0\n" for i in range(1, n))
    )
    return tar_path


def test_join_and_seeded_sampling(tmp_path):
    tar_path = _small_archive(tmp_path)
    records = read_qm9_records(tar_path, labels=("energy", "dipole_magnitude"))
    # molecule 4 lacks a dipole label, molecule 5 a geometry
    assert [n for n, _ in records] == [f"dsgdb9nsd_{i:06d}" for i in (1, 2, 3)]
    _, s = records[1]
    assert s[K.ENERGY] == pytest.approx(-40.2 * U.HARTREE) and s[K.DIPOLE_MAGNITUDE] == pytest.approx(
        2 * U.DEBYE
    )
    assert K.PARTIAL_CHARGES in s  # this synthetic file carries Mulliken charges
    a = [n for n, _ in read_qm9_records(tar_path, labels=("energy",), limit=2, seed=1)]
    b = [n for n, _ in read_qm9_records(tar_path, labels=("energy",), limit=2, seed=1)]
    assert a == b and len(set(a)) == 2 and a == sorted(a)
    assert len(read_qm9(tar_path, labels=(), limit=10)) == 4
    assert read_qm9(tar_path, labels=("energy",), limit=0) == []


@pytest.mark.shared_data
def test_full_qm9_sets():
    """The full files: 100 extxyz molecules; every labelled molecule of the tarball parses and joins."""
    qm9 = shared_path("qm9")
    assert len(read_qm9_extxyz(qm9 / "qm9_full_properties_100.extxyz")) == 100
    records = read_qm9_records(qm9 / "qm9_geometries_ppqm.tar.gz", labels=("energy",), seed=None)
    assert len(records) == 83_655  # names with a CHAMPS energy and a geometry (shared/data/README.md)
    energies = np.array([float(s[K.ENERGY]) for _, s in records])
    assert np.all((energies < 0) & (energies > -30_000))  # eV


def test_read_structures_reads_a_qm9_tarball(tmp_path):
    import subprocess
    import sys

    from equimol.data.formats import read_structures

    tar_path = _small_archive(tmp_path)
    structures = read_structures(tar_path)
    expected = read_qm9(tar_path)
    assert len(structures) == len(expected) == 3
    for s, e in zip(structures, expected, strict=True):
        assert s.keys() == e.keys()
        np.testing.assert_array_equal(s[K.POSITIONS], e[K.POSITIONS])
    # formats imports qm9 and not the other way round: either module can be imported first
    for first in ("qm9", "formats"):
        code = f"import equimol.data.{first}, equimol.data.formats, equimol.data.qm9"
        subprocess.run([sys.executable, "-c", code], check=True)
