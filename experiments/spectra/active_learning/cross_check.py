"""Did the new frames or the extra training lower the disagreement? Each round's committee on each
round's trajectory (issue #19).

    OMP_NUM_THREADS=1 python experiments/spectra/active_learning/cross_check.py    # ≈ 5 min -> cross_check.json

The loop's own statistics compare round k's committee on round k's trajectory; successive rounds
differ in trajectory (seed, start) as well as in committee. Here every committee of
``runs/spectra_active_learning`` (round 0: the spectra committee) is evaluated on the bead
geometries of every round's trajectory (every 4th frame, all 64 beads), so each column compares
committees on the same geometries. Also on the spectra model's 500 held-out test frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from equimol.workflows.demo_committee import (
    disagreement_stats,
    structures_disagreement,
    trajectory_structures,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
RUNS = ROOT / "runs" / "spectra_active_learning"


def main() -> int:
    from equimol import keys as K
    from equimol.data.formats import read_structures

    history = json.loads((RUNS / "history.json").read_text())
    rounds = [h["round"] for h in history]
    committees = {0: ROOT / "runs" / "spectra_ethanol" / "committee" / "committee.json"}
    committees.update({k: RUNS / f"round_{k}" / "committee" / "committee.json" for k in rounds if k > 0})
    geometries = {
        f"round {k} trajectory": trajectory_structures(RUNS / f"round_{k}" / "md.h5", 51, 0.0) for k in rounds
    }
    reference = read_structures(ROOT / "runs" / "spectra_ethanol" / "reference.extxyz")
    split = json.loads((ROOT / "runs" / "spectra_ethanol" / "model" / "split.json").read_text())
    geometries["500 test frames"] = [
        {K.ATOMIC_NUMBERS: reference[i][K.ATOMIC_NUMBERS], K.POSITIONS: reference[i][K.POSITIONS]}
        for i in split["test"]
    ]
    table = {}
    for k, path in committees.items():
        if not path.exists():
            continue
        row = {}
        for name, structures in geometries.items():
            values = structures_disagreement(path, structures)
            row[name] = {**disagreement_stats(values), "median": round(float(np.median(values)), 4)}
        table[f"round {k} committee"] = row
    (HERE / "cross_check.json").write_text(json.dumps(table, indent=1) + "\n")
    names = list(geometries)
    print("| committee | " + " | ".join(f"{n}: median / p95 / max" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for c, row in table.items():
        cells = [f"{row[n]['median']:.3f} / {row[n]['p95']:.3f} / {row[n]['max']:.2f}" for n in names]
        print(f"| {c} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
