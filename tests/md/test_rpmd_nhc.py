"""The ring-polymer Nose–Hoover chain thermostat (the PaiNN paper's RPMD thermostat).

Analytic answers on harmonic oscillators: the P-bead and quantum ⟨x²⟩, the centroid
temperature T, the kinetic temperature P·T of every internal normal mode, conservation of
the extended energy, exact restarts, and stability at the paper's 64 beads and 0.2 fs.
"""

import math

import pytest
import torch

from equimol import units
from equimol.md import MDConfig, NoseHooverChain, Simulation, build_thermostat, initial_state, potentials
from equimol.md.config import THERMOSTAT_ALIASES, THERMOSTAT_HELP, thermostat_spelling
from equimol.md.hooks import Hook
from equimol.md.nose_hoover import RPNHC_MAX_PHASE, RingPolymerNoseHooverChain
from equimol.md.ring_polymer import normal_mode_frequencies, normal_mode_matrix, to_normal_modes
from equimol.md.thermostats import TRPMD, Langevin

F64 = torch.float64
T = 300.0
KT = units.KB_EV_PER_K * T
M = 1.0
OMEGA = 6.0 * KT / units.HBAR_EV_FS  # βħω = 6: strongly quantum


def _oscillator():
    """Isotropic 3D oscillator. A global chain cannot share energy between uncoupled
    harmonic axes (per-axis centroid averages depend on the start), but it controls the
    total centroid kinetic energy and the virial theorem holds per axis, so the 3D average
    Σ_α ⟨x̄_α²⟩ converges quickly."""
    w = torch.full((3,), OMEGA, dtype=F64)
    return potentials.harmonic(potentials.harmonic_force_constant(OMEGA, M)), w


def _x2_ring_polymer(w: torch.Tensor, p: int) -> torch.Tensor:
    """Exact bead-averaged ⟨x²⟩ of P beads: (k_B T/m) Σ_k 1/(ω² + ω_k²) per axis, Å²."""
    wk = normal_mode_frequencies(p, T)
    return KT * units.ACCEL_TO_A_PER_FS2 / M * (1.0 / (w[:, None] ** 2 + wk[None] ** 2)).sum(1)


def _x2_quantum(w: torch.Tensor) -> torch.Tensor:
    """ħ/(2mω) coth(βħω/2) per axis, Å²."""
    bhw = units.HBAR_EV_FS * w / KT
    return units.HBAR_EV_FS * units.ACCEL_TO_A_PER_FS2 / (2 * M * w) / torch.tanh(bhw / 2)


class _Sampler(Hook):
    """Per replica: ⟨x_α²⟩ over beads, centroid kinetic temperature, ⟨m ṽ_k²⟩ per mode."""

    def __init__(self, skip: int, every: int, p: int):
        self.skip, self.every = skip, every
        self.c = normal_mode_matrix(p)
        self.x2, self.t_centroid, self.mode_mv2, self.conserved = [], [], [], []

    def on_step(self, sim):
        s = sim.state
        if s.step <= self.skip or s.step % self.every:
            return
        self.x2.append(s.positions.square().mean((1, 2)))  # (R, 3)
        vbar = s.velocities.mean(1)  # (R, N, 3)
        mv2 = (vbar.square().sum(-1) * s.masses).sum(-1) / units.ACCEL_TO_A_PER_FS2
        self.t_centroid.append(mv2 / (3 * s.n_atoms * units.KB_EV_PER_K))
        v_nm = to_normal_modes(s.velocities, self.c)  # (R, P, N, 3)
        self.mode_mv2.append((v_nm.square().sum(-1) * s.masses).mean(-1) / units.ACCEL_TO_A_PER_FS2 / 3)
        self.conserved.append(sim.observables()["conserved"])


def _run(p, steps, *, replicas=16, dt=0.5, tau=10.0, skip=200, every=2, seed=3, **kw):
    fn, w = _oscillator()
    cfg = MDConfig(
        dt_fs=dt,
        n_steps=steps,
        temperature_k=T,
        thermostat="nhc",
        tau_fs=tau,
        n_beads=p,
        n_replicas=replicas,
        seed=seed,
        progress=False,
        **kw,
    )
    g = torch.Generator().manual_seed(cfg.seed)
    state = initial_state([1], torch.zeros(1, 3, dtype=F64), cfg, masses=[M], generator=g)
    sampler = _Sampler(skip, every, p)
    sim = Simulation(fn, state, cfg, hooks=[sampler], generator=g)
    sim.run()
    return sim, sampler, w


def _mean_and_se(x: torch.Tensor) -> tuple[float, float]:
    """Mean over replicas of per-replica time averages, and its standard error."""
    return float(x.mean()), float(x.std()) / math.sqrt(x.numel())


def test_rpmd_nhc_samples_the_quantum_oscillator_and_mode_temperatures():
    """P = 16 ring polymer of a 3D oscillator at βħω = 6 with the ring-polymer NHC: ⟨x²⟩
    matches the exact P-bead value within sampling error, which is within 2% of the quantum
    ħ/(2mω) coth(βħω/2) and 50% above the classical k_B T/(mω²); the centroid temperature
    averages T and every internal normal mode has the kinetic temperature P·T (classical
    isomorphism at T_P = P·T)."""
    p = 16
    # 8 sub-steps (ω_max·h = 0.08, coarser than the default 0.02) keep the test fast
    sim, s, w = _run(p, 2000, replicas=32, nhc_substeps=8)
    assert isinstance(sim.thermostat, RingPolymerNoseHooverChain)
    x2 = torch.stack(s.x2).mean((0, 2))  # (R,)
    exact_p = float(_x2_ring_polymer(w, p)[0])
    quantum = float(_x2_quantum(w)[0])
    assert abs(exact_p / quantum - 1) < 0.02
    mean, se = _mean_and_se(x2 / exact_p)
    assert se < 0.015 and abs(mean - 1) < 4 * se + 0.005, (mean, se)
    classical = KT * units.ACCEL_TO_A_PER_FS2 / (M * OMEGA**2)
    assert float(x2.mean()) > 1.4 * classical

    mean, se = _mean_and_se(torch.stack(s.t_centroid).mean(0) / T)
    assert se < 0.03 and abs(mean - 1) < 4 * se + 0.01, (mean, se)
    mode_t = torch.stack(s.mode_mv2).mean(0) / (p * KT)  # (R, P): m ṽ_k² / k_B T_P
    for k in range(1, p):
        mean, se = _mean_and_se(mode_t[:, k])
        assert abs(mean - 1) < 4 * se + 0.01, (k, mean, se)
    mean, se = _mean_and_se(mode_t[:, 1:].mean(1))
    assert se < 0.01 and abs(mean - 1) < 4 * se + 0.003, (mean, se)


def test_extended_energy_is_conserved_with_a_tiny_time_step():
    """H_P + chain energies (MKT1992): the largest deviation over 100 fs shrinks as dt² with
    the step (one middle sub-step), and with dt = 0.05 fs and 16 sub-steps it is below
    1e-4 of the energy the chains exchange with the ring polymer."""

    def deviation(dt, substeps):
        sim, s, _ = _run(
            8, round(100 / dt), replicas=2, dt=dt, tau=20.0, skip=0, every=1, seed=1, nhc_substeps=substeps
        )
        cons = torch.stack(s.conserved)
        heat = sim.thermostat.conserved() / sim.state.n_beads  # chain energy per bead, as `conserved`
        return float((cons - cons[0]).abs().max()), float(heat.abs().max())

    err_coarse, _ = deviation(0.1, 1)
    err_fine, _ = deviation(0.05, 1)
    assert 3.0 < err_coarse / err_fine < 5.5
    err, heat = deviation(0.05, 16)
    assert heat > KT  # the chains exchange a lot of energy with the ring polymer
    assert err < 1e-4 * heat


def test_paper_settings_are_stable_and_conserve_the_extended_energy():
    """The PaiNN protocol's 64 beads at 0.2 fs, 300 K, τ = 100 fs on an O–H-stretch-like
    oscillator (3700 cm⁻¹): 400 fs without divergence (with the chains applied only at the
    ends of the step, a 64-bead oscillator blows up within 10 steps at these settings), and
    the extended energy stays within k_B T per bead."""
    fn = potentials.morse(4.6, 2.2, 0.97)  # ω ≈ 0.7 rad/fs for O–H
    cfg = MDConfig(
        dt_fs=0.2,
        n_steps=2000,
        temperature_k=T,
        thermostat="nhc",
        tau_fs=100.0,
        n_beads=64,
        seed=2,
        progress=False,
    )
    g = torch.Generator().manual_seed(cfg.seed)
    x0 = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.97]], dtype=F64)
    state = initial_state([8, 1], x0, cfg, generator=g)
    sim = Simulation(fn, state, cfg, generator=g)
    thermostat = sim.thermostat
    assert isinstance(thermostat, RingPolymerNoseHooverChain)
    w_max = float(thermostat.omega.max())
    assert w_max / (2 * math.pi * units.C_CM_PER_FS) == pytest.approx(2.67e4, rel=0.01)  # 2P k_B T/ħ
    assert thermostat.substeps(0.2) == math.ceil(w_max * 0.2 / RPNHC_MAX_PHASE)
    c0 = sim.observables()["conserved"]
    temps = []
    for _ in range(20):
        sim.run(100)
        temps.append(float(sim.observables()["temperature_k"][0]))
        assert float((sim.observables()["conserved"] - c0).abs().max()) < KT
    assert 200 < sum(temps) / len(temps) < 400


def test_restart_from_state_dict_is_exact():
    fn, _ = _oscillator()
    cfg = MDConfig(
        dt_fs=0.5,
        n_steps=40,
        temperature_k=T,
        thermostat="nhc",
        tau_fs=10.0,
        n_beads=4,
        n_replicas=2,
        progress=False,
    )

    def fresh():
        g = torch.Generator().manual_seed(7)
        state = initial_state([1], torch.zeros(1, 3, dtype=F64), cfg, masses=[M], generator=g)
        return Simulation(fn, state, cfg, generator=g)

    ref = fresh()
    ref.run()
    half = fresh()
    half.run(20)
    payload = half.state_dict()
    assert {"eta", "p_eta", "eta_internal", "p_eta_internal"} <= set(payload["thermostat"])
    resumed = Simulation(fn, half.state, cfg, generator=torch.Generator())
    resumed.load_state_dict(payload)
    resumed.run()
    assert torch.equal(resumed.state.positions, ref.state.positions)
    assert torch.equal(resumed.state.velocities, ref.state.velocities)
    assert torch.equal(resumed.thermostat.conserved(), ref.thermostat.conserved())
    bad = {**payload["thermostat"], "eta_internal": torch.zeros(1, 2, 3)}
    with pytest.raises(ValueError, match="ring-polymer NHC state"):
        resumed.thermostat.load_state_dict(bad)
    old_nhc_pile = {k: v for k, v in payload["thermostat"].items() if "internal" not in k}
    with pytest.raises(ValueError, match="now thermostat 'nhc_pile'"):
        resumed.thermostat.load_state_dict(old_nhc_pile)


def test_thermostat_names_and_which_class_each_builds():
    def build(name, beads):
        return build_thermostat(MDConfig(thermostat=name, n_beads=beads))

    assert type(build("nhc", 1)) is NoseHooverChain  # classical MD keeps the global NHC
    assert type(build("nhc", 8)) is RingPolymerNoseHooverChain
    for typed in ("nhc-pile", "NHC_PILE", "nhc pile"):
        th = build(typed, 8)
        assert type(th) is NoseHooverChain and th.pile_lambda == 0.5
    assert type(build("pi-nhc", 8)) is RingPolymerNoseHooverChain
    assert type(build("PILE-L", 8)) is Langevin
    assert type(build("trpmd", 8)) is TRPMD
    assert set(THERMOSTAT_ALIASES.values()) == set(THERMOSTAT_HELP)
    assert all(thermostat_spelling(k) == k for k in THERMOSTAT_ALIASES)
    with pytest.raises(ValueError, match="nhc_substeps"):
        MDConfig(nhc_substeps=0)
    with pytest.raises(ValueError, match="n_substeps"):
        RingPolymerNoseHooverChain(T, n_substeps=0)


def test_trpmd_leaves_the_centroid_alone_and_thermostats_internal_modes():
    """Free particle: TRPMD never changes the centroid velocity, PILE heats the internal modes."""
    cfg = MDConfig(dt_fs=1.0, n_steps=200, temperature_k=T, thermostat="trpmd", n_beads=8, progress=False)
    g = torch.Generator().manual_seed(0)
    x0 = torch.zeros(1, 3, dtype=F64)
    state = initial_state([1], x0, cfg, masses=[M], velocities=torch.zeros(1, 3, dtype=F64), generator=g)
    state.velocities[:, :, :, 0] = 0.01  # centroid moving along x, internal modes at rest
    sim = Simulation(potentials.harmonic(0.0), state, cfg, generator=g)
    sim.run()
    assert torch.allclose(state.velocities.mean(1), torch.tensor([[[0.01, 0.0, 0.0]]], dtype=F64), atol=1e-14)
    assert float((state.velocities - state.velocities.mean(1, keepdim=True)).abs().max()) > 0.01
