import numpy as np
import torch

import equimol
from equimol import keys as K
from equimol.md.model_forces import ModelForceFn
from equimol.testing import make_batch


def test_batched_force_fn_matches_direct_evaluation(ethanol):
    model = equimol.build_model("painn", n_features=16, heads=("energy", "dipole", "polarizability"))
    for p in model.parameters():
        p.data = p.data.double()
    rng = np.random.default_rng(0)
    frames = [ethanol[K.POSITIONS] + 0.05 * rng.standard_normal((9, 3)) for _ in range(5)]
    fn = ModelForceFn(model.eval(), ethanol[K.ATOMIC_NUMBERS], skin=0.5, dtype=torch.float64)
    out = fn(torch.as_tensor(np.stack(frames)))
    ref = model(make_batch([{**ethanol, K.POSITIONS: f} for f in frames], model.cutoff))
    torch.testing.assert_close(out["energy"], ref[K.ENERGY])
    torch.testing.assert_close(out["forces"], ref[K.FORCES].reshape(5, 9, 3))
    torch.testing.assert_close(out["dipole"], ref[K.DIPOLE])
    torch.testing.assert_close(out["polarizability"], ref[K.POLARIZABILITY])


def test_neighbor_list_reused_within_skin(ethanol):
    model = equimol.build_model("painn", n_features=8).eval()
    fn = ModelForceFn(model, ethanol[K.ATOMIC_NUMBERS], skin=0.4)
    x = torch.as_tensor(ethanol[K.POSITIONS])[None]
    fn(x)
    fn(x + 0.1)  # moved 0.1 Å < skin/2: reuse
    assert fn.n_builds == 1
    fn(x + 0.3)
    assert fn.n_builds == 2
