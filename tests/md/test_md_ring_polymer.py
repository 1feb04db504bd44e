"""Ring-polymer normal modes, free propagation, estimators and quantum harmonic RPMD."""

import math

import pytest
import torch

from equimol import units
from equimol.md import MDConfig, Simulation, initial_state, potentials
from equimol.md.hooks import Hook
from equimol.md.ring_polymer import (
    FreeRingPolymer,
    from_normal_modes,
    kinetic_energy_centroid_virial,
    kinetic_energy_primitive,
    normal_mode_frequencies,
    normal_mode_matrix,
    ring_polymer_frequency,
    spring_energy,
    to_normal_modes,
)

F64 = torch.float64


@pytest.mark.parametrize("p", [1, 2, 3, 4, 5, 8, 32])
def test_normal_mode_matrix_is_orthogonal_with_constant_centroid(p):
    c = normal_mode_matrix(p)
    assert torch.allclose(c.T @ c, torch.eye(p, dtype=F64), atol=1e-13)
    assert torch.allclose(c[:, 0], torch.full((p,), p**-0.5, dtype=F64))
    x = torch.randn(2, p, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(from_normal_modes(to_normal_modes(x, c), c), x, atol=1e-13)
    assert torch.allclose(to_normal_modes(x, c)[:, 0], math.sqrt(p) * x.mean(1), atol=1e-13)


@pytest.mark.parametrize("p", [4, 5, 8])
def test_normal_modes_diagonalise_the_spring_hessian(p):
    """Cᵀ H C = diag(m ω_k²) with ω_k = 2 ω_P sin(kπ/P) (CPMM2010 Eq. 25)."""
    t, m = 300.0, 2.0
    masses = torch.tensor([m], dtype=F64)

    def energy(flat):
        return spring_energy(flat.reshape(1, p, 1, 1).expand(1, p, 1, 3), masses, t)[0] / 3.0

    hess = torch.autograd.functional.hessian(energy, torch.zeros(p, dtype=F64))
    c = normal_mode_matrix(p)
    w = normal_mode_frequencies(p, t)
    expected = 2 * ring_polymer_frequency(p, t) * torch.sin(torch.arange(p, dtype=F64) * math.pi / p)
    assert torch.allclose(w, expected.abs(), atol=1e-14)
    diag = m * w**2 / units.ACCEL_TO_A_PER_FS2
    assert torch.allclose(c.T @ hess @ c, torch.diag(diag), atol=1e-10 * float(diag.max()))


def test_exact_free_propagation_matches_brute_force_integration():
    """Exact normal-mode rotation vs. tiny-step velocity Verlet on the bead springs."""
    p, t, n = 6, 300.0, 2
    ring = FreeRingPolymer(p, t)
    g = torch.Generator().manual_seed(1)
    x0 = 0.1 * torch.randn(1, p, n, 3, dtype=F64, generator=g)
    v0 = 0.01 * torch.randn(1, p, n, 3, dtype=F64, generator=g)
    period = 2 * math.pi / float(normal_mode_frequencies(p, t)[1])
    total = 1.3 * period
    xe, ve = ring.propagate(x0, v0, total)

    w_p2 = ring_polymer_frequency(p, t) ** 2

    def accel(x):  # spring forces written independently of spring_energy
        return -w_p2 * (2 * x - torch.roll(x, -1, 1) - torch.roll(x, 1, 1))

    errors = []
    for steps in (500, 1000):
        dt = total / steps
        x, v, a = x0.clone(), v0.clone(), accel(x0)
        for _ in range(steps):
            v = v + 0.5 * dt * a
            x = x + dt * v
            a = accel(x)
            v = v + 0.5 * dt * a
        errors.append(float((x - xe).abs().max() / x0.abs().max()))
        assert float((v - ve).abs().max() / v0.abs().max()) < 4 * errors[-1] + 1e-6
    # brute force converges to the exact answer as dt²
    assert errors[1] < 2e-4
    assert 3.5 < errors[0] / errors[1] < 4.5
    # composition: two half steps equal one full step
    xh, vh = ring.propagate(*ring.propagate(x0, v0, 0.5 * total), 0.5 * total)
    assert torch.allclose(xh, xe, atol=1e-12) and torch.allclose(vh, ve, atol=1e-12)


def test_single_mode_oscillates_at_omega_k():
    p, t = 8, 300.0
    ring = FreeRingPolymer(p, t)
    w = normal_mode_frequencies(p, t)
    for k in range(1, p):
        q = torch.zeros(1, p, 1, 3, dtype=F64)
        q[0, k, 0, 0] = 0.1
        x0 = from_normal_modes(q, ring.c)
        time = 0.37 * 2 * math.pi / float(w[k])
        xt, _ = ring.propagate(x0, torch.zeros_like(x0), time)
        qt = to_normal_modes(xt, ring.c)
        assert torch.allclose(qt[0, k, 0, 0], 0.1 * torch.cos(w[k] * time), atol=1e-12)
        assert float(qt.square().sum() - qt[0, k, 0, 0] ** 2) < 1e-24


def test_free_ring_polymer_sampling_and_estimators():
    p, t, n = 16, 200.0, 2
    masses = torch.tensor([1.0, 12.0], dtype=F64)
    ring = FreeRingPolymer(p, t)
    centroids = torch.zeros(4000, n, 3, dtype=F64)
    x = ring.sample_positions(centroids, masses, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(x.mean(1), centroids, atol=1e-12)
    kt = units.KB_EV_PER_K * t
    spring = spring_energy(x, masses, t)
    expected = 1.5 * n * (p - 1) * p * kt  # equipartition of 3N(P-1) modes at T_P
    assert abs(float(spring.mean()) / expected - 1) < 4 * math.sqrt(2 / (3 * n * (p - 1) * 4000))
    # primitive estimator of a free particle averages 3N kT/2
    kp = kinetic_energy_primitive(x, masses, t)
    se = float(kp.std()) / math.sqrt(len(kp))
    assert abs(float(kp.mean()) - 1.5 * n * kt) < 4 * se
    # one bead: both estimators are the classical 3N kT/2
    one = torch.randn(3, 1, n, 3, dtype=F64)
    assert torch.allclose(kinetic_energy_primitive(one, masses, t), torch.full((3,), 1.5 * n * kt, dtype=F64))
    cv = kinetic_energy_centroid_virial(one, torch.randn_like(one), t)
    assert torch.allclose(cv, torch.full((3,), 1.5 * n * kt, dtype=F64))


class _Sampler(Hook):
    def __init__(self, skip, every, temperature_k):
        self.skip, self.every, self.t = skip, every, temperature_k
        self.x2, self.kcv, self.temperature = [], [], []

    def on_step(self, sim):
        s = sim.state
        if s.step > self.skip and s.step % self.every == 0:
            self.x2.append(s.positions.square().mean((1, 2, 3)))
            self.kcv.append(kinetic_energy_centroid_virial(s.positions, s.forces, self.t))
            self.temperature.append(sim.observables()["temperature_k"])


@pytest.mark.parametrize(
    ("thermostat", "replicas"), [("langevin", 32), ("csvr", 16), ("nhc_pile", 16), ("nhc", 32)]
)
def test_rpmd_harmonic_oscillator_reproduces_quantum_x2(thermostat, replicas):
    """⟨x²⟩ = ħ/(2mω) coth(βħω/2) and K = (ħω/4) coth(βħω/2) per dof at βħω = 6, where the
    classical ⟨x²⟩ is 34% lower. P = 32 (discretisation error 0.4%); many replicas in
    one batch; statistical error from the spread over independent replicas. "nhc" is the
    ring-polymer NHC, here with 16 middle sub-steps (ω_max·h = 0.16) to keep the test fast."""
    t, m, bhw, p = 300.0, 1.0, 6.0, 32
    kt = units.KB_EV_PER_K * t
    w = bhw * kt / units.HBAR_EV_FS
    fn = potentials.harmonic(potentials.harmonic_force_constant(w, m))
    x2_quantum = units.HBAR_EV_FS * units.ACCEL_TO_A_PER_FS2 / (2 * m * w) / math.tanh(bhw / 2)
    k_quantum = 3 * units.HBAR_EV_FS * w / 4 / math.tanh(bhw / 2)
    x2_classical = kt * units.ACCEL_TO_A_PER_FS2 / (m * w**2)
    cfg = MDConfig(
        dt_fs=1.0,
        n_steps=1500,
        temperature_k=t,
        thermostat=thermostat,
        tau_fs=10.0,
        n_beads=p,
        n_replicas=replicas,
        seed=3,
        nhc_yoshida=1,
        nhc_substeps=16,
        progress=False,
    )
    g = torch.Generator().manual_seed(cfg.seed)
    state = initial_state([1], torch.zeros(1, 3, dtype=F64), cfg, masses=[m], generator=g)
    sampler = _Sampler(skip=200, every=2, temperature_k=t)
    Simulation(fn, state, cfg, hooks=[sampler], generator=g).run()
    x2 = torch.stack(sampler.x2).mean(0) / x2_quantum  # per replica
    kcv = torch.stack(sampler.kcv).mean(0) / k_quantum
    for est in (x2, kcv):
        se = float(est.std()) / math.sqrt(replicas)
        assert abs(float(est.mean()) - 1) < max(4 * se, 0.005) + 0.005, (float(est.mean()), se)
        assert se < 0.01, (float(est.mean()), se)
    assert float(x2.mean()) > 1.3 * x2_classical / x2_quantum
    # the ring-polymer kinetic temperature estimator averages the physical T, up to the
    # O((ω dt)²/4) bias of BAOAB velocities at full steps
    bias = 0.5 * (w * cfg.dt_fs) ** 2
    assert abs(float(torch.stack(sampler.temperature).mean()) / t - 1) < bias


def test_one_bead_equals_classical_baoab():
    """P = 1 PILE-L is classical BAOAB: compare with a hand-written reference."""
    fn = potentials.morse(d_e=1.0, a=1.5, r_e=1.2)
    cfg = MDConfig(
        dt_fs=0.5,
        n_steps=50,
        temperature_k=500.0,
        thermostat="langevin",
        tau_fs=20.0,
        n_replicas=3,
        seed=7,
        progress=False,
    )
    g = torch.Generator().manual_seed(123)
    x0 = torch.tensor([[0.0, 0.0, 0.0], [1.3, 0.1, 0.0]], dtype=F64) + 0.05 * torch.randn(
        3, 2, 3, generator=g, dtype=F64
    )
    v0 = 0.01 * torch.randn(3, 2, 3, generator=g, dtype=F64)
    masses = torch.tensor([1.0, 16.0], dtype=F64)
    gen = torch.Generator().manual_seed(cfg.seed)
    state = initial_state([1, 8], x0, cfg, masses=masses, velocities=v0, generator=gen)
    Simulation(fn, state, cfg, generator=gen).run()

    ref_gen = torch.Generator().manual_seed(cfg.seed)
    inv_m = units.ACCEL_TO_A_PER_FS2 / masses[:, None]
    kt = units.KB_EV_PER_K * cfg.temperature_k
    sigma = torch.sqrt(kt * units.ACCEL_TO_A_PER_FS2 / masses)[:, None]
    c1 = math.exp(-cfg.dt_fs / cfg.tau_fs)
    c2 = math.sqrt(1 - c1**2)
    x, v, h = x0.clone(), v0.clone(), 0.5 * cfg.dt_fs
    f = fn(x)["forces"]
    for _ in range(cfg.n_steps):
        v = v + h * inv_m * f
        x = x + h * v
        v = c1 * v + c2 * sigma * torch.randn((3, 1, 2, 3), generator=ref_gen, dtype=F64)[:, 0]
        x = x + h * v
        f = fn(x)["forces"]
        v = v + h * inv_m * f
    assert torch.allclose(state.positions[:, 0], x, atol=1e-12)
    assert torch.allclose(state.velocities[:, 0], v, atol=1e-12)
