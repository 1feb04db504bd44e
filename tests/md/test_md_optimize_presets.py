"""Geometry optimisation on the force_fn interface; documented presets."""

import pytest
import torch

from equimol.md import MDConfig, optimize, potentials
from equimol.md.presets import PAINN_SPECTRA_CLASSICAL, PAINN_SPECTRA_RPMD, painn_spectra

F64 = torch.float64


@pytest.mark.parametrize("method", ["lbfgs", "fire"])
def test_optimize_morse_cluster_and_harmonic(method):
    fn = potentials.morse(2.0, 1.8, 1.1)
    x0 = torch.tensor([[0.0, 0.0, 0.0], [1.4, 0.1, -0.2]], dtype=F64)
    res = optimize(fn, x0, method=method, fmax=1e-4)
    assert res.converged and res.max_force <= 1e-4
    assert abs(float((res.positions[1] - res.positions[0]).norm()) - 1.1) < 1e-4
    assert res.energy < 1e-8 and res.positions.dtype == F64

    center = torch.tensor([[0.3, -0.2, 0.1], [1.0, 1.0, 1.0], [-1.0, 0.5, 0.0]], dtype=F64)
    res = optimize(
        potentials.harmonic(torch.tensor([1.0, 2.0, 3.0]), center),
        torch.zeros(3, 3, dtype=F64),
        method=method,
        fmax=1e-5,
    )
    assert res.converged and torch.allclose(res.positions, center, atol=1e-5)


def test_optimize_validates_input():
    fn = potentials.harmonic(1.0)
    with pytest.raises(ValueError, match="unknown method"):
        optimize(fn, torch.zeros(2, 3), method="bfgs")
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        optimize(fn, torch.zeros(1, 2, 3))


def test_painn_spectra_preset():
    cfg = PAINN_SPECTRA_RPMD.md
    assert isinstance(cfg, MDConfig)
    assert (cfg.dt_fs, cfg.temperature_k, cfg.thermostat, cfg.chain_length, cfg.tau_fs, cfg.n_beads) == (
        0.2,
        300.0,
        "nhc",
        3,
        100.0,
        64,
    )
    assert cfg.n_steps * cfg.dt_fs == pytest.approx(50_000.0)
    assert PAINN_SPECTRA_RPMD.discard_fs == 10_000.0
    assert PAINN_SPECTRA_RPMD.discard_frames * cfg.stride * cfg.dt_fs == pytest.approx(10_000.0)
    assert PAINN_SPECTRA_CLASSICAL.md.n_beads == 1
    assert painn_spectra(n_replicas=4, stride=5).md.n_replicas == 4
    # a free molecule: no centre-of-mass motion, the rotation (of the centroid) redrawn at T every ps
    for preset in (PAINN_SPECTRA_RPMD, PAINN_SPECTRA_CLASSICAL):
        md = preset.md
        assert (md.remove_com, md.remove_rotation, md.rotation_resample_fs) == (True, False, 1000.0)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (1, True, True, None)),
        (["--beads", "8"], (8, True, True, None)),
        (["--rotation-resample-fs", "500"], (1, True, False, 500.0)),
        (["--preset", "painn-spectra"], (64, True, False, 1000.0)),
        (["--preset", "painn-spectra", "--beads", "1"], (1, True, False, 1000.0)),
        (["--preset", "painn-spectra", "--rotation-resample-fs", "0"], (64, True, True, None)),
        (["--preset", "painn-spectra", "--thermostat", "nve"], (64, True, True, None)),
        (["--preset", "painn-spectra", "--thermostat", "none", "--beads", "1"], (1, True, True, None)),
        (["--keep-rigid-motion"], (1, False, False, None)),
        (["--preset", "painn-spectra", "--keep-rigid-motion"], (64, False, False, None)),
    ],
)
def test_equimol_md_treats_the_rigid_motion_of_a_free_molecule(argv, expected):
    """By default the rigid motion is removed; the spectra preset keeps the rotation and redraws it
    at T every ps; --keep-rigid-motion keeps both."""
    import argparse

    from equimol.cli import md

    p = argparse.ArgumentParser()
    md.add_arguments(p)
    cfg = md.md_config_from_args(p.parse_args(["model.pt", "mol.xyz", "-o", "t.h5", *argv]))
    assert (cfg.n_beads, cfg.remove_com, cfg.remove_rotation, cfg.rotation_resample_fs) == expected


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--rotation-resample-fs", "-5"], "must be >= 0"),
        (["--keep-rigid-motion", "--rotation-resample-fs", "500"], "exclude each other"),
    ],
)
def test_equimol_md_rejects_contradictory_rotation_options(argv, match):
    import argparse

    from equimol.cli import md

    p = argparse.ArgumentParser()
    md.add_arguments(p)
    with pytest.raises(SystemExit, match=match):
        md.md_config_from_args(p.parse_args(["model.pt", "mol.xyz", "-o", "t.h5", *argv]))
