"""Band maxima and centroids with their spread between replicas (equimol.spectra.bands), and
``equimol spectrum --bands``: synthetic trajectories whose replicas oscillate at known, different
frequencies."""

import json
import subprocess
import sys

import numpy as np
import pytest

from equimol.spectra.bands import band_statistics, parse_band, replica
from equimol.spectra.trajectory import load_trajectory

from .helpers import omega, write_trajectory

N_FRAMES, BEADS, ATOMS = 2000, 2, 3
BANDS = {"low": (800.0, 1300.0), "high": (2800.0, 3300.0)}


def _trajectory(path, replica_cm1=(1000.0, 1100.0), dt_fs=0.5, stride=2):
    """Replica r: dipole and velocities oscillate at replica_cm1[r] and at 3000 cm⁻¹ (weaker)."""
    t = np.arange(N_FRAMES) * dt_fs * stride
    nu = np.asarray(replica_cm1)
    wave = np.cos(omega(1.0) * t[:, None] * nu[None, :]) + 0.5 * np.cos(omega(3000.0) * t)[:, None]
    wave = np.repeat(wave[:, :, None], BEADS, axis=2)  # (T, R, P)
    return write_trajectory(path, wave, dt_fs=dt_fs, stride=stride, temperature_k=300.0)


def test_replica_centroids_and_their_spread(tmp_path):
    traj = load_trajectory(_trajectory(tmp_path / "md.h5"))
    stats = band_statistics(traj, BANDS, ir=True, raman=True, power=False, depth_fs=1000.0)
    assert stats["replicas"] == 2 and set(stats["spectra"]) == {"ir", "raman"}
    for kind in ("ir", "raman"):
        table = stats["spectra"][kind]
        reps = [r["low"] for r in table["replica_centroids"]]
        # each replica's band sits at its own frequency (Hann-windowed line, 8 cm⁻¹ grid)
        assert reps[0] == pytest.approx(1000.0, abs=15.0) and reps[1] == pytest.approx(1100.0, abs=15.0)
        spread = table["replica_spread"]["low"]
        assert spread["std"] == pytest.approx(float(np.std(reps, ddof=1)), abs=0.1)
        assert spread["stderr"] == pytest.approx(spread["std"] / np.sqrt(2), abs=0.1)
        # the shared 3000 cm⁻¹ line: same in both replicas, no spread
        assert table["replica_spread"]["high"]["std"] < 2.0
        assert table["maximum"]["high"] == pytest.approx(3000.0, abs=10.0)
        # the whole trajectory averages both replicas: its centroid lies between them
        assert reps[0] < table["centroid"]["low"] < reps[1]


def test_one_replica_has_no_error_bar(tmp_path):
    traj = load_trajectory(_trajectory(tmp_path / "md.h5", replica_cm1=(1000.0,)))
    stats = band_statistics(traj, BANDS, ir=True, raman=False, power=False, depth_fs=500.0)
    assert stats["replicas"] == 1
    assert stats["spectra"]["ir"]["replica_spread"] == {"low": None, "high": None}
    assert stats["spectra"]["ir"]["centroid"]["low"] == pytest.approx(1000.0, abs=15.0)


def test_replica_selection_and_band_parsing(tmp_path):
    traj = load_trajectory(_trajectory(tmp_path / "md.h5"))
    one = replica(traj, 1)
    assert one["dipole"].shape == (N_FRAMES, 1, BEADS, 3) and one["atomic_numbers"].shape == (ATOMS,)
    np.testing.assert_array_equal(one["velocities"][:, 0], traj["velocities"][:, 1])
    with pytest.raises(ValueError, match="replica 2 out of range"):
        replica(traj, 2)
    assert parse_band("C-H=2500:3250") == ("C-H", (2500.0, 3250.0))
    for bad in ("C-H", "C-H=2500", "=1:2", "x=3:1", "x=a:b"):
        with pytest.raises(ValueError, match="NAME=LO:HI|LO < HI"):
            parse_band(bad)


def test_cli_bands_table_and_json(tmp_path):
    path = _trajectory(tmp_path / "md.h5")
    out = tmp_path / "bands.json"
    cmd = [sys.executable, "-m", "equimol.cli.main", "spectrum", str(path), "--ir", "--depth-fs", "1000"]
    r = subprocess.run(
        [*cmd, "--bands", "low=800:1300", "--bands-json", str(out)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "over 2 replicas" in r.stdout and "replicas scatter by" in r.stdout
    stats = json.loads(out.read_text())
    assert list(stats["bands"]) == ["low"] and stats["spectra"]["ir"]["replica_spread"]["low"]["std"] > 40.0
    bad = subprocess.run([*cmd, "--bands", "low:800-1300"], capture_output=True, text=True)
    assert bad.returncode != 0 and "NAME=LO:HI" in bad.stderr and "Traceback" not in bad.stderr
