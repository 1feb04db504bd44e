"""Layers of the tensor field networks L0Net / L1Net (Miller, Geiger, Smidt, Noé 2020).

Features are e3nn irreps tensors (N, irreps.dim). With ``parity=False`` (the paper, which
used e3nn's parity-free representations) every irrep is labelled even ("1e", "2e"), which
makes the networks SO(3)- but not reflection-equivariant and keeps every Clebsch–Gordan path
|l_f − l_i| ≤ l_o ≤ l_f + l_i, including the cross product 1 ⊗ 1 → 1.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import nn

from equimol.nn import so3
from equimol.nn.numerics import zero_tiny
from equimol.nn.radial_tfn import RadialModel
from equimol.nn.scatter import scatter_sum
from equimol.nn.so3 import l1_to_cartesian  # noqa: F401 (re-exported for equimol.models.tfn)


def irrep(l: int, parity: bool) -> o3.Irrep:
    """Degree l with its natural parity (−1)^l when ``parity``, else labelled even (SO(3) only)."""
    return o3.Irrep(l, (-1) ** l if parity else 1)


def hidden_irreps(multiplicities: list[int], parity: bool) -> o3.Irreps:
    """``multiplicities[l]`` channels of degree l, e.g. [64, 21] → 64x0e + 21x1e (zeros dropped)."""
    return o3.Irreps([(mul, irrep(l, parity)) for l, mul in enumerate(multiplicities) if mul > 0])


def sh_irreps(l_max: int, parity: bool) -> o3.Irreps:
    return o3.Irreps([(1, irrep(l, parity)) for l in range(l_max + 1)])


def spherical_harmonics(l_max: int, vectors: torch.Tensor) -> torch.Tensor:
    """Y^l(r̂), l = 0..l_max, 'component' normalised (Y^0 = 1): (E, 3) → (E, (l_max + 1)²).

    :func:`equimol.nn.so3.spherical_harmonics` with ``normalization="component"``.
    """
    return so3.spherical_harmonics(range(l_max + 1), vectors, normalization="component")


def match_buffer_dtype(module: nn.Module, dtype: torch.dtype) -> None:
    """Cast the floating buffers of ``module`` (e3nn's Clebsch–Gordan tables, masks) to ``dtype``.

    equimol casts a model by ``p.data = p.data.to(dtype)`` on its parameters only (float64
    energy references must stay float64), which leaves e3nn's constants behind. e3nn computes its
    Wigner 3j tables (buffers ``_w3j_{l1}_{l2}_{l3}``) in the default dtype, float32; they are
    recomputed here in float64, so that a float64 model is equivariant to float64 precision.
    """
    for m in module.modules():
        for name, b in m._buffers.items():
            if b is None or not b.is_floating_point():
                continue
            # recomputed even at the same dtype, since model.double() casts the float32 values
            if name.startswith("_w3j_"):
                l1, l2, l3 = (int(x) for x in name[len("_w3j_") :].split("_"))
                m._buffers[name] = o3.wigner_3j(l1, l2, l3, dtype=torch.float64, device=b.device).to(dtype)
            elif b.dtype != dtype:
                m._buffers[name] = b.to(dtype)


class FlushTiny(nn.Module):
    """``act(x)`` with outputs below ε² zeroed (:func:`equimol.nn.numerics.zero_tiny`): Softplus
    and Sigmoid of strongly negative inputs would otherwise feed subnormal floats into the
    tensor products, which made an L0Net training step 4x slower."""

    def __init__(self, act: nn.Module):
        super().__init__()
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return zero_tiny(self.act(x))


class GatedBlock(nn.Module):
    """Gated nonlinearity (e3nn ``Gate``): Softplus(β·) on the l = 0 channels, and every l > 0
    channel multiplied by Sigmoid of its own extra scalar gate (Miller et al. Sec. 2, Fig. 1).

    ``irreps_in`` (what the preceding convolution must produce) = scalars + gates + gated.
    """

    def __init__(self, irreps_out: o3.Irreps, beta: float):
        super().__init__()
        scalars = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l == 0])
        gated = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l > 0])
        gates = o3.Irreps([(gated.num_irreps, "0e")]) if gated.num_irreps else o3.Irreps("")
        self.gate = Gate(
            scalars,
            [FlushTiny(nn.Softplus(beta=beta))],
            gates,
            [FlushTiny(nn.Sigmoid())] if gated else [],
            gated,
        )
        self.irreps_in = self.gate.irreps_in
        self.irreps_out = self.gate.irreps_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(x)


class TFNConvolution(nn.Module):
    """Point convolution, Miller et al. Eq. 3 (Thomas et al. 2018):

        h'_i = (1/√n̄) [ Σ_{j ∈ N(i)} Σ_{paths} R_{path}(r_ij) (Y(r̂_ij) ⊗_CG h_j)  +  W_self h_i ]

    The tensor product is e3nn's ``FullyConnectedTensorProduct`` (every path l_i ⊗ l_f → l_o
    allowed by the Clebsch–Gordan selection rules, all channel pairs u → w), with one weight
    per (path, u, w) produced per edge by the radial model: R: r (Å) → (E, weight_numel).
    e3nn's 'component' irrep normalisation and 'element' path normalisation divide each output
    by the square root of its number of inputs (channels × paths), as the paper's Kernel did.

    Normalisation over neighbours (supplement Eq. 13): the sum over j is divided by √n̄ with n̄ a
    fixed constant (``avg_num_neighbors``), the paper's ``features.div(avg_n_atoms ** 0.5)``. It
    is not the per-atom neighbour count: that count jumps when an atom crosses r_cut, which would
    make the energy discontinuous.

    W_self (e3nn ``Linear``, l → l) stands in for the j = i term of the paper's code, which
    convolves over all atoms including i itself at r = 0, where Y^{l>0} = 0 and the radial
    weights are a learned constant: a self-interaction that keeps each degree.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_out: o3.Irreps,
        radial: dict,
        avg_num_neighbors: float,
        self_connection: bool = True,
    ):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.tp = o3.FullyConnectedTensorProduct(
            self.irreps_in, irreps_sh, self.irreps_out, shared_weights=False, internal_weights=False
        )
        self.radial = RadialModel(n_out=self.tp.weight_numel, **radial)
        self.self_connection = o3.Linear(self.irreps_in, self.irreps_out) if self_connection else None
        self.norm = 1.0 / math.sqrt(avg_num_neighbors)

    def forward(
        self, h: torch.Tensor, sh: torch.Tensor, r: torch.Tensor, i: torch.Tensor, j: torch.Tensor
    ) -> torch.Tensor:
        """h (N, irreps_in.dim), sh (E, (l_max+1)²), r (E,) Å, edges i ← j → (N, irreps_out.dim)."""
        messages = self.tp(h[j], sh, self.radial(r))
        out = scatter_sum(messages, i, h.shape[0])
        if self.self_connection is not None:
            out = out + self.self_connection(h)
        return out * self.norm


class TFNLayer(nn.Module):
    """Convolution followed by the gated block: irreps_in → irreps_out (Miller et al. Fig. 1)."""

    def __init__(
        self,
        irreps_in,
        irreps_sh,
        irreps_out,
        radial: dict,
        avg_num_neighbors: float,
        beta: float,
        self_connection: bool = True,
    ):
        super().__init__()
        self.gate = GatedBlock(o3.Irreps(irreps_out), beta)
        self.conv = TFNConvolution(
            irreps_in, irreps_sh, self.gate.irreps_in, radial, avg_num_neighbors, self_connection
        )
        self.irreps_in, self.irreps_out = self.conv.irreps_in, self.gate.irreps_out

    def forward(self, h, sh, r, i, j):
        return self.gate(self.conv(h, sh, r, i, j))
