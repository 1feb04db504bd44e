"""Internal units and the only place where unit conversion factors live.

Internal units: length Å, energy eV, charge e, mass amu, time fs, temperature K.
Derived: force eV/Å, dipole e·Å, polarizability Å^3, velocity Å/fs.
Readers and the CLI convert once, at the boundary, with the factors below. The names of the
internal units, as files and reports record them, are in :data:`UNITS`.
"""

from __future__ import annotations

from ase import units as _ase

# energy -> eV
KCAL_PER_MOL: float = _ase.kcal / _ase.mol  # 1 kcal/mol in eV
KJ_PER_MOL: float = _ase.kJ / _ase.mol
HARTREE: float = _ase.Hartree  # 1 Ha in eV
MEV: float = 1e-3
# length -> Å
BOHR: float = _ase.Bohr  # 1 a0 in Å
NM: float = 10.0
PM: float = 0.01
# dipole -> e·Å
DEBYE: float = _ase.Debye  # 1 D in e·Å
E_BOHR: float = _ase.Bohr  # 1 e·a0 in e·Å
# polarizability -> Å^3
BOHR3: float = _ase.Bohr**3
# time / temperature / mass
FS: float = 1.0
PS: float = 1000.0
KB_EV_PER_K: float = _ase.kB  # Boltzmann constant, eV/K
AMU: float = 1.0
# velocity: (eV/amu)^(1/2) expressed in Å/fs.  v[Å/fs] = sqrt(E[eV]/m[amu]) * this
# acceleration: F[eV/Å] / m[amu] * ACCEL_TO_A_PER_FS2 = a[Å/fs²]; kinetic energy: 0.5 m v² / ACCEL_TO_A_PER_FS2 = eV
ACCEL_TO_A_PER_FS2: float = _ase.fs**2
# hbar in eV·fs
HBAR_EV_FS: float = _ase._hbar / _ase._e * 1e15
# speed of light in cm/fs, for cm^-1 conversions
C_CM_PER_FS: float = _ase._c * 100 * 1e-15

ENERGY_UNITS: dict[str, float] = {
    "eV": 1.0,
    "meV": MEV,
    "kcal/mol": KCAL_PER_MOL,
    "kJ/mol": KJ_PER_MOL,
    "Hartree": HARTREE,
    "Ha": HARTREE,
}
LENGTH_UNITS: dict[str, float] = {
    "Å": 1.0,
    "Angstrom": 1.0,
    "A": 1.0,
    "Bohr": BOHR,
    "bohr": BOHR,
    "nm": NM,
    "pm": PM,
}
DIPOLE_UNITS: dict[str, float] = {
    "e·Å": 1.0,
    "eA": 1.0,
    "Debye": DEBYE,
    "D": DEBYE,
    "e·bohr": E_BOHR,
    "au": E_BOHR,
}
POLARIZABILITY_UNITS: dict[str, float] = {"Å^3": 1.0, "A^3": 1.0, "bohr^3": BOHR3, "au": BOHR3}


def factor(table: dict[str, float], unit: str, quantity: str) -> float:
    """Return the factor that converts ``unit`` to equimol's internal unit for ``quantity``."""
    try:
        return table[unit]
    except KeyError:
        raise ValueError(f"unknown {quantity} unit {unit!r}; known: {', '.join(sorted(table))}") from None


# Unit names: the one table. Physical quantities ("length", "charge", ...) and the keys of
# :mod:`equimol.keys` that carry a unit (spelled out: equimol.keys imports this module).
UNITS: dict[str, str] = {
    # quantities
    "length": "Å",
    "energy": "eV",
    "forces": "eV/Å",
    "charge": "e",
    "dipole": "e·Å",
    "polarizability": "Å^3",
    "mass": "amu",
    "time": "fs",
    "temperature": "K",
    # batch keys besides energy, forces, dipole and polarizability above
    "positions": "Å",
    "cell": "Å",
    "dipole_magnitude": "e·Å",
    "spatial_extent": "Å^2",
    "partial_charges": "e",
}


def unit_table(*names: str) -> dict[str, str]:
    """A new dict ``{name: UNITS[name]}`` in the order given, e.g. the units of a file's entries."""
    return {name: UNITS[name] for name in names}


# units recorded in model checkpoints (equimol.potential) and MD restart files (equimol.md)
CHECKPOINT_UNITS: dict[str, str] = unit_table(
    "length", "energy", "forces", "charge", "dipole", "polarizability"
)
MD_UNITS: dict[str, str] = unit_table("length", "energy", "mass", "time", "temperature")
