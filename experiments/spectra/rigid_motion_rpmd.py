"""Kinetic temperatures of the centroid of 16-bead PaiNN RPMD of ethanol with the start's rigid
motion kept, only the centre of mass removed, or both removed (session 13, docs/equations.md).

    OMP_NUM_THREADS=1 python experiments/spectra/rigid_motion_rpmd.py keep   # ≈ 10 min each, one core
    OMP_NUM_THREADS=1 python experiments/spectra/rigid_motion_rpmd.py com
    OMP_NUM_THREADS=1 python experiments/spectra/rigid_motion_rpmd.py both

The model after active learning (``active_learning/painn_al.pt``), the xTB minimum, ring-polymer
NHC (chain 3, τ = 100 fs), 0.5 fs, 300 K, 4 replicas, 8 000 steps (4 ps), frames every 4 steps;
the first ps discarded. Prints the per-replica temperatures of the centroid's translation,
rotation and vibrations (``equimol.spectra.trajectory.trajectory_temperatures``)
and writes them to ``runs/spectra_rigid_motion/<mode>.json`` beside the trajectory.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "runs" / "spectra_rigid_motion"
MODES = {"keep": (False, False), "com": (True, False), "both": (True, True)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("--steps", type=int, default=8000)
    a = p.parse_args(argv)

    from equimol import keys as K
    from equimol.data.formats import read_structures
    from equimol.io import load
    from equimol.md.config import MDConfig
    from equimol.md.model_forces import ModelForceFn
    from equimol.md.simulate import run_simulation
    from equimol.spectra.trajectory import trajectory_temperatures

    remove_com, remove_rotation = MODES[a.mode]
    s = read_structures(HERE / "ethanol_xtb_min.xyz")[0]
    cfg = MDConfig(
        dt_fs=0.5,
        n_steps=a.steps,
        temperature_k=300.0,
        thermostat="nhc",
        tau_fs=100.0,
        chain_length=3,
        n_beads=16,
        n_replicas=4,
        stride=4,
        seed=0,
        progress=False,
        remove_com=remove_com,
        remove_rotation=remove_rotation,
    )
    OUT.mkdir(parents=True, exist_ok=True)
    traj = OUT / f"{a.mode}.h5"
    fn = ModelForceFn(load(HERE / "active_learning" / "painn_al.pt"), s[K.ATOMIC_NUMBERS])
    run_simulation(fn, s[K.ATOMIC_NUMBERS], s[K.POSITIONS], config=cfg, output=traj, overwrite=True)
    temps = trajectory_temperatures(traj, discard_fs=1000.0)
    out = {
        "mode": a.mode,
        "steps": a.steps,
        **{k: [round(float(t), 1) for t in val] for k, val in temps.items()},
    }
    (OUT / f"{a.mode}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
