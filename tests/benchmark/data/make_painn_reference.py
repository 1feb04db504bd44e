"""Snapshot current PaiNN outputs (pre-optimisation) for regression tests."""
import numpy as np, torch, equimol
from equimol import keys as K
from equimol.data.batch import collate
from equimol.data.neighbors import add_neighbors
from ase.build import molecule

def seeded_state(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, val in sorted(model.state_dict().items()):
        if not val.is_floating_point() or key.startswith("heads.0.") and val.ndim == 0 or "atom_refs" in key:
            sd[key] = val; continue
        w = torch.randn(val.shape, generator=g, dtype=torch.float64)
        if val.ndim == 2 and not key.endswith("embedding.weight"):
            w = 1.0 * w / val.shape[1] ** 0.5
        elif val.ndim == 1:
            w = 0.1 * w
        sd[key] = w.to(val.dtype)
    return sd

rng = np.random.default_rng(7)
structs = []
for name in ("H2O", "CH3CH2OH", "C6H6", "CH3COOH"):
    a = molecule(name)
    structs.append({K.ATOMIC_NUMBERS: a.numbers.astype(np.int64), K.POSITIONS: a.positions + 0.1 * rng.standard_normal(a.positions.shape)})
side = 4; grid = np.stack(np.meshgrid(*[np.arange(side)]*3, indexing="ij"), -1).reshape(-1,3)[:40]
structs.append({K.ATOMIC_NUMBERS: rng.choice([1,6,7,8], size=40).astype(np.int64), K.POSITIONS: 1.6*(grid + 0.15*rng.standard_normal(grid.shape))})
variants = {"full": {}, "no_scalar_product": {"scalar_product": False}, "no_vector_propagation": {"vector_propagation": False}, "no_vectors": {"vectors": False}}
out = {}
for k, s in enumerate(structs):
    out[f"z_{k}"] = s[K.ATOMIC_NUMBERS]; out[f"pos_{k}"] = s[K.POSITIONS]
for vname, opts in variants.items():
    for dname, dt in (("float64", torch.float64), ("float32", torch.float32)):
        m = equimol.build_model("painn", n_features=32, n_interactions=3, **opts)
        m.load_state_dict(seeded_state(m)); m = m.to(dt).eval()
        batch = collate([add_neighbors(s, 5.0) for s in structs], dtype=dt)
        res = m(batch)
        feats = m.representation(batch)
        out[f"{vname}/{dname}/energy"] = res[K.ENERGY].numpy()
        out[f"{vname}/{dname}/forces"] = res[K.FORCES].numpy()
        out[f"{vname}/{dname}/scalar"] = feats[K.SCALAR_FEATURES].detach().numpy()
        if K.VECTOR_FEATURES in feats:
            out[f"{vname}/{dname}/vector"] = feats[K.VECTOR_FEATURES].detach().numpy()
        print(vname, dname, res[K.ENERGY].numpy()[:3], float(res[K.FORCES].abs().max()), float(feats[K.SCALAR_FEATURES].abs().max()))
np.savez_compressed("tests/benchmark/data/painn_reference.npz", **out)
