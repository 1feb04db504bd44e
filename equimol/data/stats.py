"""Dataset statistics used to normalise models: atom reference energies and force scale."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from equimol import keys as K


def fit_atom_references(structures: Iterable[dict[str, np.ndarray]], max_z: int = 119) -> np.ndarray:
    """Per-element energies e_Z (eV) minimising Σ_m (E_m − Σ_i e_{Z_i})² (least squares).

    Elements absent from the data get 0. With a single composition (e.g. one molecule in
    MD), the system is underdetermined; the minimum-norm solution is returned, which is
    equivalent to a mean energy per atom split evenly by composition.
    """
    counts, energies = [], []
    for s in structures:
        counts.append(np.bincount(s[K.ATOMIC_NUMBERS], minlength=max_z))
        energies.append(float(s[K.ENERGY]))
    a = np.asarray(counts, dtype=np.float64)
    present = a.sum(0) > 0
    coef, *_ = np.linalg.lstsq(a[:, present], np.asarray(energies), rcond=None)
    refs = np.zeros(max_z)
    refs[present] = coef
    return refs


def mean_energy_per_atom(structures: Iterable[dict[str, np.ndarray]]) -> float:
    e, n = 0.0, 0
    for s in structures:
        e += float(s[K.ENERGY])
        n += len(s[K.ATOMIC_NUMBERS])
    return e / max(n, 1)


def force_rms(structures: Iterable[dict[str, np.ndarray]]) -> float:
    """Root mean square of force components (eV/Å), the natural scale of atomic energies."""
    sq, n = 0.0, 0
    for s in structures:
        f = np.asarray(s[K.FORCES])
        sq += float((f**2).sum())
        n += f.size
    return float(np.sqrt(sq / max(n, 1)))


def residual_energy_std(structures: list[dict[str, np.ndarray]], refs: np.ndarray) -> float:
    """Standard deviation (eV) of energies after subtracting atom references, per atom."""
    r = [
        (float(s[K.ENERGY]) - refs[s[K.ATOMIC_NUMBERS]].sum()) / len(s[K.ATOMIC_NUMBERS]) for s in structures
    ]
    return float(np.std(r)) if len(r) > 1 else 1.0


class AtomReferenceFit:
    """Least-squares per-element references from accumulated normal equations, in one pass.

    For rows c_m (element counts of structure m) and values y_m, accumulates AᵀA = Σ c cᵀ and
    Aᵀb = Σ c y (b shifted by n_m·μ₀, μ₀ = y/n of the first structure, for precision) and
    solves for the minimum-norm e_Z minimising Σ_m (y_m − c_m·e)², the same solution as
    :func:`fit_atom_references`. Also accumulates what the per-atom residual spread needs.
    Memory: a few (max_z × max_z) float64 matrices, independent of the number of structures.
    """

    def __init__(self, max_z: int = 119):
        self.max_z = max_z
        self.n = 0
        self.shift: float | None = None
        self.ata = np.zeros((max_z, max_z))
        self.atb = np.zeros(max_z)
        # residual r_m = (y'_m − c_m·e')/n_m needs Σ u uᵀ, Σ u y, Σ u, Σ y, Σ y² with u = c/n, y = y'/n
        self.uu = np.zeros((max_z, max_z))
        self.uy = np.zeros(max_z)
        self.u = np.zeros(max_z)
        self.y = 0.0
        self.yy = 0.0

    def add(self, atomic_numbers: np.ndarray, value: float) -> None:
        c = np.bincount(np.asarray(atomic_numbers), minlength=self.max_z).astype(np.float64)
        n = c.sum()
        if self.shift is None:
            self.shift = float(value) / n
        b = float(value) - n * self.shift
        nz = np.nonzero(c)[0]
        cz = c[nz]
        self.ata[np.ix_(nz, nz)] += np.outer(cz, cz)
        self.atb[nz] += cz * b
        self.uu[np.ix_(nz, nz)] += np.outer(cz, cz) / n**2
        self.uy[nz] += cz * b / n**2
        self.u[nz] += cz / n
        self.y += b / n
        self.yy += (b / n) ** 2
        self.n += 1

    def _solve_shifted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        present = np.diag(self.ata) > 0
        m = self.ata[np.ix_(present, present)]
        lam, v = np.linalg.eigh(m)
        keep = lam > lam.max() * 1e-10 if lam.size else lam > 0
        vr = v[:, keep]
        e_shifted = np.zeros(self.max_z)
        e_shifted[present] = vr @ ((vr.T @ self.atb[present]) / lam[keep])
        ones_in_range = np.zeros(self.max_z)
        ones_in_range[present] = vr @ (vr.T @ np.ones(present.sum()))
        return e_shifted, ones_in_range, present

    def solve(self) -> np.ndarray:
        """e_Z (max_z,), 0 for absent elements: the minimum-norm least-squares solution."""
        if self.n == 0:
            return np.zeros(self.max_z)
        e_shifted, ones_in_range, _ = self._solve_shifted()
        # unshifted solution: e = e' + μ₀ P 1 (P = projector on the row space of A)
        return e_shifted + (self.shift or 0.0) * ones_in_range

    def residual_std_per_atom(self) -> float:
        """Standard deviation of (y_m − c_m·e)/n_m; 1.0 with fewer than two structures."""
        if self.n < 2:
            return 1.0
        e, _, _ = self._solve_shifted()
        s1 = self.y - e @ self.u
        s2 = self.yy - 2 * e @ self.uy + e @ self.uu @ e
        var = s2 / self.n - (s1 / self.n) ** 2
        return float(np.sqrt(max(var, 0.0)))


class StreamingStatistics:
    """Normalisation statistics in one pass over structures, memory independent of their number.

    ``update(s)`` for each structure, then ``result()``: atom_refs (eV, by Z),
    energy_std_per_atom (eV), force_rms (eV/Å), and with ``polarizability=True``
    polarizability_refs (Å³, isotropic, by Z) and polarizability_scale (Å³), the same
    quantities the in-memory functions of this module compute.
    """

    def __init__(self, polarizability: bool = False, max_z: int = 119):
        self.energy = AtomReferenceFit(max_z)
        self.polarizability = AtomReferenceFit(max_z) if polarizability else None
        self.force_sq, self.force_n = 0.0, 0
        # Σ‖α − I s‖²/n with s = c·p expands into Σ‖α‖²/n, Σ tr(α) c/n, Σ c cᵀ/n
        self._aa = 0.0
        self._tc = np.zeros(max_z)
        self._cc = np.zeros((max_z, max_z))
        self.n_structures = 0

    def update(self, s: dict[str, np.ndarray]) -> None:
        z = np.asarray(s[K.ATOMIC_NUMBERS])
        if K.ENERGY in s:
            self.energy.add(z, float(s[K.ENERGY]))
        if K.FORCES in s:
            f = np.asarray(s[K.FORCES], dtype=np.float64)
            self.force_sq += float((f**2).sum())
            self.force_n += f.size
        if self.polarizability is not None and K.POLARIZABILITY in s:
            alpha = np.asarray(s[K.POLARIZABILITY], dtype=np.float64).reshape(3, 3)
            self.polarizability.add(z, float(np.trace(alpha)) / 3)
            c = np.bincount(z, minlength=len(self._tc)).astype(np.float64)
            n = c.sum()
            self._aa += float((alpha**2).sum()) / n
            self._tc += np.trace(alpha) * c / n
            self._cc += np.outer(c, c) / n
        self.n_structures += 1

    def result(self) -> dict:
        out: dict = {}
        if self.energy.n:
            refs = self.energy.solve()
            out["atom_refs"] = {int(z): float(refs[z]) for z in np.nonzero(refs)[0]}
            out["energy_std_per_atom"] = self.energy.residual_std_per_atom()
        if self.force_n:
            out["force_rms"] = float(np.sqrt(self.force_sq / self.force_n))
        if self.polarizability is not None and self.polarizability.n:
            p = self.polarizability.solve()
            out["polarizability_refs"] = {int(z): float(p[z]) for z in np.nonzero(p)[0]}
            total = self._aa - 2 * p @ self._tc + 3 * p @ self._cc @ p
            out["polarizability_scale"] = float(np.sqrt(max(total, 0.0) / (9 * self.polarizability.n))) or 1.0
        return out
