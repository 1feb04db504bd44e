"""Replay a training run from a saved state and find where its loss spikes (the cumulene diagnosis
of docs/equations.md, "Training guard").

    python experiments/so3krates/replay_divergence.py RUN_DIR [--checkpoint best.pt] [--epochs 1]
        [--factor 10] [--set training.lr=3e-4 ...]

RUN_DIR is an ``equimol train`` output folder (config.json, split.json and a checkpoint with its
training state; ``best.pt`` holds one). The state is copied to a scratch folder (removed at the
end; RUN_DIR is not touched) and trained on, exactly as ``--resume`` would, for ``--epochs``
epochs. Every step's loss and gradient norm is checked; at the first loss above ``--factor``
times the running mean of the steps before, the script prints the batch's worst molecule,
checks its forces against central finite differences of the energy (float64), and prints per
layer the largest SPHC norm and non-local SPHC update of that molecule (So3krates). Exit
status 1 if a spike was found.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


def molecule(batch: dict, g: int) -> dict:
    """Structure ``g`` of a collated batch as a batch of one (positions, species, edges)."""
    off = np.concatenate([[0], np.cumsum(batch["n_atoms"].numpy())])
    a0, a1 = int(off[g]), int(off[g + 1])
    ei = batch["edge_index"]
    m = (ei[0] >= a0) & (ei[0] < a1)
    return {
        "atomic_numbers": batch["atomic_numbers"][a0:a1],
        "positions": batch["positions"][a0:a1].detach().clone(),
        "edge_index": ei[:, m] - a0,
        "edge_shifts": batch["edge_shifts"][m],
        "n_atoms": batch["n_atoms"][g : g + 1],
        "batch": torch.zeros(a1 - a0, dtype=torch.long),
        "total_charge": batch["total_charge"][g : g + 1],
    }


def report_molecule(potential, mol: dict, ref_forces: torch.Tensor, h: float = 1e-5) -> None:
    pot = potential.double().eval()
    mol = {**mol, "positions": mol["positions"].double()}
    f = pot(mol, forces=True)["forces"].detach()
    err = (f - ref_forces.double()).norm(dim=1)
    a = int(err.argmax())
    fd = []
    for c in range(3):
        p = mol["positions"].clone()
        p[a, c] += h
        ep = float(pot({**mol, "positions": p})["energy"])
        p[a, c] -= 2 * h
        em = float(pot({**mol, "positions": p})["energy"])
        fd.append(-(ep - em) / (2 * h))
    print(
        f"  worst atom {a}: predicted force {f[a].numpy().round(3)}, finite differences {np.round(fd, 3)} eV/Å"
    )
    rep = pot.representation
    if not hasattr(rep, "layers") or not hasattr(rep.layers[0], "ops"):
        return
    with torch.no_grad():
        _, recs = rep(mol, return_intermediates=True)
    for i, r in enumerate(recs):
        chi = r["sphc_in"].norm(dim=1).max()
        upd = r.get("nonlocal_sphc_update")
        nl = "" if upd is None else f", max ‖Δχ non-local‖ {float(upd.norm(dim=1).max()):.3g}"
        print(f"  layer {i}: max ‖χ_in‖ {float(chi):.3g}{nl}")


def main() -> int:
    from equimol.train import loop
    from equimol.train.config import load_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--checkpoint", default="best.pt", help="the state to start from (in RUN_DIR)")
    p.add_argument("--epochs", type=int, default=1, help="epochs to replay")
    p.add_argument("--factor", type=float, default=10.0, help="a spike: loss above factor × running mean")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    a = p.parse_args()
    torch.set_num_threads(1)
    scratch = Path(tempfile.mkdtemp(prefix="equimol_replay_"))
    for name in ("config.json", "split.json"):
        shutil.copy(a.run_dir / name, scratch / name)
    shutil.copy(a.run_dir / a.checkpoint, scratch / "last.pt")
    start = torch.load(scratch / "last.pt", weights_only=True)["training"]["epoch"]
    cfg = load_config(
        scratch / "config.json", [f"output_dir={scratch}", f"training.epochs={start + a.epochs}", *a.set]
    )
    seen: dict = {}
    losses: list[float] = []
    real_loss, real_backward = loop.weighted_loss, loop.backward_to_parameters

    def weighted_loss(pred, batch, *args, **kw):
        seen["pred"], seen["batch"] = pred, batch
        return real_loss(pred, batch, *args, **kw)

    def backward(loss, params):
        params = list(params)
        real_backward(loss, params)
        value = float(loss.detach())
        norm = float(torch.nn.utils.get_total_norm([q.grad for q in params if q.grad is not None]))
        mean = float(np.mean(losses[-200:])) if losses else float("nan")
        if not np.isfinite(value) or (len(losses) >= 20 and value > a.factor * mean):
            print(
                f"spike at step {len(losses)} of the replay: loss {value:.4g} "
                f"(mean of the steps before {mean:.4g}), gradient norm {norm:.4g}"
            )
            batch, pred = seen["batch"], seen["pred"]
            err = (pred["forces"].detach() - batch["forces"]).norm(dim=1)
            off = np.concatenate([[0], np.cumsum(batch["n_atoms"].numpy())])
            g = int(np.searchsorted(off, int(err.argmax()), side="right") - 1)
            n = int(batch["n_atoms"][g])
            print(f"  worst structure {g} of the batch ({n} atoms), max |ΔF| {float(err.max()):.3g} eV/Å")
            mol = molecule(batch, g)
            report_molecule(seen["potential"], mol, batch["forces"][int(off[g]) : int(off[g + 1])])
            raise SystemExit(1)
        losses.append(value)

    real_build = loop._build

    def build(*args, **kw):
        seen["potential"] = real_build(*args, **kw)
        return seen["potential"]

    loop.weighted_loss, loop.backward_to_parameters, loop._build = weighted_loss, backward, build
    print(f"replaying {a.run_dir / a.checkpoint} (epoch {start}) for {a.epochs} epoch(s) in {scratch}")
    try:
        result = loop.train(cfg, resume=True, log=lambda m: print(m, file=sys.stderr))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps({"epochs": result["epochs"], "steps": len(losses), "spike": None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
