"""Validated configuration of an MD run and the thermostat it implies."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from equimol.md.nose_hoover import YOSHIDA_WEIGHTS, NoseHooverChain, RingPolymerNoseHooverChain
from equimol.md.thermostats import CSVR, TRPMD, Langevin, Thermostat

#: accepted thermostat names -> canonical name
THERMOSTAT_ALIASES: dict[str, str] = {
    "nve": "nve",
    "none": "nve",
    "langevin": "langevin",
    "baoab": "langevin",
    "pile_l": "langevin",
    "csvr": "csvr",
    "bussi": "csvr",
    "svr": "csvr",
    "pile_g": "csvr",
    "nhc": "nhc",
    "nose_hoover": "nhc",
    "nose_hoover_chain": "nhc",
    "pi_nhc": "nhc",
    "nhc_pile": "nhc_pile",
    "trpmd": "trpmd",
}

#: one line per canonical thermostat (``equimol md --help``); P = number of beads.
#: Why the alternatives to the default are kept: ``nhc_pile`` was equimol's RPMD default
#: before the ring-polymer NHC (reproduces older runs; its stochastic internal modes cannot
#: get stuck on non-ergodic tori); ``langevin`` (PILE-L) and ``csvr`` (PILE-G) are the
#: standard, robustly ergodic PIMD thermostats of CPMM2010 for static quantum averages;
#: ``trpmd`` is thermostatted RPMD (Rossi, Ceriotti & Manolopoulos 2014) for spectra without
#: the spurious ring-polymer resonances of plain RPMD, at the price of broadened
#: high-frequency bands; ``nve`` is plain RPMD / NVE.
THERMOSTAT_HELP: dict[str, str] = {
    "nhc": "Nose-Hoover chains (default, PaiNN paper; alias pi_nhc). P>1: centroid + per-mode chains",
    "nhc_pile": "P>1: global NHC on the centroid + PILE Langevin on internal modes (old default)",
    "langevin": "BAOAB Langevin (alias baoab), friction 1/tau; P>1: PILE-L (alias pile_l)",
    "csvr": "Bussi velocity rescaling (alias bussi, svr); P>1: PILE-G (alias pile_g)",
    "trpmd": "thermostatted RPMD: PILE on internal modes only, centroid free (P=1: NVE)",
    "nve": "no thermostat (alias none): NVE MD, plain RPMD",
}


def thermostat_spelling(name: str) -> str:
    """A thermostat name as users type it, in the form of :data:`THERMOSTAT_ALIASES`' keys:
    lower case, ``-`` and spaces as ``_`` (``PILE-L`` → ``pile_l``, ``Nose-Hoover`` → ``nose_hoover``)."""
    return str(name).strip().lower().replace("-", "_").replace(" ", "_").replace("é", "e")


_DTYPES = {"float64": torch.float64, "float32": torch.float32}


#: fs between the redraws of a free molecule's rotation at T in the spectra protocols (the
#: painn-spectra preset, the spectra workflows): longer than the rotational correlation time of
#: a small molecule at 300 K (≈ 0.5 ps), so that the bands keep their free-rotation contour
SPECTRA_ROTATION_RESAMPLE_FS = 1000.0


def free_molecule(rotation_resample_fs: float | None = None) -> dict:
    """MDConfig options for a free (gas-phase) molecule: the centre-of-mass motion and the
    rotation (of the centroid, for a ring polymer) removed, so that a global thermostat samples
    the vibrations at T (see :class:`MDConfig`). Ring polymers too: their centroid exchanges
    angular momentum with the internal modes too slowly to thermalise its rotation
    (docs/equations.md). ``rotation_resample_fs``: keep the rotation instead and redraw it at T
    every so many fs (what the spectra protocols do, :data:`SPECTRA_ROTATION_RESAMPLE_FS`: the
    rotational contour of gas-phase bands, and the rotation's coupling that spreads energy
    between the modes, measured in experiments/spectra/README.md)."""
    if rotation_resample_fs is None:
        return {"remove_com": True, "remove_rotation": True}
    return {"remove_com": True, "remove_rotation": False, "rotation_resample_fs": float(rotation_resample_fs)}


#: fields that may change when a run is restarted (everything else must match)
RESTART_MUTABLE = frozenset({"n_steps", "progress", "log_every", "checkpoint_every", "flush_every"})


@dataclass(frozen=True)
class MDConfig:
    """Settings of one (ring-polymer) MD run. Units: fs, K.

    thermostat (see :data:`THERMOSTAT_HELP`): "nve", "langevin" (BAOAB; PILE-L for
    n_beads > 1), "csvr" (Bussi; PILE-G for n_beads > 1), "nhc" (global Nose–Hoover chain;
    for n_beads > 1 the PaiNN paper's ring-polymer NHC,
    :class:`~equimol.md.nose_hoover.RingPolymerNoseHooverChain`), "nhc_pile" (global NHC on
    the centroid with PILE on internal modes) or "trpmd" (PILE on internal modes only).
    tau_fs is the Langevin 1/γ, the CSVR relaxation time or the NHC time constant (for the
    ring-polymer NHC the centroid chain has ω_0 = 1/(2τ), as in SchNetPack). pile_lambda
    (PILE internal friction; None leaves internal ring-polymer modes unthermostatted) is not
    used by "nhc". nhc_substeps: sub-steps of the ring-polymer NHC middle (None: automatic,
    ω_max·dt/n ≤ 0.02); nhc_yoshida and nhc_respa integrate the (centroid) global chain.
    initial_temperature_k: temperature of the Maxwell–Boltzmann start (None: temperature_k;
    0: zero velocities). Frames are written every ``stride`` steps (step 0 included),
    a checkpoint every ``checkpoint_every`` steps and a log line every ``log_every`` steps.
    remove_com: start with zero centre-of-mass velocity (of the centroid) and keep it there
    (N_f = 3N − 3). remove_rotation (needs remove_com): also zero the (centroid's) angular
    momentum, N_f = 3N − 6 (3N − 5 for a diatomic). A free molecule under a global thermostat ("nhc",
    "csvr") needs both: such thermostats scale all velocities, so the centre-of-mass and
    rotational energy of the random start never thermalise and the vibrations run at another
    temperature (:func:`~equimol.md.state.remove_angular_velocity`). rotation_resample_fs
    (needs remove_com, excludes remove_rotation and nve): keep the rotation but redraw it from its
    Maxwell–Boltzmann distribution at T every this many fs (an Andersen thermostat on the three
    rotations, :func:`~equimol.md.state.resample_rotation`), which thermalises it beside a global
    thermostat (N_f = 3N − 3); the spectra protocols use it (:func:`free_molecule`,
    :data:`SPECTRA_ROTATION_RESAMPLE_FS`).
    """

    dt_fs: float = 0.5
    n_steps: int = 1000
    temperature_k: float = 300.0
    thermostat: str = "nhc"
    tau_fs: float = 100.0
    chain_length: int = 3
    nhc_yoshida: int = 3
    nhc_respa: int = 1
    nhc_substeps: int | None = None
    pile_lambda: float | None = 0.5
    n_beads: int = 1
    n_replicas: int = 1
    seed: int = 0
    initial_temperature_k: float | None = None
    free_ring_polymer_start: bool = True
    remove_com: bool = False
    remove_rotation: bool = False
    rotation_resample_fs: float | None = None
    stride: int = 10
    log_every: int = 100
    checkpoint_every: int = 1000
    flush_every: int = 100
    trajectory_dtype: str = "float64"
    dtype: str = "float64"
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        name = THERMOSTAT_ALIASES.get(thermostat_spelling(self.thermostat))
        if name is None:
            raise ValueError(
                f"unknown thermostat {self.thermostat!r}; known: {', '.join(sorted(THERMOSTAT_ALIASES))}"
            )
        object.__setattr__(self, "thermostat", name)
        positive = {"dt_fs": self.dt_fs, "temperature_k": self.temperature_k, "tau_fs": self.tau_fs}
        for key, value in positive.items():
            if not value > 0:
                raise ValueError(f"{key} must be > 0, got {value}")
        for key in (
            "n_beads",
            "n_replicas",
            "stride",
            "log_every",
            "checkpoint_every",
            "flush_every",
            "chain_length",
            "nhc_respa",
        ):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {self.n_steps}")
        if self.nhc_yoshida not in YOSHIDA_WEIGHTS:
            raise ValueError(f"nhc_yoshida must be one of {sorted(YOSHIDA_WEIGHTS)}")
        if self.nhc_substeps is not None and int(self.nhc_substeps) < 1:
            raise ValueError(f"nhc_substeps must be >= 1 or None, got {self.nhc_substeps}")
        if self.pile_lambda is not None and not self.pile_lambda > 0:
            raise ValueError(f"pile_lambda must be > 0 or None, got {self.pile_lambda}")
        if self.initial_temperature_k is not None and self.initial_temperature_k < 0:
            raise ValueError("initial_temperature_k must be >= 0")
        if self.remove_rotation and not self.remove_com:
            raise ValueError("remove_rotation needs remove_com: rotation is taken about the centre of mass")
        if self.rotation_resample_fs is not None:
            if not self.rotation_resample_fs > 0:
                raise ValueError(f"rotation_resample_fs must be > 0 or None, got {self.rotation_resample_fs}")
            if not self.remove_com or self.remove_rotation:
                raise ValueError(
                    "rotation_resample_fs thermalises the rotation about the centre of mass: it needs "
                    "remove_com and excludes remove_rotation"
                )
            if self.thermostat == "nve":
                raise ValueError("rotation_resample_fs is a thermostat; it makes no sense with nve")
        for key in ("dtype", "trajectory_dtype"):
            if getattr(self, key) not in _DTYPES:
                raise ValueError(f"{key} must be one of {sorted(_DTYPES)}, got {getattr(self, key)!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MDConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown MDConfig fields: {sorted(unknown)}")
        return cls(**d)

    def replace(self, **changes: Any) -> MDConfig:
        return dataclasses.replace(self, **changes)


def build_thermostat(config: MDConfig) -> Thermostat | None:
    """Thermostat object for ``config``; None for "nve" (classical NVE, or plain RPMD)."""
    t, tau, lam = config.temperature_k, config.tau_fs, config.pile_lambda
    if config.thermostat == "nve":
        return None
    if config.thermostat == "langevin":
        return Langevin(t, tau, pile_lambda=lam)
    if config.thermostat == "csvr":
        return CSVR(t, tau, pile_lambda=lam)
    if config.thermostat == "trpmd":
        return TRPMD(t, tau, pile_lambda=lam)
    chain = {
        "chain_length": config.chain_length,
        "n_yoshida": config.nhc_yoshida,
        "n_respa": config.nhc_respa,
    }
    if config.thermostat == "nhc" and config.n_beads > 1:
        return RingPolymerNoseHooverChain(t, tau, n_substeps=config.nhc_substeps, **chain)
    return NoseHooverChain(t, tau, pile_lambda=lam, **chain)
