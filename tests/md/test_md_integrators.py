"""NVE energy conservation (dt² scaling), RPMD NVE, batched replicas vs separate runs."""

import math

import pytest
import torch

from equimol import units
from equimol.md import MDConfig, Simulation, initial_state, potentials, velocity_verlet_step
from equimol.md.hooks import Hook
from equimol.md.state import MDState, evaluate

F64 = torch.float64


class _Conserved(Hook):
    def __init__(self):
        self.values = []

    def on_start(self, sim):
        self.values.append(sim.observables()["conserved"])

    def on_step(self, sim):
        self.values.append(sim.observables()["conserved"])


def _max_energy_error(fn, z, x0, masses, dt, total_fs, *, beads=1, replicas=4, thermostat="nve"):
    cfg = MDConfig(
        dt_fs=dt,
        n_steps=round(total_fs / dt),
        temperature_k=600.0,
        thermostat=thermostat,
        n_beads=beads,
        n_replicas=replicas,
        seed=11,
        progress=False,
    )
    g = torch.Generator().manual_seed(cfg.seed)
    state = initial_state(z, x0, cfg, masses=masses, generator=g)
    rec = _Conserved()
    Simulation(fn, state, cfg, hooks=[rec], generator=g).run()
    e = torch.stack(rec.values)  # (T, R)
    return float((e - e[0]).abs().max()), float(e[0].abs().mean())


def _harmonic_setup():
    m, w = 2.0, 0.2  # amu, rad/fs (period 31 fs)
    fn = potentials.harmonic(potentials.harmonic_force_constant(w, m))
    return fn, [1, 1], torch.tensor([[0.1, 0, 0], [0, 0.1, -0.1]], dtype=F64), [m, m], w


def _morse_setup():
    # H2-like: D_e = 4.7 eV, a = 1.94 1/Å, r_e = 0.74 Å, ω ≈ 0.83 rad/fs (4400 cm⁻¹)
    fn = potentials.morse(4.7, 1.94, 0.74)
    mu = 0.5 * 1.008
    w = 1.94 * math.sqrt(2 * 4.7 / mu * units.ACCEL_TO_A_PER_FS2)
    return fn, [1, 1], torch.tensor([[0, 0, 0], [0, 0, 0.80]], dtype=F64), [1.008, 1.008], w


@pytest.mark.parametrize("setup", [_harmonic_setup, _morse_setup], ids=["harmonic", "morse"])
def test_nve_energy_error_is_bounded_and_scales_with_dt_squared(setup):
    fn, z, x0, masses, w = setup()
    dt = 0.2 / w  # ω·dt = 0.2
    total = 20 * 2 * math.pi / w  # 20 periods
    err, scale = _max_energy_error(fn, z, x0, masses, dt, total)
    err_half, _ = _max_energy_error(fn, z, x0, masses, dt / 2, total)
    # velocity Verlet: |E(t) − E(0)| ≲ (ω dt)²/8 · E with no secular drift
    bound = 0.5 * (w * dt) ** 2 * scale
    assert err < bound
    assert err_half < bound / 4
    assert 3.0 < err / err_half < 5.0


def test_rpmd_nve_conserves_ring_polymer_energy():
    """Exact spring propagation + force kicks is symplectic: H_P conserved to O(dt²)."""
    fn = potentials.morse(4.7, 1.94, 0.74)
    x0 = torch.tensor([[0, 0, 0], [0, 0, 0.76]], dtype=F64)
    args = (fn, [1, 1], x0, [1.008, 1.008])
    err, scale = _max_energy_error(*args, 0.1, 60.0, beads=8, replicas=2)
    err_half, _ = _max_energy_error(*args, 0.05, 60.0, beads=8, replicas=2)
    assert err < 1e-3 * scale
    assert 3.0 < err / err_half < 5.0


@pytest.mark.parametrize("thermostat", ["nve", "nhc"])
def test_batched_replicas_equal_separate_runs(thermostat):
    fn = potentials.combine(potentials.morse(1.0, 1.5, 1.2), potentials.harmonic(0.05))
    g = torch.Generator().manual_seed(5)
    x0 = torch.tensor([[0, 0, 0], [1.2, 0, 0], [0.6, 1.0, 0]], dtype=F64) + 0.05 * torch.randn(
        3, 3, 3, generator=g, dtype=F64
    )
    v0 = 0.01 * torch.randn(3, 3, 3, generator=g, dtype=F64)
    masses = [1.0, 12.0, 16.0]

    def run(x, v, replicas):
        # deterministic dynamics (no PILE noise), beads start on the given positions
        cfg = MDConfig(
            dt_fs=0.5,
            n_steps=60,
            thermostat=thermostat,
            tau_fs=20.0,
            n_replicas=replicas,
            n_beads=2,
            pile_lambda=None,
            free_ring_polymer_start=False,
            progress=False,
        )
        gen = torch.Generator().manual_seed(0)
        state = initial_state([1, 6, 8], x, cfg, masses=masses, velocities=v[:, None], generator=gen)
        Simulation(fn, state, cfg, generator=gen).run()
        return state.positions, state.velocities

    xb, vb = run(x0, v0, 3)
    for r in range(3):
        xs, vs = run(x0[r : r + 1], v0[r : r + 1], 1)
        assert torch.allclose(xb[r], xs[0], atol=1e-12)
        assert torch.allclose(vb[r], vs[0], atol=1e-12)


def test_velocity_verlet_step_matches_analytic_harmonic_motion():
    m, w = 1.0, 0.1
    fn = potentials.harmonic(potentials.harmonic_force_constant(w, m))
    state = MDState(
        positions=torch.tensor([[[[0.1, 0.0, 0.0]]]], dtype=F64),
        velocities=torch.zeros(1, 1, 1, 3, dtype=F64),
        masses=torch.tensor([m], dtype=F64),
        atomic_numbers=torch.tensor([1]),
    )
    evaluate(fn, state)
    dt, n = 0.01, 1000
    for _ in range(n):
        velocity_verlet_step(state, fn, dt)
    assert state.step == n
    assert abs(float(state.positions[0, 0, 0, 0]) - 0.1 * math.cos(w * dt * n)) < 1e-6
