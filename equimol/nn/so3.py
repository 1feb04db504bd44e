"""SO(3) helpers on concatenated irreps: real spherical harmonics and Clebsch–Gordan products.

A *degree layout* is a sorted tuple of degrees, e.g. ``(1, 2, 3)``. A tensor in that layout has
a last axis of length m_tot = Σ_l (2l+1): the blocks of degree l one after the other, each in
e3nn's real basis (e3nn ≥ 0.5: the l = 1 block is (x, y, z) up to a factor; the Cartesian map
is not assumed but measured, see :func:`l1_to_cartesian`). Under a rotation R every block
transforms with the Wigner matrix ``e3nn.o3.Irrep(l, (-1)**l).D_from_matrix(R)``.

All constants are computed in float64 at construction and stored as non-persistent buffers;
they are cast to the input dtype at use, so ``model.double()`` and ``p.data = p.data.double()``
both work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from e3nn import o3
from torch import nn


def degree_dims(degrees: Sequence[int]) -> list[int]:
    return [2 * l + 1 for l in degrees]


def m_total(degrees: Sequence[int]) -> int:
    return sum(degree_dims(degrees))


def irreps(degrees: Sequence[int]) -> o3.Irreps:
    """e3nn irreps of one SPHC vector: one copy of each degree with its natural parity (−1)^l."""
    return o3.Irreps([(1, (l, (-1) ** l)) for l in degrees])


_SH_MODULES: dict[tuple[tuple[int, ...], str], nn.Module] = {}


def spherical_harmonics(
    degrees: Sequence[int],
    vectors: torch.Tensor,
    *,
    normalization: Literal["norm", "component", "integral"] = "norm",
) -> torch.Tensor:
    """Y^(l)(r̂) for l in ``degrees``, concatenated: (E, 3) → (E, m_tot), dimensionless.

    ``vectors`` need not be normalised (must be ≠ 0): r̂ = r/|r| (e3nn's ``normalize=True``).
    ``normalization`` as in ``o3.spherical_harmonics``: 'norm' (default, So3krates) gives every
    block unit Euclidean norm, ‖Y^(l)(r̂)‖ = 1, so SPHC blocks of different degree live on a
    common scale; 'component' gives ‖Y^(l)(r̂)‖² = 2l+1, i.e. Y^(0) = 1 (tensor field networks).
    Same values as ``o3.spherical_harmonics``, in its component order; its module (no
    parameters or buffers) is built once per degree layout and normalisation instead of on
    every call.
    """
    key = (tuple(int(l) for l in degrees), normalization)
    module = _SH_MODULES.get(key)
    if module is None:
        module = _SH_MODULES[key] = o3.SphericalHarmonics(
            list(key[0]), normalize=True, normalization=normalization
        )
    return module(vectors)


def l1_to_cartesian() -> torch.Tensor:
    """(3, 3) matrix M with Cartesian (x, y, z) = M @ Y^(1) for 'norm'-normalised harmonics.

    Measured from e3nn (Y^(1)(e_k) for the unit vectors e_x, e_y, e_z) rather than assumed, so
    that the conversion stays right whatever component order e3nn uses for l = 1 (older
    releases ordered it (y, z, x)).
    """
    eye = torch.eye(3, dtype=torch.float64)
    # Y^(1)(r̂) = A r̂ with columns A[:, k] = Y^(1)(e_k); A is orthogonal ('norm'), so r̂ = Aᵀ Y.
    rows = o3.spherical_harmonics(1, eye, normalize=True, normalization="norm")  # rows: Y^(1)(e_k)
    return rows.clone()  # = Aᵀ


class DegreeOps(nn.Module):
    """Per-degree reductions and broadcasts on the concatenated layout (no loops at run time).

    ``sq_norms(x)``: (..., m_tot) → (..., |L|), Σ_m x_m² per degree (rotation invariant).
    ``expand(c)``: (..., |L|) → (..., m_tot), repeat a per-degree scalar over its 2l+1 components.
    """

    def __init__(self, degrees: Sequence[int]):
        super().__init__()
        self.degrees = tuple(int(l) for l in degrees)
        dims = degree_dims(self.degrees)
        index = torch.cat([torch.full((d,), k, dtype=torch.long) for k, d in enumerate(dims)])
        member = torch.zeros(len(index), len(self.degrees), dtype=torch.float64)
        member[torch.arange(len(index)), index] = 1.0
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("member", member, persistent=False)

    def sq_norms(self, x: torch.Tensor) -> torch.Tensor:
        return (x * x) @ self.member.to(x.dtype)

    def expand(self, c: torch.Tensor) -> torch.Tensor:
        return c.index_select(-1, self.index)


COUPLING_RULES = ("paper", "symmetric")


def coupling_paths(
    degrees: Sequence[int], parity: bool = True, rule: str = "paper"
) -> list[tuple[int, int, int]]:
    """Clebsch–Gordan paths (l1, l2, l), all three in ``degrees``, |l1 − l2| ≤ l ≤ l1 + l2.

    ``rule``:

    * ``"paper"`` (So3krates Eq. 19): l2 ≥ l1 + 1, i.e. only products of two *different* degrees
      (the upper triangle of the (l1, l2) table without its diagonal).
    * ``"symmetric"``: l1 ≤ l2, i.e. also the self-products (l, l, l') with l' even (those with
      l' odd vanish identically: the CG product of a vector with itself is antisymmetric in
      them). equimol's earlier default, kept to rebuild models trained with it.

    With ``parity`` only l1 + l2 + l even: products of the polar tensors Y^(l) that stay polar,
    so the model is also invariant under reflections (E(3) instead of SE(3)); the authors'
    reference implementation applies the same filter by default.
    """
    if rule not in COUPLING_RULES:
        raise ValueError(f"coupling rule must be one of {COUPLING_RULES}, got {rule!r}")
    degs = sorted(set(degrees))
    paths = []
    for a, l1 in enumerate(degs):
        for l2 in degs[a:]:
            if rule == "paper" and l2 < l1 + 1:
                continue
            for l in degs:
                if not abs(l1 - l2) <= l <= l1 + l2:
                    continue
                if parity and (l1 + l2 + l) % 2:
                    continue
                if l1 == l2 and l % 2 == 1:
                    continue
                paths.append((l1, l2, l))
    return paths


class CoupledProduct(nn.Module):
    """Cross-degree coupled SPHCs, So3krates Eq. 19:

        χ̃^(l) = Σ_{(l1,l2,l)} k_{l1 l2 l} (χ^(l1) ⊗ χ^(l2))^(l),
        (a ⊗ b)^(l)_m = Σ_{m1 m2} C^{l1 l2 l}_{m1 m2 m} a_{m1} b_{m2}

    over the paths of :func:`coupling_paths` (``rule``, ``parity``), with e3nn's real
    Clebsch–Gordan (Wigner 3j) tensors, unit Frobenius norm per path, and one learnable scalar k
    per path, initialised to zero like a residual branch: the term is quadratic in χ, and with
    k = 1 a random 6-layer network at initialisation lets ‖χ‖ grow without bound. Input and
    output (N, m_tot). The CG tensors of all paths are scattered into one
    (P, m_tot, m_tot, m_tot) buffer so that the forward pass is two matmuls.
    """

    def __init__(self, degrees: Sequence[int], parity: bool = True, rule: str = "paper"):
        super().__init__()
        self.degrees = tuple(degrees)
        self.paths = coupling_paths(degrees, parity, rule)
        m = m_total(degrees)
        start = {}
        offset = 0
        for l in self.degrees:
            start[l] = offset
            offset += 2 * l + 1
        cg = torch.zeros(len(self.paths), m, m, m, dtype=torch.float64)
        for p, (l1, l2, l) in enumerate(self.paths):
            w = o3.wigner_3j(l1, l2, l, dtype=torch.float64)
            s1, s2, s = start[l1], start[l2], start[l]
            cg[p, s1 : s1 + 2 * l1 + 1, s2 : s2 + 2 * l2 + 1, s : s + 2 * l + 1] = w
        self.register_buffer("cg", cg.reshape(len(self.paths), m * m, m), persistent=False)
        self.k = nn.Parameter(torch.zeros(len(self.paths)))

    def forward(self, chi: torch.Tensor) -> torch.Tensor:
        if not self.paths:
            return torch.zeros_like(chi)
        n, m = chi.shape
        cg = self.cg.to(chi.dtype)
        coupling = (self.k.to(chi.dtype) @ cg.reshape(len(self.paths), -1)).reshape(m * m, m)  # Σ_p k_p C_p
        outer = (chi[:, :, None] * chi[:, None, :]).reshape(n, m * m)
        return outer @ coupling
