import h5py
import numpy as np
import pytest

from equimol.spectra.trajectory import load_trajectory, spectra_from_trajectory, write_csv

from .helpers import omega, peak_cm1, write_trajectory

N_FRAMES, REPLICAS, BEADS, ATOMS = 1200, 2, 2, 3


def _write_trajectory(path, dipole=True, polarizability=True, dt_fs=0.5, stride=2):
    t = np.arange(N_FRAMES) * dt_fs * stride
    rng = np.random.default_rng(0)
    phase = rng.uniform(0, 2 * np.pi, size=(REPLICAS, BEADS))
    wave = np.cos(omega(1500.0) * t[:, None, None] + phase)  # (T, R, P)
    return write_trajectory(
        path, wave, dt_fs=dt_fs, stride=stride, dipole=dipole, polarizability=polarizability
    )


def test_load_trajectory(tmp_path):
    traj = load_trajectory(_write_trajectory(tmp_path / "md.h5"))
    assert traj["frame_dt_fs"] == 1.0 and traj["stride"] == 2 and traj["dt_fs"] == 0.5
    assert traj["dipole"].shape == (N_FRAMES, REPLICAS, BEADS, 3)
    np.testing.assert_allclose(traj["masses"], [15.999, 1.008, 1.008], rtol=1e-3)


def test_spectra_and_csv_columns(tmp_path):
    spectra = spectra_from_trajectory(_write_trajectory(tmp_path / "md.h5"), depth_fs=256)
    assert list(spectra) == ["ir", "raman_iso", "raman_aniso", "power"]
    for key in ("ir", "raman_iso", "power"):
        assert abs(peak_cm1(spectra[key]) - 1500.0) < 40.0
    out = write_csv(tmp_path / "spectra.csv", spectra)
    lines = out.read_text().splitlines()
    assert lines[0] == "frequency_cm1,ir,raman_iso,raman_aniso,power"
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 0], spectra["ir"].frequency_cm1, rtol=1e-9)
    np.testing.assert_allclose(table[:, 1:].max(axis=0), 1.0)
    raw = np.loadtxt(
        write_csv(tmp_path / "raw.csv", {"power": spectra["power"]}, normalise=False),
        delimiter=",",
        skiprows=1,
    )
    assert raw.shape[1] == 2
    np.testing.assert_allclose(raw[:, 1], spectra["power"].intensity, rtol=1e-9)


def test_rpmd_average_and_discard(tmp_path):
    path = _write_trajectory(tmp_path / "md.h5")
    centroid = spectra_from_trajectory(path, raman=False, power=False, depth_fs=256)["ir"]
    beads = spectra_from_trajectory(path, raman=False, power=False, depth_fs=256, rpmd_average="beads")["ir"]
    # beads with random phases partly cancel in the centroid: bead average carries more intensity
    assert beads.intensity.max() > centroid.intensity.max()
    with pytest.raises(ValueError, match="depth"):
        spectra_from_trajectory(path, raman=False, power=False, depth_fs=256, discard_fs=1000)


def test_missing_dipole_is_a_clear_error(tmp_path):
    path = _write_trajectory(tmp_path / "nodipole.h5", dipole=False)
    with pytest.raises(ValueError, match=r"nodipole\.h5.*--ir.*'dipole'"):
        spectra_from_trajectory(path)
    spectra = spectra_from_trajectory(path, ir=False, depth_fs=256)
    assert "ir" not in spectra and "power" in spectra


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_trajectory(tmp_path / "missing.h5")
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["time_fs"] = np.arange(3.0)
    with pytest.raises(ValueError, match=r"bad\.h5: missing dataset\(s\) positions"):
        load_trajectory(path)
    inconsistent = _write_trajectory(tmp_path / "dt.h5", dt_fs=0.25, stride=2)
    with h5py.File(inconsistent, "a") as f:
        f.attrs["stride"] = 3
    with pytest.raises(ValueError, match="disagrees"):
        load_trajectory(inconsistent)


def test_write_csv_rejects_unknown_columns_and_writes_nothing(tmp_path):
    spectra = spectra_from_trajectory(
        _write_trajectory(tmp_path / "md.h5"), raman=False, power=False, depth_fs=256
    )
    with pytest.raises(ValueError, match="unknown"):
        write_csv(tmp_path / "x.csv", {**spectra, "raman": spectra["ir"]})
    assert not (tmp_path / "x.csv").exists()


def test_one_reader_for_md_and_spectra(tmp_path):
    from equimol.md.trajectory import read_trajectory as md_read
    from equimol.spectra.trajectory import read_trajectory

    path = _write_trajectory(tmp_path / "md.h5", polarizability=False)
    data, attrs = md_read(path)
    assert sorted(data) == ["atomic_numbers", "dipole", "positions", "time_fs", "velocities"]
    assert attrs == {"dt_fs": 0.5, "stride": 2}
    some, _ = read_trajectory(path, ("velocities", "polarizability", "time_fs"))
    assert list(some) == ["velocities", "time_fs"]  # in the order asked, absent ones skipped
    np.testing.assert_array_equal(some["velocities"], data["velocities"])
    with pytest.raises(FileNotFoundError, match="not found"):
        md_read(tmp_path / "missing.h5")


def test_spectra_import_without_torch():
    import subprocess
    import sys

    code = "import sys, equimol.spectra; assert 'torch' not in sys.modules and 'h5py' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unpolarized_raman_is_combine_raman_of_the_two_parts(tmp_path):
    from equimol.spectra.raman import combine_raman

    path = _write_trajectory(tmp_path / "md.h5")
    plain = spectra_from_trajectory(path, depth_fs=256, power=False)
    spectra = spectra_from_trajectory(path, depth_fs=256, power=False, unpolarized=True)
    assert list(spectra) == ["ir", "raman_iso", "raman_aniso", "raman"]
    expected = combine_raman(plain["raman_iso"], plain["raman_aniso"])
    np.testing.assert_allclose(spectra["raman"].intensity, expected.intensity, rtol=1e-12)
    np.testing.assert_allclose(spectra["raman"].frequency_cm1, expected.frequency_cm1)
    assert "raman" not in spectra_from_trajectory(path, depth_fs=256, raman=False, unpolarized=True)
