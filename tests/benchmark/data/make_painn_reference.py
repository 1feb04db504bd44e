"""Write painn_reference.npz: PaiNN outputs of the implementation *before* the speed work.

    .venv/bin/python tests/benchmark/data/make_painn_reference.py

The committed file was written with the original per-block PaiNN (separate W per message
block, ``torch.split`` + ``scatter_sum`` messages, separate U and V), before
``equimol/models/painn.py`` was optimised; ``test_painn_reference.py`` checks the current code
against it. Running this script again records the *current* implementation, so only do it to
add cases, after checking the old ones still pass.

Weights are drawn per sorted state-dict key (:func:`seeded_state`), independent of module
initialisation order; inputs are four distorted small molecules and a 40-atom cluster, in one
batch with a 5 Å cutoff; outputs are stored for float64 and float32.
"""

from pathlib import Path

import numpy as np
import torch
from ase.build import molecule

import equimol
from equimol import keys as K
from equimol.data.batch import collate
from equimol.data.neighbors import add_neighbors

VARIANTS = {
    "full": {},
    "no_scalar_product": {"scalar_product": False},
    "no_vector_propagation": {"vector_propagation": False},
    "no_vectors": {"vectors": False},
}


def seeded_state(model, seed: int = 0) -> dict:
    """Weights N(0, 1/fan_in), biases N(0, 0.01), embedding N(0, 1); head buffers unchanged."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, val in sorted(model.state_dict().items()):
        if (
            not val.is_floating_point()
            or (key.startswith("heads.0.") and val.ndim == 0)
            or "atom_refs" in key
        ):
            sd[key] = val
            continue
        w = torch.randn(val.shape, generator=g, dtype=torch.float64)
        if val.ndim == 2 and not key.endswith("embedding.weight"):
            w = 1.0 * w / val.shape[1] ** 0.5
        elif val.ndim == 1:
            w = 0.1 * w
        sd[key] = w.to(val.dtype)
    return sd


def structures() -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    out = []
    for name in ("H2O", "CH3CH2OH", "C6H6", "CH3COOH"):
        a = molecule(name)
        pos = a.positions + 0.1 * rng.standard_normal(a.positions.shape)
        out.append({K.ATOMIC_NUMBERS: a.numbers.astype(np.int64), K.POSITIONS: pos})
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3)[:40]
    out.append(
        {
            K.ATOMIC_NUMBERS: rng.choice([1, 6, 7, 8], size=40).astype(np.int64),
            K.POSITIONS: 1.6 * (grid + 0.15 * rng.standard_normal(grid.shape)),
        }
    )
    return out


def main() -> None:
    structs = structures()
    out = {}
    for k, s in enumerate(structs):
        out[f"z_{k}"], out[f"pos_{k}"] = s[K.ATOMIC_NUMBERS], s[K.POSITIONS]
    for vname, opts in VARIANTS.items():
        for dname, dt in (("float64", torch.float64), ("float32", torch.float32)):
            m = equimol.build_model("painn", n_features=32, n_interactions=3, **opts)
            m.load_state_dict(seeded_state(m))
            m = m.to(dt).eval()
            batch = collate([add_neighbors(s, 5.0) for s in structs], dtype=dt)
            res = m(batch)
            feats = m.representation(batch)
            out[f"{vname}/{dname}/energy"] = res[K.ENERGY].numpy()
            out[f"{vname}/{dname}/forces"] = res[K.FORCES].numpy()
            out[f"{vname}/{dname}/scalar"] = feats[K.SCALAR_FEATURES].detach().numpy()
            if K.VECTOR_FEATURES in feats:
                out[f"{vname}/{dname}/vector"] = feats[K.VECTOR_FEATURES].detach().numpy()
    np.savez_compressed(Path(__file__).with_name("painn_reference.npz"), **out)


if __name__ == "__main__":
    main()
