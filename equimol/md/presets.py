"""Documented MD presets.

PaiNN spectra (Schütt, Unke & Gastegger, ICML 2021): IR and Raman spectra from
(ring-polymer) MD driven by the learned potential, dipole and polarizability, with the
settings below (as specified in the project's MD issue):

=====================  ==========================================================
time step              0.2 fs
temperature            300 K
length                 50 ps (250 000 steps), the first 10 ps discarded
thermostat             Nose–Hoover chain, chain length 3, time constant τ = 100 fs
ring polymer           64 beads; ring-polymer NHC ("nhc" with P > 1, SchNetPack's
                       NHCRingPolymerThermostat that the paper used): a global chain
                       on the centroid (ω_0 = 1/(2τ)) and one chain per internal
                       normal-mode degree of freedom with Q = k_B T_P/ω_k²
=====================  ==========================================================

:class:`~equimol.md.nose_hoover.RingPolymerNoseHooverChain` documents the equations and the
integration (internal chains sub-stepped with the exact free ring-polymer propagation; the
force is called once per 0.2 fs step). ``thermostat="nhc_pile"`` gives the earlier variant
(global NHC on the centroid, PILE Langevin on the internal modes).

The preset leaves ``stride`` (frames stored every 10 steps = 2 fs, Nyquist 8300 cm⁻¹)
and the number of replicas to the caller. ``discard_fs`` is applied by the spectra code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equimol.md.config import SPECTRA_ROTATION_RESAMPLE_FS, MDConfig, free_molecule

PAINN_DT_FS = 0.2
PAINN_TEMPERATURE_K = 300.0
PAINN_LENGTH_FS = 50_000.0
PAINN_DISCARD_FS = 10_000.0
PAINN_CHAIN_LENGTH = 3
PAINN_TAU_FS = 100.0
PAINN_N_BEADS = 64


@dataclass(frozen=True)
class SpectraPreset:
    """An MD configuration plus the equilibration time (fs) to drop before analysis."""

    md: MDConfig
    discard_fs: float

    @property
    def discard_frames(self) -> int:
        """Number of leading trajectory frames (stride md.stride, frame 0 included) to drop."""
        return round(self.discard_fs / (self.md.dt_fs * self.md.stride))


def painn_spectra(n_beads: int = PAINN_N_BEADS, **overrides: Any) -> SpectraPreset:
    """The PaiNN-paper spectra settings; ``n_beads=1`` gives the classical-MD variant.

    ``overrides`` replace MDConfig fields (e.g. ``n_replicas``, ``stride``, ``seed``).
    """
    base: dict[str, Any] = {
        "dt_fs": PAINN_DT_FS,
        "n_steps": round(PAINN_LENGTH_FS / PAINN_DT_FS),
        "temperature_k": PAINN_TEMPERATURE_K,
        "thermostat": "nhc",
        "chain_length": PAINN_CHAIN_LENGTH,
        "tau_fs": PAINN_TAU_FS,
        "n_beads": n_beads,
        "stride": 10,
        # not in the paper: the centre-of-mass motion removed and the rotation redrawn at T every
        # ps, so that the global thermostat samples rotation and vibrations at T
        # (docs/equations.md, "a free molecule under a global thermostat")
        **free_molecule(SPECTRA_ROTATION_RESAMPLE_FS),
        "checkpoint_every": 10_000,
    }
    base.update(overrides)
    return SpectraPreset(md=MDConfig(**base), discard_fs=PAINN_DISCARD_FS)


#: RPMD (64 beads) and classical variants of the PaiNN spectra settings
PAINN_SPECTRA_RPMD = painn_spectra()
PAINN_SPECTRA_CLASSICAL = painn_spectra(n_beads=1)
