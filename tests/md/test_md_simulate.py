"""run_simulation: HDF5 layout, checkpoint/restart identity, input validation."""

import h5py
import numpy as np
import pytest
import torch

from equimol.md import MDConfig, potentials, read_trajectory, run_simulation
from equimol.md.checkpoint import load_checkpoint
from equimol.md.hooks import Hook

F64 = torch.float64
Z = [8, 1]
X0 = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.97]]


def _force_fn(with_properties=True):
    fn = potentials.combine(potentials.morse(4.6, 2.2, 0.97), potentials.harmonic(0.01))
    if with_properties:
        fn = potentials.with_linear_response(fn, torch.tensor([-0.4, 0.4], dtype=F64))
    return fn


def _config(**kw):
    base = {
        "dt_fs": 0.25,
        "n_steps": 20,
        "temperature_k": 300.0,
        "thermostat": "langevin",
        "tau_fs": 50.0,
        "n_replicas": 2,
        "n_beads": 3,
        "stride": 5,
        "log_every": 5,
        "checkpoint_every": 10,
        "flush_every": 3,
        "seed": 4,
        "progress": False,
    }
    base.update(kw)
    return MDConfig(**base)


def test_hdf5_layout_exact_names_shapes_and_attributes(tmp_path):
    cfg = _config()
    out = tmp_path / "traj.h5"
    sim = run_simulation(_force_fn(), Z, X0, config=cfg, output=out, log=tmp_path / "md.log")
    t, r, p, n = cfg.n_steps // cfg.stride + 1, 2, 3, 2
    expected = {
        "time_fs": (t,),
        "positions": (t, r, p, n, 3),
        "velocities": (t, r, p, n, 3),
        "atomic_numbers": (n,),
        "masses": (n,),
        "energy_potential": (t, r),
        "energy_kinetic": (t, r),
        "conserved": (t, r),
        "temperature_k": (t, r),
        "dipole": (t, r, p, 3),
        "polarizability": (t, r, p, 3, 3),
    }
    with h5py.File(out, "r") as f:
        assert {k: f[k].shape for k in f} == expected
        assert f.attrs["dt_fs"] == cfg.dt_fs and f.attrs["stride"] == cfg.stride
        assert f.attrs["thermostat"] == "langevin" and f.attrs["temperature_k"] == cfg.temperature_k
        assert f["positions"].maxshape[0] is None  # resizable
    data, _ = read_trajectory(out)
    np.testing.assert_allclose(data["time_fs"], np.arange(t) * cfg.stride * cfg.dt_fs)
    np.testing.assert_array_equal(data["atomic_numbers"], Z)
    np.testing.assert_array_equal(data["positions"][-1], sim.state.positions.numpy())
    np.testing.assert_array_equal(data["dipole"][-1], sim.state.properties["dipole"].numpy())
    np.testing.assert_allclose(data["masses"], [15.999, 1.008], atol=1e-3)
    lines = (tmp_path / "md.log").read_text().splitlines()
    assert lines[0].startswith("#") and len(lines) == 1 + t


def test_hdf5_without_predicted_properties_has_no_property_datasets(tmp_path):
    out = tmp_path / "traj.h5"
    run_simulation(_force_fn(False), Z, X0, config=_config(n_beads=1, n_steps=10), output=out)
    with h5py.File(out, "r") as f:
        assert "dipole" not in f and "polarizability" not in f
        assert f["positions"].shape == (3, 2, 1, 2, 3)


class _Crash(Hook):
    def __init__(self, at):
        self.at = at

    def on_step(self, sim):
        if sim.state.step == self.at:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("thermostat", ["langevin", "nhc", "csvr"])
def test_restart_after_interruption_gives_identical_trajectory(tmp_path, thermostat):
    cfg = _config(n_steps=40, thermostat=thermostat)
    ref = tmp_path / "ref.h5"
    run_simulation(_force_fn(), Z, X0, config=cfg, output=ref)

    out, ckpt = tmp_path / "run.h5", tmp_path / "run.pt"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_simulation(_force_fn(), Z, X0, config=cfg, output=out, restart=ckpt, hooks=[_Crash(27)])
    assert load_checkpoint(ckpt)["state"]["step"] == 20
    payload = torch.load(ckpt, weights_only=True)  # plain tensors + JSON-able metadata
    assert payload["config"]["thermostat"] == thermostat
    with h5py.File(out, "r") as f:
        assert f["time_fs"].shape[0] > 5  # frames past the checkpoint were written

    sim = run_simulation(_force_fn(), Z, X0, config=cfg, output=out, restart=ckpt)
    assert sim.state.step == 40
    a, _ = read_trajectory(ref)
    b, _ = read_trajectory(out)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert np.all(np.diff(b["time_fs"]) == cfg.stride * cfg.dt_fs)  # no duplicate frames


def test_extending_a_finished_run_equals_one_long_run(tmp_path):
    ref = run_simulation(_force_fn(), Z, X0, config=_config(n_steps=30))
    ckpt = tmp_path / "run.pt"
    run_simulation(_force_fn(), Z, X0, config=_config(n_steps=15), restart=ckpt)
    ext = run_simulation(_force_fn(), Z, X0, config=_config(n_steps=30), restart=ckpt)
    assert torch.equal(ref.state.positions, ext.state.positions)
    assert torch.equal(ref.state.velocities, ext.state.velocities)


def test_existing_output_is_not_touched(tmp_path):
    out = tmp_path / "traj.h5"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        run_simulation(_force_fn(), Z, X0, config=_config(), output=out)
    assert out.read_bytes() == b"precious"


def test_failing_force_fn_writes_nothing(tmp_path):
    def broken(positions):
        return {"energy": torch.zeros(positions.shape[0]), "forces": torch.zeros(positions.shape[0], 5, 3)}

    with pytest.raises(ValueError, match="forces must be"):
        run_simulation(broken, Z, X0, config=_config(), output=tmp_path / "t.h5", restart=tmp_path / "r.pt")
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_have_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="do not match 2 atoms"):
        run_simulation(_force_fn(), Z, [[0.0, 0.0, 0.0]], config=_config())
    with pytest.raises(ValueError, match="must return 'forces'"):
        run_simulation(lambda x: {"energy": torch.zeros(x.shape[0])}, Z, X0, config=_config())
    with pytest.raises(ValueError, match="dt_fs must be > 0"):
        _config(dt_fs=0.0)
    ckpt = tmp_path / "r.pt"
    run_simulation(_force_fn(), Z, X0, config=_config(n_steps=5), restart=ckpt)
    with pytest.raises(ValueError, match="dt_fs"):
        run_simulation(_force_fn(), Z, X0, config=_config(dt_fs=0.5), restart=ckpt)
    with pytest.raises(ValueError, match="atomic_numbers"):
        run_simulation(_force_fn(), [8, 8], X0, config=_config(n_steps=10), restart=ckpt)


def test_unstable_run_raises(tmp_path):
    cfg = _config(dt_fs=20.0, n_steps=1000, thermostat="nve", n_beads=1)  # ω·dt ≈ 20
    with pytest.raises(FloatingPointError, match="time step"):
        run_simulation(potentials.harmonic(100.0), Z, X0, config=cfg)


def test_one_batched_force_call_per_step_and_float32(tmp_path):
    calls = []
    base = _force_fn()

    def counting(positions):
        calls.append(tuple(positions.shape))
        return base(positions)

    cfg = _config(n_steps=7, dtype="float32", trajectory_dtype="float32")
    sim = run_simulation(counting, Z, X0, config=cfg, output=tmp_path / "t.h5")
    assert calls == [(6, 2, 3)] * 8  # initial evaluation + one per step, all R·P structures
    assert sim.state.positions.dtype == torch.float32
    with h5py.File(tmp_path / "t.h5", "r") as f:
        assert f["positions"].dtype == np.float32 and f["conserved"].dtype == np.float64


def test_a_run_falling_into_a_hole_stops_with_the_bond_that_did_it():
    """A potential that turns attractive at short range (as an under-trained network can): the
    run stops at the first force above RUNAWAY_FORCE_EV_A, naming the atom and the short bond,
    instead of going on to NaN."""
    from equimol import keys

    def hole(positions):  # V = -c / r^12 between atoms 0 and 1
        c = 0.1
        rij = positions[:, 1] - positions[:, 0]
        r = rij.norm(dim=-1)
        f_1 = (-12.0 * c / r**13 / r)[:, None] * rij  # -dV/dr along r_ij, pulls 1 toward 0
        forces = torch.stack([-f_1, f_1], 1)
        return {keys.ENERGY: -c / r**12, keys.FORCES: forces}

    fn = potentials.combine(potentials.morse(d_e=4.6, a=2.3, r_e=0.97), hole)
    cfg = _config(dt_fs=0.1, n_steps=2000, thermostat="nve", n_beads=1)
    with pytest.raises(
        FloatingPointError, match=r"blowing up; the shortest bond there is O0-H1 0\.[0-6]\d Å"
    ) as e:
        run_simulation(fn, Z, [[0.0, 0.0, 0.0], [0.0, 0.0, 0.75]], config=cfg)
    assert "repulsion: zbl" in str(e.value)


def test_restart_with_another_rigid_motion_treatment_names_the_option(tmp_path):
    """A restart whose config treats the rigid motion otherwise than the checkpoint's says which
    equimol md option continues it."""
    ckpt = tmp_path / "r.pt"
    removed = {"remove_com": True, "remove_rotation": True}
    run_simulation(_force_fn(), Z, X0, config=_config(n_steps=5, **removed), restart=ckpt)
    resampled = {"remove_com": True, "rotation_resample_fs": 100.0}
    with pytest.raises(ValueError, match=r"--rotation-resample-fs 0 continues it"):
        run_simulation(_force_fn(), Z, X0, config=_config(n_steps=10, **resampled), restart=ckpt)
    again = tmp_path / "resampled.pt"  # the other direction: a resampled run restarted with removal
    run_simulation(_force_fn(), Z, X0, config=_config(n_steps=5, **resampled), restart=again)
    with pytest.raises(ValueError, match=r"--rotation-resample-fs 100 continues it"):
        run_simulation(_force_fn(), Z, X0, config=_config(n_steps=10, **removed), restart=again)
    with pytest.raises(ValueError, match="without equimol md --keep-rigid-motion"):
        run_simulation(_force_fn(), Z, X0, config=_config(n_steps=10), restart=ckpt)
    kept = tmp_path / "kept.pt"  # a run of before the rigid motion was removed by default
    run_simulation(_force_fn(), Z, X0, config=_config(n_steps=5), restart=kept)
    with pytest.raises(ValueError, match="--keep-rigid-motion"):
        run_simulation(_force_fn(), Z, X0, config=_config(n_steps=10, **removed), restart=kept)
