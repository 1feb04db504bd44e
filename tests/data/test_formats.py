import numpy as np
import pytest

from equimol import keys as K
from equimol import units as U
from equimol.data.formats import read_structures, write_structures
from equimol.data.store import Store, StoreWriter
from equimol.errors import DataError
from tests.conftest import rmd17_path, shared_path


@pytest.mark.parametrize(
    ("path", "n_frames"),
    [
        pytest.param(rmd17_path("ethanol"), 50, id="fixture"),
        pytest.param(
            shared_path("rmd17", "rmd17_ethanol_train_01.npz"), 1000, id="full", marks=pytest.mark.shared_data
        ),
    ],
)
def test_rmd17_units_converted_once(path, n_frames):
    raw = np.load(path)
    s = read_structures(path)
    assert len(s) == n_frames
    assert s[0][K.ATOMIC_NUMBERS].tolist() == raw["nuclear_charges"].tolist()
    assert s[3][K.ENERGY] == pytest.approx(raw["energies"][3] * U.KCAL_PER_MOL)
    np.testing.assert_allclose(s[3][K.FORCES], raw["forces"][3] * U.KCAL_PER_MOL)
    np.testing.assert_allclose(s[3][K.POSITIONS], raw["coords"][3])
    assert U.KCAL_PER_MOL == pytest.approx(0.0433641, rel=1e-5)


@pytest.mark.parametrize("suffix", [".extxyz", ".h5", ".db"])
def test_roundtrip(tmp_path, suffix, mixed_structures):
    rng = np.random.default_rng(0)
    structures = []
    for s in mixed_structures:
        n = len(s[K.ATOMIC_NUMBERS])
        structures.append(
            {
                **s,
                K.ENERGY: np.asarray(rng.normal()),
                K.FORCES: rng.normal(size=(n, 3)),
                K.DIPOLE: rng.normal(size=3),
            }
        )
    path = tmp_path / f"data{suffix}"
    if suffix == ".db":
        import ase.db

        from equimol.data.formats import to_atoms

        with ase.db.connect(str(path)) as db:
            for s in structures:
                db.write(to_atoms(s))
    else:
        write_structures(path, structures)
    back = read_structures(path)
    assert len(back) == 3
    for a, b in zip(structures, back, strict=False):
        np.testing.assert_allclose(b[K.POSITIONS], a[K.POSITIONS], atol=1e-7)
        assert float(b[K.ENERGY]) == pytest.approx(float(a[K.ENERGY]), abs=1e-7)
        np.testing.assert_allclose(b[K.FORCES], a[K.FORCES], atol=1e-7)
        np.testing.assert_allclose(b[K.DIPOLE], a[K.DIPOLE], atol=1e-7)


def test_extxyz_energy_unit(tmp_path, water):
    path = tmp_path / "w.xyz"
    write_structures(path, [{**water, K.ENERGY: np.asarray(-1.0), K.FORCES: np.ones((3, 3))}])
    s = read_structures(path, energy_unit="Hartree")[0]
    assert float(s[K.ENERGY]) == pytest.approx(-U.HARTREE)
    np.testing.assert_allclose(s[K.FORCES], U.HARTREE)
    with pytest.raises(ValueError, match="unknown energy unit"):
        read_structures(path, energy_unit="furlongs")


def test_store_is_lazy_and_chunked(tmp_path, mixed_structures):
    path = tmp_path / "big.h5"
    with StoreWriter(path, chunk=2) as w:
        for k in range(7):
            s = mixed_structures[k % 3]
            w.append({**s, K.ENERGY: np.asarray(float(k))})
    store = Store(path)
    assert len(store) == 7
    assert float(store[5][K.ENERGY]) == 5.0
    np.testing.assert_allclose(store[4][K.POSITIONS], mixed_structures[1][K.POSITIONS])
    assert store.n_atoms(2) == len(mixed_structures[2][K.ATOMIC_NUMBERS])


def test_store_write_is_atomic(tmp_path, water):
    path = tmp_path / "x.h5"
    with pytest.raises(RuntimeError):
        with StoreWriter(path) as w:
            w.append(water)
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []  # no temporary file left either


# --- bad input: one clear message naming the file and the problem -------------------------


def _write_xyz(path, text):
    path.write_text(text)
    return path


def test_unknown_element(tmp_path):
    p = _write_xyz(tmp_path / "bad.xyz", "2\n\nXx 0 0 0\nH 0 0 1\n")
    with pytest.raises(DataError, match="bad.xyz: unknown element symbol 'Xx'"):
        read_structures(p)


def test_unknown_atomic_number(tmp_path):
    p = tmp_path / "z.npz"
    np.savez(p, nuclear_charges=np.array([1, 200]), coords=np.zeros((1, 2, 3)) + [[0, 0, 0], [0, 0, 1]])
    with pytest.raises(DataError, match=r"z.npz\[0\]: unknown element with atomic number 200"):
        read_structures(p)


def test_nan_coordinates(tmp_path):
    p = _write_xyz(tmp_path / "nan.xyz", "2\n\nH 0 0 0\nH nan 0 1\n")
    with pytest.raises(DataError, match=r"nan.xyz\[0\]: non-finite"):
        read_structures(p)


def test_overlapping_atoms(tmp_path):
    p = _write_xyz(tmp_path / "close.xyz", "2\n\nH 0 0 0\nH 0 0 0.05\n")
    with pytest.raises(DataError, match="overlapping atoms"):
        read_structures(p)


def test_malformed_file(tmp_path):
    p = _write_xyz(tmp_path / "broken.xyz", "3\n\nH 0 0\n")
    with pytest.raises(DataError, match="broken.xyz: malformed"):
        read_structures(p)


def test_malformed_npz(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="x.npz: cannot read npz"):
        read_structures(p)
    np.savez(p, foo=np.zeros(3))
    with pytest.raises(DataError, match="lacks key"):
        read_structures(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_structures(tmp_path / "nope.xyz")


def test_unknown_suffix(tmp_path):
    p = tmp_path / "x.pdbqt"
    p.write_text("")
    with pytest.raises(DataError, match="unknown file format"):
        read_structures(p)


def test_length_unit_guess_and_warning(tmp_path):
    import warnings

    from equimol.data.validate import guess_length_unit
    from equimol.errors import DataWarning

    s = read_structures(rmd17_path("ethanol"))[:4]
    assert guess_length_unit(s) is None
    for factor, unit in ((100.0, "pm"), (0.1, "nm")):
        assert guess_length_unit([{**x, K.POSITIONS: x[K.POSITIONS] * factor} for x in s]) == unit
    far = [{K.ATOMIC_NUMBERS: np.array([18, 18]), K.POSITIONS: np.array([[0.0, 0, 0], [40.0, 0, 0]])}]
    assert guess_length_unit(far) == "unknown"  # no unit turns 40 into a bond
    write_structures(tmp_path / "pm.extxyz", [{**x, K.POSITIONS: x[K.POSITIONS] * 100} for x in s])
    with pytest.warns(DataWarning, match="look like pm"):
        read_structures(tmp_path / "pm.extxyz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = read_structures(tmp_path / "pm.extxyz", length_unit="pm")
    np.testing.assert_allclose(fixed[0][K.POSITIONS], s[0][K.POSITIONS], atol=1e-8)


def test_empty_files_are_one_clear_error(tmp_path):
    for name in ("a.xyz", "a.npz", "a.db", "a.h5"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(DataError, match="empty file"):
            read_structures(tmp_path / name)
    (tmp_path / "b.xyz").write_text("\n")
    with pytest.raises(DataError, match="no structures"):
        read_structures(tmp_path / "b.xyz")


def _ref_keyed_extxyz(path, water, n=3):
    """An extxyz whose labels live under other keys than ASE's (MACE-style REF_energy in the
    comment line, REF_forces per atom), without a calculator."""
    from ase import Atoms
    from ase.io import write

    frames = []
    rng = np.random.default_rng(0)
    for k in range(n):
        atoms = Atoms(numbers=water[K.ATOMIC_NUMBERS], positions=water[K.POSITIONS] + 0.01 * k)
        atoms.info["REF_energy"] = -10.0 - k
        atoms.new_array("REF_forces", rng.normal(size=(len(atoms), 3)))
        frames.append(atoms)
    write(path, frames, format="extxyz")
    return frames


def test_label_keys_name_labels_under_other_keys(tmp_path, water):
    path = tmp_path / "ref.extxyz"
    frames = _ref_keyed_extxyz(path, water)
    assert K.ENERGY not in read_structures(path)[0]  # ASE's names only by default
    got = read_structures(path, label_keys={"energy": "REF_energy", "forces": "REF_forces"})
    assert [float(s[K.ENERGY]) for s in got] == [-10.0, -11.0, -12.0]
    np.testing.assert_allclose(got[1][K.FORCES], frames[1].arrays["REF_forces"])
    kcal = read_structures(path, label_keys={"energy": "REF_energy"}, energy_unit="kcal/mol")
    assert float(kcal[0][K.ENERGY]) == pytest.approx(-10.0 * U.ENERGY_UNITS["kcal/mol"])
    with pytest.raises(DataError, match="unknown label"):
        read_structures(path, label_keys={"enrgy": "REF_energy"})


def test_missing_label_names_the_files_keys(tmp_path, water):
    """Training on such a file without label_keys: one line naming the keys it has and the option."""
    from equimol.train.data import _check_labels

    path = tmp_path / "ref.extxyz"
    _ref_keyed_extxyz(path, water)
    with pytest.raises(DataError) as err:
        _check_labels([K.ENERGY, K.FORCES], set(read_structures(path)[0]), str(path), 0)
    message = str(err.value)
    assert "REF_energy" in message and "REF_forces" in message and "data.label_keys.energy" in message
    assert "\n" not in message


def test_convert_with_label_keys(tmp_path, water):
    """equimol convert --label-key: the REF-keyed labels land in the HDF5 store."""
    from equimol.cli.main import main

    src, dst = tmp_path / "ref.extxyz", tmp_path / "ref.h5"
    _ref_keyed_extxyz(src, water)
    rc = main(
        [
            "convert",
            str(src),
            str(dst),
            "--label-key",
            "energy=REF_energy",
            "--label-key",
            "forces=REF_forces",
        ]
    )
    assert rc == 0
    got = list(Store(dst))
    assert [float(s[K.ENERGY]) for s in got] == [-10.0, -11.0, -12.0] and K.FORCES in got[0]


def test_label_keys_in_an_ase_db(tmp_path, water):
    """An ASE db keeps extra labels as key-value pairs and row data: label_keys finds them there,
    and a missing label's error lists them."""
    import ase.db
    from ase import Atoms

    from equimol.data.formats import file_label_keys

    path = tmp_path / "ref.db"
    forces = np.arange(9, dtype=float).reshape(3, 3) / 10
    with ase.db.connect(str(path)) as db:
        db.write(
            Atoms(numbers=water[K.ATOMIC_NUMBERS], positions=water[K.POSITIONS]),
            REF_energy=-3.5,
            data={"REF_forces": forces},
        )
    got = read_structures(path, label_keys={"energy": "REF_energy", "forces": "REF_forces"})[0]
    assert float(got[K.ENERGY]) == -3.5
    np.testing.assert_allclose(got[K.FORCES], forces)
    assert {"REF_energy", "REF_forces"} <= set(file_label_keys(path))
    # files of fixed layout ignore label_keys (one config reads an extxyz and an npz)
    assert len(read_structures(rmd17_path("ethanol"), label_keys={"energy": "REF_energy"})) == 50
