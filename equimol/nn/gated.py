"""Gated equivariant blocks (PaiNN Fig. 3; Schütt, Unke, Gastegger, ICML 2021).

A block maps scalar features s (N, F_in) and vector features v (N, 3, F_in) to scalars
(N, F_out) and vectors (N, 3, F_out). Vectors are only mixed linearly across channels and
scaled by invariant gates, so rotations commute with the block; scalars only see vector
norms, so they stay invariant. Two blocks in a row are PaiNN's output network for
tensorial properties (dipoles, polarizabilities).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from equimol.nn.mlp import mlp

# Added under the square root of ‖W₂ v‖² so the norm has finite (second) derivatives at v = 0.
NORM_EPS = 1e-8


class GatedEquivariantBlock(nn.Module):
    """PaiNN Fig. 3: s' = a_s, v' = a_v ∘ (W₁ v) with [a_s, a_v] = MLP([s, ‖W₂ v‖]).

    Parameters
    ----------
    n_in: input channels F_in (scalars, and vectors unless ``n_vector_in`` is given).
    n_hidden: width of the hidden layer of the gating MLP.
    n_out: output channels F_out (scalars and vectors alike).
    activation_on_scalars: apply SiLU to the scalar output (True for every block except the last).
    n_vector_in: input vector channels where they differ from the scalars' (e.g. L1Net: u₁).
    """

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        activation_on_scalars: bool = True,
        n_vector_in: int | None = None,
    ):
        super().__init__()
        self.n_out = n_out
        # W₁ and W₂ in one bias-free linear map; a bias would break equivariance.
        self.mix = nn.Linear(n_vector_in or n_in, 2 * n_out, bias=False)
        self.gate = mlp([n_in + n_out, n_hidden, 2 * n_out])
        self.activation = nn.SiLU() if activation_on_scalars else nn.Identity()

    def forward(self, s: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """s (N, F_in), v (N, 3, F_in) → s' (N, F_out), v' (N, 3, F_out)."""
        w1v, w2v = torch.split(self.mix(v), self.n_out, dim=-1)
        norm = torch.sqrt((w2v**2).sum(dim=1) + NORM_EPS)
        a_s, a_v = torch.split(self.gate(torch.cat([s, norm], dim=-1)), self.n_out, dim=-1)
        return self.activation(a_s), a_v[:, None, :] * w1v


class GatedOutputNetwork(nn.Module):
    """A stack of gated equivariant blocks F → F_hidden → … → n_out (PaiNN's output network).

    The last block has no activation on its scalars, so they can take any sign (charges).
    """

    def __init__(self, sizes: list[int], n_vector_in: int | None = None):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"a gated output network needs at least two sizes, got {sizes}")
        self.blocks = nn.ModuleList(
            GatedEquivariantBlock(
                n_in,
                n_in,
                n_out,
                activation_on_scalars=k < len(sizes) - 2,
                n_vector_in=n_vector_in if k == 0 else None,
            )
            for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes))
        )

    def forward(self, s: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """s (N, F), v (N, 3, F) → atomwise scalars (N, n_out) and vectors (N, 3, n_out)."""
        for block in self.blocks:
            s, v = block(s, v)
        return s, v


def gated_output_network(
    n_features: int, n_out: int = 1, n_hidden: int | None = None, n_vector_features: int | None = None
) -> GatedOutputNetwork:
    """PaiNN's two-block output network F → F/2 → n_out (atomwise scalars and vectors).

    ``n_hidden`` overrides the intermediate width F/2; ``n_vector_features`` is the number of
    input vector channels where it differs from F (L1Net).
    """
    return GatedOutputNetwork([n_features, n_hidden or max(n_features // 2, 1), n_out], n_vector_features)
