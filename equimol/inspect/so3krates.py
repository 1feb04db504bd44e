"""Inspect So3krates: attention coefficients and SPHCs per layer (paper Figs. 3 and 8).

``inspect_so3krates(potential, batch)`` runs the representation once and returns, per layer,
the cutoff-weighted attention coefficients on the local edges and the SPHCs after the layer;
``plot_sphc_pca`` projects SPHCs to 2D (PCA) on a matplotlib ``Figure`` (no pyplot state).
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from equimol import keys as K
from equimol.errors import ConfigError


def inspect_so3krates(
    potential: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> dict[int, dict[str, torch.Tensor]]:
    """{layer t: {...}} for a So3krates potential (or bare representation) on ``batch``.

    Per layer: ``attention`` (E, heads) feature attention α_ij (Eq. 15, times φ_rcut) on the
    edges ``edge_index`` (2, E); ``sphc_attention`` (E, |L|) one head per degree (Eq. 13);
    ``sphc_in`` / ``sphc`` (N, m_tot) SPHCs before / after the layer; ``features`` (N, F); with
    non-local corrections also, for the P atom pairs inside the SPHC neighbourhood (φ_χcut > 0),
    ``nonlocal_index`` (2, P), ``nonlocal_weight`` (P,) (φ_χcut),
    ``nonlocal_sphc_attention`` (P, |L|), and with ``non_local_features`` (not the paper's:
    Eq. 14 corrects the SPHCs only) ``nonlocal_attention`` (P, heads). Tensors are detached.
    """
    rep = getattr(potential, "representation", potential)
    if not hasattr(rep, "init_sphc"):
        raise ConfigError(f"inspect_so3krates: {type(rep).__name__} is not a So3krates representation")
    with torch.no_grad():
        _, records = rep(batch, return_intermediates=True)
    out = {}
    for t, rec in enumerate(records):
        layer = {k: v.detach() for k, v in rec.items()}
        layer["edge_index"] = batch[K.EDGE_INDEX]
        out[t] = layer
    return out


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection of rows of ``x`` (N, D) on their first two principal axes, and the explained
    variance ratios (2,)."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    proj = centred @ vt[:2].T
    if proj.shape[1] < 2:
        proj = np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))
    var = s**2
    ratio = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    return proj, np.pad(ratio, (0, 2 - len(ratio)))


def plot_sphc_pca(
    sphc: torch.Tensor | np.ndarray,
    labels: np.ndarray | torch.Tensor | None = None,
    title: str = "SPHC PCA",
    figsize: tuple[float, float] = (4.0, 4.0),
) -> Figure:
    """Scatter of the 2D PCA projection of SPHCs (N, m_tot), coloured by ``labels`` (e.g. atomic
    numbers). Returns a new ``matplotlib.figure.Figure``; save it with ``fig.savefig(path)``."""
    x = sphc.detach().cpu().numpy() if isinstance(sphc, torch.Tensor) else np.asarray(sphc)
    proj, ratio = pca_2d(x)
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    if labels is None:
        ax.scatter(proj[:, 0], proj[:, 1], s=12)
    else:
        lab = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
        for value in np.unique(lab):
            sel = lab == value
            ax.scatter(proj[sel, 0], proj[sel, 1], s=12, label=str(value))
        ax.legend(title="label", fontsize="small")
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f}%)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f}%)")
    ax.set_title(title)
    fig.tight_layout()
    return fig
