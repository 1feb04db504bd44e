"""Batch keys: every tensor that flows between modules is named here.

A batch is one ``dict[str, Tensor]``. N atoms, B graphs (molecules), E directed edges.
Internal units: Å, eV, e (elementary charge), amu, fs, K (see :mod:`equimol.units`).
"""

from typing import Final

from equimol.units import unit_table

# --- structure -------------------------------------------------------------------------
POSITIONS: Final = "positions"  # (N, 3) float, Å
ATOMIC_NUMBERS: Final = "atomic_numbers"  # (N,) int64
BATCH: Final = "batch"  # (N,) int64, graph index of each atom
N_ATOMS: Final = "n_atoms"  # (B,) int64, atoms per graph
CELL: Final = "cell"  # (B, 3, 3) float, Å, rows are lattice vectors
PBC: Final = "pbc"  # (B, 3) bool
TOTAL_CHARGE: Final = "total_charge"  # (B,) float, e
MASSES: Final = "masses"  # (N,) float, amu

# --- graph -----------------------------------------------------------------------------
# edge_index[0] = i (centre, receives the message), edge_index[1] = j (neighbour).
# The edge vector is r_ij = r_j - r_i + shift_ij (Å).
EDGE_INDEX: Final = "edge_index"  # (2, E) int64
EDGE_SHIFTS: Final = "edge_shifts"  # (E, 3) float, Å, cell shift added to r_j - r_i
# Optional (added by collate): edges i→j and j→i (same distance) share one unordered pair, so
# that functions symmetric in i and j (radial filters) are evaluated once per pair.
EDGE_PAIR: Final = "edge_pair"  # (E,) int64, index of each edge's pair
PAIR_EDGE: Final = "pair_edge"  # (P,) int64, one edge of each pair

# --- features (produced by representations) ------------------------------------------
SCALAR_FEATURES: Final = "scalar_features"  # (N, F)
VECTOR_FEATURES: Final = "vector_features"  # (N, 3, F)

# --- per-atom outputs ------------------------------------------------------------------
ATOMIC_ENERGIES: Final = "atomic_energies"  # (N,) eV
PARTIAL_CHARGES: Final = "partial_charges"  # (N,) e
ATOMIC_DIPOLES: Final = "atomic_dipoles"  # (N, 3) e·Å

# --- targets / predictions -------------------------------------------------------------
ENERGY: Final = "energy"  # (B,) eV
FORCES: Final = "forces"  # (N, 3) eV/Å
STRESS: Final = "stress"  # (B, 3, 3) eV/Å³, (1/V) ∂E/∂ε (ASE's sign); zero without a cell
VIRIAL: Final = "virial"  # (B, 3, 3) eV, −∂E/∂ε (i-PI's virial)
DIPOLE: Final = "dipole"  # (B, 3) e·Å
DIPOLE_MAGNITUDE: Final = "dipole_magnitude"  # (B,) e·Å internally (reported in Debye)
POLARIZABILITY: Final = "polarizability"  # (B, 3, 3) Å^3
SPATIAL_EXTENT: Final = "spatial_extent"  # (B,) Å^2, electronic spatial extent <R^2>
TENSOR: Final = "tensor"  # (B, 3, ..., 3) symmetric rank-R tensor, units of the target
HESSIAN: Final = "hessian"  # (3N, 3N) eV/Å^2, one molecule

# --- committee uncertainty (equimol.committee): standard deviation over the members ----------
ENERGY_STD: Final = "energy_std"  # (B,) eV
FORCES_STD: Final = "forces_std"  # (N, 3) eV/Å, per Cartesian component
DIPOLE_STD: Final = "dipole_std"  # (B, 3) e·Å
POLARIZABILITY_STD: Final = "polarizability_std"  # (B, 3, 3) Å^3
# max_i sqrt(Σ_α σ²_iα): the largest per-atom force disagreement of each structure (DeePMD's
# max_devi_f), the number MD watches and active learning selects by
FORCE_DISAGREEMENT: Final = "force_disagreement"  # (B,) eV/Å

GRAPH_TARGETS: Final = (ENERGY, DIPOLE, DIPOLE_MAGNITUDE, POLARIZABILITY, SPATIAL_EXTENT, TENSOR)
ATOM_TARGETS: Final = (FORCES, PARTIAL_CHARGES)
# unit of each target, from the one table :data:`equimol.units.UNITS`
TARGET_UNITS: Final = unit_table(
    ENERGY, FORCES, DIPOLE, DIPOLE_MAGNITUDE, POLARIZABILITY, SPATIAL_EXTENT, PARTIAL_CHARGES
)
