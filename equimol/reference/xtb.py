"""GFN-xTB reference calculations through tblite's Python API.

tblite works in atomic units (bohr, Hartree, e·bohr, fields in Hartree/(e·bohr)); every
function here takes and returns equimol's internal units (Å, eV, eV/Å, e·Å, Å³, V/Å) and
converts once, at this boundary, with the factors of :mod:`equimol.units`.

tblite is imported lazily so that worker processes can pin their thread count
(``OMP_NUM_THREADS``) before its OpenMP runtime starts.

References: GFN2-xTB, C. Bannwarth, S. Ehlert, S. Grimme, JCTC 15, 1652 (2019).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from equimol import keys, units

METHODS: dict[str, str] = {"gfn2-xtb": "GFN2-xTB", "gfn1-xtb": "GFN1-xTB", "ipea1-xtb": "IPEA1-xTB"}
PROPERTIES: tuple[str, ...] = (keys.ENERGY, keys.FORCES, keys.DIPOLE, keys.POLARIZABILITY)
FIELD_AU: float = units.HARTREE / units.BOHR  # 1 Hartree/(e·bohr) in V/Å (≈ 51.42)
DEFAULT_FIELD_STEP: float = 0.05  # V/Å, ≈ 1e-3 atomic units
GEOMETRY_KEYS: tuple[str, ...] = (keys.POSITIONS, keys.ATOMIC_NUMBERS, keys.CELL, keys.PBC)
FD_ACCURACY: float = 0.01  # tblite SCC accuracy used for finite differences (tighter = smaller)


class XTBError(RuntimeError):
    """A tblite calculation failed: SCF not converged, atoms too close, bad charge/spin."""


@dataclass(frozen=True)
class XTBSettings:
    """Settings of one tblite calculation.

    ``charge`` in e; ``multiplicity`` = 2S + 1 (tblite's ``uhf`` = multiplicity - 1);
    ``accuracy`` is tblite's SCC accuracy factor (smaller is tighter);
    ``electronic_temperature_k`` is the Fermi smearing temperature in K.
    """

    method: str = "gfn2-xtb"
    charge: float = 0.0
    multiplicity: int = 1
    accuracy: float = 1.0
    max_iter: int = 250
    electronic_temperature_k: float = 300.0

    def __post_init__(self) -> None:
        if self.method.lower() not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; known: {', '.join(METHODS)}")
        if int(self.multiplicity) != self.multiplicity or self.multiplicity < 1:
            raise ValueError(f"multiplicity must be an integer >= 1, got {self.multiplicity}")
        if self.accuracy <= 0 or self.max_iter < 1 or self.electronic_temperature_k < 0:
            raise ValueError("accuracy must be > 0, max_iter >= 1, electronic_temperature_k >= 0")

    @property
    def uhf(self) -> int:
        """Number of unpaired electrons."""
        return int(self.multiplicity) - 1


DEFAULT_SETTINGS = XTBSettings()  # frozen, so safe as a shared default argument


def _check_input(atomic_numbers: np.ndarray, positions: np.ndarray, settings: XTBSettings) -> None:
    """Reject inputs tblite would silently compute nonsense for."""
    if positions.shape != (len(atomic_numbers), 3):
        raise XTBError(f"positions shape {positions.shape} does not match {len(atomic_numbers)} atoms")
    if not np.all(np.isfinite(positions)):
        raise XTBError("positions contain NaN or inf")
    n_electrons = float(np.sum(atomic_numbers)) - settings.charge
    if n_electrons != round(n_electrons):
        raise XTBError(f"non-integer electron count {n_electrons} (charge {settings.charge})")
    if n_electrons < settings.uhf or n_electrons < 0:
        raise XTBError(
            f"charge {settings.charge} leaves {n_electrons:g} electrons, "
            f"incompatible with multiplicity {settings.multiplicity}"
        )
    if (int(round(n_electrons)) - settings.uhf) % 2:
        raise XTBError(
            f"{int(round(n_electrons))} electrons (charge {settings.charge:g}) are not compatible "
            f"with multiplicity {settings.multiplicity}"
        )


def _calculator(
    atomic_numbers: np.ndarray,
    positions: np.ndarray,
    settings: XTBSettings,
    field: np.ndarray | None = None,
    accuracy: float | None = None,
) -> Any:
    """A silent ``tblite.interface.Calculator``; ``positions`` in Å, ``field`` in V/Å."""
    from tblite import library
    from tblite.interface import Calculator as TBCalculator

    try:
        calc = TBCalculator(
            METHODS[settings.method.lower()],
            np.asarray(atomic_numbers, dtype=np.int32),
            np.asarray(positions, dtype=np.float64) / units.BOHR,
            charge=float(settings.charge),
            uhf=settings.uhf,
            color=False,
            logger=lambda message: None,
        )
    except RuntimeError as error:  # e.g. "Too close interatomic distances found"
        raise XTBError(str(error)) from error
    calc.set("verbosity", 0)
    calc.set("accuracy", settings.accuracy if accuracy is None else accuracy)
    calc.set("max-iter", settings.max_iter)
    calc.set("temperature", settings.electronic_temperature_k * units.KB_EV_PER_K / units.HARTREE)
    if field is not None:
        # tblite's binding hands the argument straight to C (double[3]); a NumPy array is not
        # accepted, so copy it into a cffi-owned buffer that lives as long as the call.
        field_au = library.ffi.new("double[3]", [float(x) / FIELD_AU for x in field])
        calc.add("electric-field", field_au)
    return calc


@functools.lru_cache(maxsize=1)
def _openmp_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _run(calc: Any, restart: Any = None) -> Any:
    """Single point, translating tblite errors into :class:`XTBError`.

    tblite runs with one OpenMP thread inside this call only (threadpoolctl restores the
    previous setting afterwards): for molecules of tens of atoms more threads do not help,
    and on a loaded machine OpenMP spin-waiting made a 2 ms single point take over 1 s.
    """
    try:
        with _openmp_controller().limit(limits=1, user_api="openmp"):
            return calc.singlepoint(restart, copy=True) if restart is not None else calc.singlepoint()
    except RuntimeError as error:  # TBLiteRuntimeError derives from RuntimeError
        raise XTBError(str(error)) from error


def _finite(name: str, value: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(value)):
        raise XTBError(f"non-finite {name} returned by tblite")
    return value


def single_point(
    positions: np.ndarray,
    atomic_numbers: np.ndarray,
    settings: XTBSettings = DEFAULT_SETTINGS,
    properties: Sequence[str] = PROPERTIES,
    field_step: float = DEFAULT_FIELD_STEP,
) -> dict[str, np.ndarray]:
    """One xTB single point.

    Args:
        positions: (n, 3) Å.  atomic_numbers: (n,).
        properties: any of ``energy``, ``forces``, ``dipole``, ``polarizability``.
        field_step: finite-field step in V/Å for the polarizability.

    Returns:
        ``energy`` () eV, ``forces`` (n, 3) eV/Å, ``dipole`` (3,) e·Å (about the coordinate
        origin, so origin dependent for ions), ``polarizability`` (3, 3) Å³ — only those asked for.

    Raises:
        XTBError: the calculation failed or the charge/multiplicity is impossible.
    """
    unknown = set(properties) - set(PROPERTIES)
    if unknown:
        raise ValueError(f"unknown properties {sorted(unknown)}; known: {', '.join(PROPERTIES)}")
    numbers = np.asarray(atomic_numbers, dtype=np.int64)
    pos = np.asarray(positions, dtype=np.float64)
    _check_input(numbers, pos, settings)
    want_alpha = keys.POLARIZABILITY in properties
    accuracy = min(settings.accuracy, FD_ACCURACY) if want_alpha else None
    result = _run(_calculator(numbers, pos, settings, accuracy=accuracy))
    out: dict[str, np.ndarray] = {}
    if keys.ENERGY in properties:
        out[keys.ENERGY] = np.asarray(_finite("energy", result.get("energy")) * units.HARTREE)
    if keys.FORCES in properties:
        gradient = _finite("gradient", np.asarray(result.get("gradient")))
        out[keys.FORCES] = -gradient * (units.HARTREE / units.BOHR)
    if keys.DIPOLE in properties:
        out[keys.DIPOLE] = _finite("dipole", np.asarray(result.get("dipole"))) * units.E_BOHR
    if want_alpha:
        out[keys.POLARIZABILITY] = polarizability(pos, numbers, settings, field_step, restart=result)
    return out


def polarizability(
    positions: np.ndarray,
    atomic_numbers: np.ndarray,
    settings: XTBSettings = DEFAULT_SETTINGS,
    field_step: float = DEFAULT_FIELD_STEP,
    restart: Any = None,
    symmetrize: bool = True,
) -> np.ndarray:
    """Static dipole polarizability α_ij = ∂μ_i/∂F_j (3, 3) in Å³, central finite field.

    Six SCFs in fields ±``field_step`` (V/Å) along x, y, z, restarted from ``restart``
    (a zero-field tblite result) when given, with SCC accuracy tightened to ``FD_ACCURACY``.
    The result is symmetrised unless ``symmetrize`` is False. α is the polarizability volume
    α/(4πε₀): bohr³ in atomic units, converted to Å³.
    """
    if field_step <= 0:
        raise ValueError(f"field_step must be > 0 V/Å, got {field_step}")
    numbers = np.asarray(atomic_numbers, dtype=np.int64)
    pos = np.asarray(positions, dtype=np.float64)
    _check_input(numbers, pos, settings)
    accuracy = min(settings.accuracy, FD_ACCURACY)
    dmu_df = np.zeros((3, 3))  # e·bohr per atomic field unit = bohr³
    step_au = field_step / FIELD_AU
    for j in range(3):
        dipoles = []
        for sign in (1.0, -1.0):
            field = np.zeros(3)
            field[j] = sign * field_step
            result = _run(_calculator(numbers, pos, settings, field, accuracy), restart)
            dipoles.append(_finite("dipole", np.asarray(result.get("dipole"))))
        dmu_df[:, j] = (dipoles[0] - dipoles[1]) / (2.0 * step_au)
    alpha = 0.5 * (dmu_df + dmu_df.T) if symmetrize else dmu_df
    return alpha * units.BOHR3


def hessian(
    positions: np.ndarray,
    atomic_numbers: np.ndarray,
    settings: XTBSettings = DEFAULT_SETTINGS,
    step: float = 0.005,
) -> np.ndarray:
    """Cartesian Hessian ∂²E/∂x_i∂x_j (3n, 3n) in eV/Å² by central differences of forces.

    ``step`` is the displacement in Å; 6n gradient evaluations, each restarted from the
    reference wavefunction. The result is symmetrised. Row/column order is atom-major
    (x0, y0, z0, x1, ...).
    """
    numbers = np.asarray(atomic_numbers, dtype=np.int64)
    pos = np.asarray(positions, dtype=np.float64)
    _check_input(numbers, pos, settings)
    calc = _calculator(numbers, pos, settings, accuracy=min(settings.accuracy, FD_ACCURACY))
    reference = _run(calc)
    n = len(numbers)
    h = np.zeros((3 * n, 3 * n))
    for k in range(3 * n):
        gradients = []
        for sign in (1.0, -1.0):
            displaced = pos.copy()
            displaced[k // 3, k % 3] += sign * step
            calc.update(positions=displaced / units.BOHR)
            gradients.append(np.asarray(_run(calc, reference).get("gradient")).reshape(-1))
        h[k] = (gradients[0] - gradients[1]) / (2.0 * step)
    h *= units.HARTREE / units.BOHR
    return _finite("Hessian", 0.5 * (h + h.T))


def label_structure(
    structure: dict[str, np.ndarray],
    settings: XTBSettings = DEFAULT_SETTINGS,
    properties: Sequence[str] = PROPERTIES,
    field_step: float = DEFAULT_FIELD_STEP,
) -> dict[str, np.ndarray]:
    """The geometry of ``structure`` with the requested xTB labels and ``total_charge`` (e).

    Labels already in ``structure`` are dropped, so no foreign label is mixed with xTB ones.
    Units as in :func:`single_point`. Periodic structures are rejected (molecules only).
    """
    if keys.PBC in structure and np.any(structure[keys.PBC]):
        raise XTBError("periodic structures are not supported; label molecules")
    results = single_point(
        structure[keys.POSITIONS], structure[keys.ATOMIC_NUMBERS], settings, properties, field_step
    )
    geometry = {k: v for k, v in structure.items() if k in GEOMETRY_KEYS}
    return {**geometry, **results, keys.TOTAL_CHARGE: np.asarray(float(settings.charge))}


class XTBCalculator(Calculator):
    """ASE calculator (energy eV, forces eV/Å, dipole e·Å) for MD and relaxations.

    Keeps one tblite calculator and restarts each SCF from the previous wavefunction, which
    roughly halves the cost of consecutive MD steps.
    """

    implemented_properties = ["energy", "forces", "dipole"]

    def __init__(self, settings: XTBSettings = DEFAULT_SETTINGS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self._tb: Any = None
        self._numbers: np.ndarray | None = None
        self._restart: Any = None

    def calculate(
        self,
        atoms: Any = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        numbers = self.atoms.get_atomic_numbers()
        positions = self.atoms.get_positions()
        _check_input(numbers, positions, self.settings)
        if self._tb is None or self._numbers is None or not np.array_equal(numbers, self._numbers):
            self._tb = _calculator(numbers, positions, self.settings)
            self._numbers, self._restart = numbers.copy(), None
        else:
            self._tb.update(positions=positions / units.BOHR)
        try:
            result = _run(self._tb, self._restart)
        except XTBError:
            if self._restart is None:
                raise
            result = _run(self._tb)  # a stale wavefunction can stall the SCF: start fresh
        self._restart = result
        self.results = {
            "energy": float(result.get("energy")) * units.HARTREE,
            "forces": -np.asarray(result.get("gradient")) * (units.HARTREE / units.BOHR),
            "dipole": np.asarray(result.get("dipole")) * units.E_BOHR,
        }
