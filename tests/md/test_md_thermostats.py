"""Canonical sampling of the thermostats and their conserved quantities."""

import math

import pytest
import torch

from equimol import units
from equimol.md import CSVR, Langevin, MDConfig, NoseHooverChain, Simulation, initial_state, potentials
from equimol.md.hooks import Hook
from equimol.md.nose_hoover import YOSHIDA_WEIGHTS
from equimol.md.state import kinetic_energy

F64 = torch.float64
T = 600.0
N_ATOMS = 4


class _Recorder(Hook):
    def __init__(self, skip):
        self.skip = skip
        self.kinetic, self.conserved, self.total = [], [], []

    def on_step(self, sim):
        if sim.state.step > self.skip and sim.state.step % 2 == 0:
            obs = sim.observables()
            self.kinetic.append(kinetic_energy(sim.state.velocities, sim.state.masses).sum(1))
            self.conserved.append(obs["conserved"])
            self.total.append(obs["energy_potential"] + obs["energy_kinetic"])


def _anharmonic_wells():
    """Four atoms in anisotropic anharmonic wells: every degree of freedom is confined and
    the quartic term mixes x, y, z, so global thermostats are ergodic enough."""
    x0 = torch.tensor([[0, 0, 0], [2, 0, 0], [1, 1.732, 0], [1, 0.577, 1.633]], dtype=F64)
    k = torch.tensor([0.5, 0.8, 1.3], dtype=F64)[None] * torch.linspace(1, 2, N_ATOMS, dtype=F64)[:, None]
    return potentials.harmonic(k, x0, quartic=0.5), x0


@pytest.mark.parametrize("thermostat", ["langevin", "csvr", "nhc"])
def test_canonical_kinetic_energy_mean_and_variance(thermostat):
    """K of N_f = 3N degrees of freedom is Gamma-distributed: ⟨K⟩ = N_f kT/2 and
    Var K = N_f (kT)²/2. Errors are estimated from the spread over independent replicas."""
    fn, x0 = _anharmonic_wells()
    replicas = 64
    cfg = MDConfig(
        dt_fs=1.0,
        n_steps=3000,
        temperature_k=T,
        thermostat=thermostat,
        tau_fs=20.0,
        n_replicas=replicas,
        seed=2,
        nhc_yoshida=3,
        progress=False,
    )
    g = torch.Generator().manual_seed(cfg.seed)
    state = initial_state([1] * N_ATOMS, x0, cfg, masses=[10.0] * N_ATOMS, generator=g)
    rec = _Recorder(skip=300)
    Simulation(fn, state, cfg, hooks=[rec], generator=g).run()
    k = torch.stack(rec.kinetic)  # (T, R)
    kt, nf = units.KB_EV_PER_K * T, 3 * N_ATOMS
    mean = k.mean(0) / (nf * kt / 2)
    var = k.var(0) / (nf * kt**2 / 2)
    for est, tol in ((mean, 0.02), (var, 0.06)):
        se = float(est.std()) / math.sqrt(replicas)
        assert abs(float(est.mean()) - 1.0) < min(4 * se, tol) + 0.002, (float(est.mean()), se)
    # the conserved quantity stays put while the physical energy is exchanged with the bath
    e_cons = torch.stack(rec.conserved)
    e_tot = torch.stack(rec.total)
    assert float((e_cons - e_cons[0]).abs().max()) < 0.05 * float(e_tot.std(0).mean())


def test_constructor_validation():
    with pytest.raises(ValueError, match="temperature_k"):
        Langevin(-1.0, 10.0)
    with pytest.raises(ValueError, match="tau_fs"):
        CSVR(300.0, 0.0)
    with pytest.raises(ValueError, match="n_yoshida"):
        NoseHooverChain(300.0, 100.0, n_yoshida=2)
    with pytest.raises(ValueError, match="chain_length"):
        NoseHooverChain(300.0, 100.0, chain_length=0)
    with pytest.raises(ValueError, match="unknown thermostat"):
        MDConfig(thermostat="berendsen")


@pytest.mark.parametrize("order", sorted(YOSHIDA_WEIGHTS))
def test_yoshida_weights_sum_to_one(order):
    assert abs(sum(YOSHIDA_WEIGHTS[order]) - 1.0) < 1e-12


def test_nhc_yoshida_orders_agree():
    """Higher Suzuki–Yoshida orders change the chain only at O(dt^{k}) for smooth runs."""
    fn, x0 = _anharmonic_wells()
    finals = []
    for order in (1, 3, 7):
        cfg = MDConfig(
            dt_fs=0.5,
            n_steps=200,
            temperature_k=T,
            thermostat="nhc",
            tau_fs=20.0,
            nhc_yoshida=order,
            n_replicas=2,
            seed=1,
            progress=False,
        )
        g = torch.Generator().manual_seed(1)
        state = initial_state([1] * N_ATOMS, x0, cfg, masses=[10.0] * N_ATOMS, generator=g)
        Simulation(fn, state, cfg, generator=g).run()
        finals.append(state.positions)
    assert torch.allclose(finals[0], finals[1], atol=1e-4)
    assert torch.allclose(finals[1], finals[2], atol=1e-7)


@pytest.mark.parametrize("n_beads", [1, 4])
def test_remove_com_keeps_centroid_at_rest_with_3n_minus_3_dof(n_beads):
    """Free molecule (translation-invariant Morse triangle), Langevin with centre-of-mass
    removal: the centroid momentum stays zero and the temperature estimator, which counts
    3NP − 3 degrees of freedom, averages T."""
    fn = potentials.morse(0.5, 1.5, 1.5)
    x0 = torch.tensor([[0, 0, 0], [1.5, 0, 0], [0.75, 1.3, 0]], dtype=F64)
    masses = torch.tensor([1.0, 12.0, 16.0], dtype=F64)
    cfg = MDConfig(
        dt_fs=0.5,
        n_steps=1500,
        temperature_k=300.0,
        thermostat="langevin",
        tau_fs=10.0,
        n_replicas=32,
        n_beads=n_beads,
        remove_com=True,
        seed=5,
        progress=False,
    )
    g = torch.Generator().manual_seed(cfg.seed)
    state = initial_state([1, 6, 8], x0, cfg, masses=masses, generator=g)

    class _Check(Hook):
        def __init__(self):
            self.temps = []

        def on_step(self, sim):
            p_com = (sim.state.velocities.mean(1) * masses[:, None]).sum(1)
            assert float(p_com.abs().max()) < 1e-12
            if sim.state.step > 200:
                self.temps.append(sim.observables()["temperature_k"])

    check = _Check()
    Simulation(fn, state, cfg, hooks=[check], generator=g).run()
    temps = torch.stack(check.temps).mean(0) / cfg.temperature_k
    se = float(temps.std()) / math.sqrt(cfg.n_replicas)
    assert abs(float(temps.mean()) - 1) < 4 * se + 0.002
