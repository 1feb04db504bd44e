"""A free molecule under a global thermostat: centre-of-mass motion and rotation (``remove_com``,
``remove_rotation``), their degrees of freedom, and the vibrational temperature they decide."""

import math
from pathlib import Path

import pytest
import torch

from equimol import units
from equimol.md import MDConfig, Simulation, initial_state, potentials
from equimol.md.hooks import Hook
from equimol.md.observables import n_degrees_of_freedom, rigid_and_vibrational_temperatures
from equimol.md.state import (
    MDState,
    angular_momentum,
    kinetic_energy,
    remove_angular_velocity,
    remove_com_velocity,
    resample_rotation,
    rotational_degrees_of_freedom,
)

F64 = torch.float64
T = 300.0
R_E = 1.5
# a tetrahedron of Morse bonds at their minimum: a free, non-linear "molecule" of 4 atoms
TETRA = R_E * torch.tensor(
    [[0, 0, 0], [1, 0, 0], [0.5, math.sqrt(3) / 2, 0], [0.5, math.sqrt(3) / 6, math.sqrt(2 / 3)]], dtype=F64
)
MASSES = torch.tensor([12.0, 1.0, 16.0, 4.0], dtype=F64)


def vibrational_kinetic_energy(positions, velocities, masses):
    """Kinetic energy left after removing the centre-of-mass and rigid-rotation velocities, (R,)."""
    v = remove_angular_velocity(positions, remove_com_velocity(velocities, masses), masses)
    return kinetic_energy(v, masses).sum(1)


def random_state(n_replicas=3, n_beads=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = TETRA + 0.1 * torch.randn((n_replicas, n_beads, 4, 3), generator=g, dtype=F64)
    v = torch.randn((n_replicas, n_beads, 4, 3), generator=g, dtype=F64)
    return x, v


def test_remove_angular_velocity_zeroes_l_and_keeps_the_com_velocity():
    x, v = random_state()
    w = remove_angular_velocity(x, v, MASSES)
    assert float(angular_momentum(x, v, MASSES).abs().max()) > 1.0
    assert float(angular_momentum(x, w, MASSES).abs().max()) < 1e-12
    com = lambda u: (MASSES[:, None] * u).sum(-2) / MASSES.sum()  # noqa: E731
    torch.testing.assert_close(com(w), com(v), rtol=0, atol=1e-12)
    # idempotent, and a pure rigid rotation is removed completely
    torch.testing.assert_close(remove_angular_velocity(x, w, MASSES), w, rtol=0, atol=1e-12)
    omega = torch.tensor([0.3, -0.2, 0.5], dtype=F64)
    d = x - (MASSES[:, None] * x).sum(-2, keepdim=True) / MASSES.sum()
    rigid = torch.linalg.cross(omega.expand_as(d), d)
    assert float(remove_angular_velocity(x, rigid, MASSES).abs().max()) < 1e-12


def test_rotational_degrees_of_freedom():
    assert [rotational_degrees_of_freedom(n) for n in (1, 2, 3, 9)] == [0, 2, 3, 3]
    # an exactly linear geometry keeps its velocities along the axis and loses its two rotations
    line = torch.tensor([[[0, 0, 0], [1.2, 0, 0], [2.5, 0, 0]]], dtype=F64)[:, None]
    m3 = torch.tensor([12.0, 16.0, 16.0], dtype=F64)
    v = torch.tensor([[[0.3, 1.0, 0], [0.1, 0, 0.2], [-0.2, -1.0, 0.5]]], dtype=F64)[:, None]
    w = remove_angular_velocity(line, v, m3)
    assert float(angular_momentum(line, w, m3).abs().max()) < 1e-12
    torch.testing.assert_close(w[..., 0], v[..., 0], rtol=0, atol=1e-12)  # axial components
    # CO2-like: L along the axis is zero at the start and conserved once it bends (3N - 6);
    # a diatomic stays linear (3N - 5)
    state = MDState(positions=line, velocities=w, masses=m3, atomic_numbers=torch.tensor([6, 8, 8]))
    assert n_degrees_of_freedom(state, remove_com=True, remove_rotation=True) == 3 * 3 - 6
    pair = MDState(
        positions=line[..., :2, :],
        velocities=w[..., :2, :],
        masses=m3[:2],
        atomic_numbers=torch.tensor([6, 8]),
    )
    assert n_degrees_of_freedom(pair, remove_com=True, remove_rotation=True) == 3 * 2 - 5


def test_config_validation():
    with pytest.raises(ValueError, match="remove_rotation needs remove_com"):
        MDConfig(remove_rotation=True)
    with pytest.raises(ValueError, match="needs remove_com and excludes remove_rotation"):
        MDConfig(rotation_resample_fs=100.0)
    with pytest.raises(ValueError, match="needs remove_com and excludes remove_rotation"):
        MDConfig(rotation_resample_fs=100.0, remove_com=True, remove_rotation=True)
    with pytest.raises(ValueError, match="nve"):
        MDConfig(rotation_resample_fs=100.0, remove_com=True, thermostat="nve")


def test_ring_polymer_loses_only_its_centroid_rotation():
    x, v = random_state(n_replicas=2, n_beads=8)
    w = remove_angular_velocity(x, remove_com_velocity(v, MASSES), MASSES)
    assert float(angular_momentum(x, w, MASSES).abs().max()) < 1e-12  # of the centroid
    # the internal ring-polymer modes (bead velocities about the centroid's) are untouched
    torch.testing.assert_close(w - w.mean(1, keepdim=True), v - v.mean(1, keepdim=True), rtol=0, atol=1e-12)


class _Vibrations(Hook):
    def __init__(self, skip):
        self.skip = skip
        self.k_vib, self.k_all, self.ang, self.temperature = [], [], [], []
        self.x, self.v, self.conserved, self.total = [], [], [], []

    def on_step(self, sim):
        s = sim.state
        if s.step > self.skip and s.step % 2 == 0:
            self.k_vib.append(vibrational_kinetic_energy(s.positions, s.velocities, s.masses))
            self.k_all.append(kinetic_energy(s.velocities, s.masses).sum(1))
            self.ang.append(angular_momentum(s.positions, s.velocities, s.masses).norm(dim=-1))
            obs = sim.observables()
            self.temperature.append(obs["temperature_k"])
            self.conserved.append(obs["conserved"])
            self.total.append(obs["energy_potential"] + obs["energy_kinetic"])
            self.x.append(s.positions.clone())
            self.v.append(s.velocities.clone())

    def temperatures(self):
        return rigid_and_vibrational_temperatures(torch.stack(self.x), torch.stack(self.v), MASSES)


def run_tetrahedron(
    remove: bool, velocities=None, n_steps=4000, replicas=32, beads=1, skip=1000, seed=3, resample_fs=None
):
    """Global NHC (the ring-polymer NHC for ``beads`` > 1) MD of the Morse tetrahedron;
    ``resample_fs``: keep the rotation and redraw it at T (remove_com only)."""
    cfg = MDConfig(
        dt_fs=1.0,
        n_steps=n_steps,
        temperature_k=T,
        thermostat="nhc",
        tau_fs=50.0,
        n_beads=beads,
        n_replicas=replicas,
        seed=seed,
        remove_com=remove or resample_fs is not None,
        remove_rotation=remove and resample_fs is None,
        rotation_resample_fs=resample_fs,
        progress=False,
    )
    g = torch.Generator().manual_seed(cfg.seed)
    state = initial_state([6, 1, 8, 2], TETRA, cfg, masses=MASSES, velocities=velocities, generator=g)
    rec = _Vibrations(skip=skip)
    Simulation(potentials.morse(1.0, 1.5, R_E), state, cfg, hooks=[rec], generator=g).run()
    return rec


def test_global_nhc_samples_the_vibrations_at_t_with_com_and_rotation_removed():
    """⟨K_vib⟩ = (3N − 6) kT/2 for a free molecule, L stays 0, and the logged temperature
    (N_f = 3N − 6) is T; errors from the spread over independent replicas."""
    rec = run_tetrahedron(remove=True)
    kt = units.KB_EV_PER_K * T
    k_vib = torch.stack(rec.k_vib).mean(0) / ((3 * 4 - 6) * kt / 2)  # (R,)
    se = float(k_vib.std()) / math.sqrt(len(k_vib))
    assert abs(float(k_vib.mean()) - 1.0) < max(4 * se, 0.02), (float(k_vib.mean()), se)
    # all the kinetic energy is vibrational, and the angular momentum stays at round-off
    torch.testing.assert_close(torch.stack(rec.k_vib), torch.stack(rec.k_all), rtol=1e-9, atol=1e-12)
    assert float(torch.stack(rec.ang).max()) < 1e-9
    t_log = torch.stack(rec.temperature).mean(0)
    assert abs(float(t_log.mean()) / T - 1.0) < max(4 * float(t_log.std()) / T / math.sqrt(len(t_log)), 0.02)
    temps = rec.temperatures()
    torch.testing.assert_close(temps["vibration"], t_log, rtol=1e-9, atol=0)  # the same N_f = 3N − 6
    assert float(temps["translation"].max()) < 1e-9 and float(temps["rotation"].max()) < 1e-9


def test_without_removal_rigid_motion_keeps_its_energy_from_the_vibrations():
    """The flying ice cube: a start whose kinetic energy is all rigid translation and rotation
    gives it to the vibrations only through centrifugal coupling, as a global thermostat scales
    every velocity alike. The vibrations stay far below T; with remove_com/remove_rotation
    (which remove that start's rigid motion) the same run samples them at T."""
    replicas = 8
    omega = torch.tensor([0.004, -0.003, 0.005], dtype=F64)  # rad/fs
    d = TETRA - (MASSES[:, None] * TETRA).sum(0) / MASSES.sum()
    rigid = torch.linalg.cross(omega.expand_as(d), d) + torch.tensor([0.01, 0.0, 0.0], dtype=F64)
    g = torch.Generator().manual_seed(5)
    noise = 1e-4 * torch.randn((replicas, 1, 4, 3), generator=g, dtype=F64)  # a seed of vibration
    v0 = rigid + noise
    kt = units.KB_EV_PER_K * T
    free = run_tetrahedron(remove=False, velocities=v0, n_steps=3000, replicas=replicas)
    k_vib = float(torch.stack(free.k_vib).mean()) / ((3 * 4 - 6) * kt / 2)
    assert k_vib < 0.05, k_vib
    temps = free.temperatures()
    torch.testing.assert_close(
        temps["vibration"].mean(), torch.tensor(k_vib * T, dtype=F64), rtol=1e-6, atol=0
    )
    # measured: vibrations 1-2 K, translation 930-990 K, rotation 240-260 K, T of all 3N at 300 K
    assert float(temps["vibration"].max()) < 0.05 * T
    assert float(temps["rotation"].min()) > 0.5 * T and float(temps["translation"].min()) > 0.5 * T
    fixed = run_tetrahedron(remove=True, velocities=v0, n_steps=3000, replicas=replicas)
    k_vib = float(torch.stack(fixed.k_vib).mean()) / ((3 * 4 - 6) * kt / 2)
    assert abs(k_vib - 1.0) < 0.15, k_vib


def test_ring_polymer_nhc_samples_the_centroid_vibrations_at_t():
    """The PaiNN paper's ring-polymer NHC with the centroid's rigid motion removed: the centroid
    velocities are classical at T (each normal mode at P·T), so its vibrational kinetic
    temperature is T, and its translation and rotation stay at zero."""
    replicas = 16
    rec = run_tetrahedron(remove=True, n_steps=2000, replicas=replicas, beads=4, skip=500, seed=4)
    temps = rec.temperatures()
    t_vib = temps["vibration"] / T
    se = float(t_vib.std()) / math.sqrt(replicas)
    assert abs(float(t_vib.mean()) - 1.0) < max(4 * se, 0.03), (float(t_vib.mean()), se)
    # the centroid's L drifts between the removals (every 100 steps) through its coupling to the
    # internal modes: measured 3 K here
    assert float(temps["translation"].max()) < 1e-6 and float(temps["rotation"].max()) < 0.05 * T


def test_ring_polymer_nhc_with_resampled_rotation_samples_the_centroid_at_t():
    """The ring-polymer NHC with the centroid's rotation kept and redrawn at T every 100 fs (the
    spectra workflows' treatment): the centroid's rotation and vibrations are both at T."""
    replicas = 16
    rec = run_tetrahedron(
        remove=False, n_steps=2000, replicas=replicas, beads=4, skip=500, seed=4, resample_fs=100.0
    )
    temps = rec.temperatures()
    assert float(temps["translation"].max()) < 1e-6
    for part in ("rotation", "vibration"):
        t = temps[part] / T
        se = float(t.std()) / math.sqrt(replicas)
        assert abs(float(t.mean()) - 1.0) < max(4 * se, 0.05), (part, float(t.mean()), se)


@pytest.mark.parametrize(
    ("thermostat", "beads"), [("nhc", 1), ("nhc", 4), ("langevin", 1), ("csvr", 4), ("nhc_pile", 4)]
)
def test_removed_kinetic_energy_counts_as_heat(thermostat, beads):
    """Removing the (centroid's) rigid motion during a run takes kinetic energy out; the
    thermostat books it as heat, so the conserved quantity is unchanged by the removal."""
    cfg = MDConfig(
        n_steps=10,
        thermostat=thermostat,
        n_beads=beads,
        n_replicas=2,
        remove_com=True,
        remove_rotation=True,
        progress=False,
    )
    g = torch.Generator().manual_seed(0)
    x, v = random_state(n_replicas=2, n_beads=beads, seed=1)
    state = initial_state([6, 1, 8, 2], x, cfg, masses=MASSES, velocities=0.01 * v, generator=g)
    state.velocities = 0.01 * v  # with rigid motion, as a drift would leave it
    sim = Simulation(potentials.morse(1.0, 1.5, R_E), state, cfg, generator=g)
    before = sim.observables()["conserved"].clone()
    k0 = kinetic_energy(state.velocities, MASSES).sum(1)
    sim._remove_rigid_motion()
    state.step += 1  # observables are cached per step
    assert float((k0 - kinetic_energy(state.velocities, MASSES).sum(1)).min()) > 1e-4  # energy was removed
    torch.testing.assert_close(sim.observables()["conserved"], before, rtol=0, atol=1e-12)


def test_resampled_rotation_is_canonical():
    """resample_rotation draws ω ~ N(0, kT I⁻¹): ⟨½ωᵀIω⟩ = 3/2 kT, and only the rigid rotation of
    the centroid changes."""
    x, v = random_state(n_replicas=4000, n_beads=2, seed=2)
    g = torch.Generator().manual_seed(0)
    kt = units.KB_EV_PER_K * T
    w = remove_com_velocity(resample_rotation(x, v, MASSES, kt, generator=g), MASSES)
    k_rot = kinetic_energy(w.mean(1, keepdim=True), MASSES)[:, 0] - vibrational_kinetic_energy(
        x.mean(1, keepdim=True), w.mean(1, keepdim=True), MASSES
    )
    mean, se = float(k_rot.mean()) / (1.5 * kt), float(k_rot.std()) / (1.5 * kt) / math.sqrt(len(k_rot))
    assert abs(mean - 1.0) < 4 * se, (mean, se)
    # velocities without the rigid rotation, and the internal modes, are those of before
    torch.testing.assert_close(
        remove_angular_velocity(x, w, MASSES),
        remove_angular_velocity(x, remove_com_velocity(v, MASSES), MASSES),
    )
    torch.testing.assert_close(w - w.mean(1, keepdim=True), v - v.mean(1, keepdim=True), rtol=0, atol=1e-12)


def test_global_nhc_with_resampled_rotation_thermalises_rotation_and_vibrations():
    """From the flying-ice-cube start (all kinetic energy in rigid motion), a global NHC with the
    rotation redrawn at T every 100 fs brings rotation and vibrations to T (N_f = 3N − 3)."""
    replicas = 16
    omega = torch.tensor([0.004, -0.003, 0.005], dtype=F64)
    d = TETRA - (MASSES[:, None] * TETRA).sum(0) / MASSES.sum()
    v0 = torch.linalg.cross(omega.expand_as(d), d) + torch.tensor([0.01, 0.0, 0.0], dtype=F64)
    rec = run_tetrahedron(remove=False, velocities=v0, n_steps=4000, replicas=replicas, resample_fs=100.0)
    temps = rec.temperatures()
    assert float(temps["translation"].max()) < 1e-9
    for part in ("rotation", "vibration"):
        t = temps[part] / T
        se = float(t.std()) / math.sqrt(replicas)
        assert abs(float(t.mean()) - 1.0) < max(4 * se, 0.05), (part, float(t.mean()), se)


def test_trajectory_temperatures_of_a_written_run(tmp_path):
    """equimol.spectra.trajectory.trajectory_temperatures reads a trajectory file and drops its
    first discard_fs: a run with the rigid motion removed has no translation or rotation."""
    from equimol.md import run_simulation
    from equimol.spectra.trajectory import trajectory_temperatures

    cfg = MDConfig(
        dt_fs=1.0,
        n_steps=200,
        thermostat="nhc",
        tau_fs=50.0,
        n_replicas=2,
        stride=2,
        progress=False,
        remove_com=True,
        remove_rotation=True,
    )
    path = tmp_path / "t.h5"
    run_simulation(potentials.morse(1.0, 1.5, R_E), [6, 1, 8, 2], TETRA, MASSES, cfg, output=path)
    temps = trajectory_temperatures(path, discard_fs=100.0)
    assert set(temps) == {"translation", "rotation", "vibration"} and temps["vibration"].shape == (2,)
    assert abs(temps["translation"]).max() < 1e-9 and abs(temps["rotation"]).max() < 1e-6
    assert (temps["vibration"] > 0).all()
    with pytest.raises(ValueError, match="shorter than the trajectory"):
        trajectory_temperatures(path, discard_fs=1000.0)


def test_demo_rigid_motion_options_and_stamps(tmp_path):
    """The workflow's run_md removes both motions by default, or keeps the rotation and resamples
    it (rotation_resample_fs), and its finished-run stamp tells the two apart: a finished run is
    skipped only at the same treatment."""
    import json

    from equimol import keys as K
    from equimol.md.config import SPECTRA_ROTATION_RESAMPLE_FS
    from equimol.workflows.demo import DemoSettings, rigid_motion_options, run_md, same_rigid_motion

    assert rigid_motion_options(DemoSettings()) == {
        "remove_com": True,
        "remove_rotation": False,
        "rotation_resample_fs": SPECTRA_ROTATION_RESAMPLE_FS,
    }
    no_rotation = DemoSettings(rotation_resample_fs=None)
    assert rigid_motion_options(no_rotation) == {"remove_com": True, "remove_rotation": True}
    assert rigid_motion_options(DemoSettings(remove_rigid_motion=False)) == {}
    resample = DemoSettings(rotation_resample_fs=50.0, stride=2, dt_fs=1.0, progress=False)
    assert rigid_motion_options(resample) == {
        "remove_com": True,
        "remove_rotation": False,
        "rotation_resample_fs": 50.0,
    }

    start = {K.ATOMIC_NUMBERS: torch.tensor([6, 1, 8, 2]), K.POSITIONS: TETRA.clone()}
    path = tmp_path / "md.h5"
    run_md(potentials.morse(1.0, 1.5, R_E), start, path, resample, 20, 1, 1)
    stamp = json.loads(path.with_name("md.h5.time.json").read_text())
    assert stamp["rotation_resample_fs"] == 50.0 and stamp["remove_rotation"] is False
    mtime = path.stat().st_mtime_ns
    run_md(potentials.morse(1.0, 1.5, R_E), start, path, resample, 20, 1, 1)  # finished: skipped
    assert path.stat().st_mtime_ns == mtime
    removed = DemoSettings(stride=2, dt_fs=1.0, progress=False, rotation_resample_fs=None)
    run_md(potentials.morse(1.0, 1.5, R_E), start, path, removed, 20, 1, 1)  # another treatment: rerun
    stamp = json.loads(path.with_name("md.h5.time.json").read_text())
    assert stamp["rotation_resample_fs"] is None and stamp["remove_rotation"] is True
    stamp_path = path.with_name("md.h5.time.json")
    assert same_rigid_motion(stamp_path, removed) and not same_rigid_motion(stamp_path, resample)
    # an interrupted run of another treatment is started again, not continued (nor refused)
    from equimol.md import run_simulation

    left = MDConfig(dt_fs=1.0, n_steps=6, stride=2, progress=False, remove_com=True, remove_rotation=True)
    other = tmp_path / "other.h5"
    run_simulation(
        potentials.morse(1.0, 1.5, R_E), [6, 1, 8, 2], TETRA, config=left, restart=Path(f"{other}.restart.pt")
    )
    assert Path(f"{other}.restart.pt").exists()
    run_md(potentials.morse(1.0, 1.5, R_E), start, other, resample, 20, 1, 1)
    assert json.loads(Path(f"{other}.time.json").read_text())["rotation_resample_fs"] == 50.0
    assert not Path(f"{other}.restart.pt").exists()
    old = tmp_path / "old.time.json"  # a stamp from before the rigid motion was recorded: kept
    old.write_text(json.dumps({"wall_time_s": 1.0, "steps": 20}))
    assert same_rigid_motion(old, DemoSettings(remove_rigid_motion=False)) and not same_rigid_motion(
        old, removed
    )
