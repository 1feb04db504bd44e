"""Committee disagreement of the last active-learning round along its own ML-RPMD runs (issue #19).

    OMP_NUM_THREADS=1 python experiments/spectra/active_learning/disagreement.py   # ≈ 3 min -> disagreement.json

The committee of the last finished round (``runs/spectra_active_learning/round_K/committee``)
evaluated on the 500 held-out test frames (``prepare.py``) and on every bead of 200 evenly spaced
frames after the first ps of each ML-RPMD run of that round's model (``rpmd16.py``, any bead
count and seed) and of the GFN2-xTB RPMD runs (``xtb_rpmd.py``): mean, 95th percentile and
maximum of the largest per-atom force standard deviation (eV/Å), as ``run.py`` reports them for
the spectra committee (``experiments/spectra/committee/disagreement.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
RUNS = ROOT / "runs"
MAX_FRAMES, DISCARD_FS = 200, 1000.0


def main() -> int:
    from equimol.data.formats import read_structures
    from equimol.workflows.demo_committee import (
        disagreement_stats,
        structures_disagreement,
        trajectory_structures,
    )

    done = sorted(
        (RUNS / "spectra_active_learning").glob("round_*/committee/committee.json"),
        key=lambda p: int(p.parts[-3].split("_")[1]),
    )
    if not done:
        raise SystemExit("no finished active-learning round: run equimol active-learn first")
    committee = done[-1]
    round_name = committee.parts[-3]
    test_path = RUNS / "spectra_active_learning" / "test.extxyz"
    if not test_path.exists():
        raise SystemExit(f"{test_path} missing: run experiments/spectra/active_learning/prepare.py")
    result: dict = {"committee": str(committee.relative_to(ROOT)), "unit": "eV/Å", "max_frames": MAX_FRAMES}
    result["test"] = disagreement_stats(structures_disagreement(committee, read_structures(test_path)))
    base = result["test"]["p95"]
    trajectories = {
        p.stem: p for p in sorted((RUNS / "spectra_active_learning").glob(f"md_rpmd*_al_{round_name}*.h5"))
    }
    trajectories.update({p.stem: p for p in sorted((RUNS / "spectra_ethanol").glob("md_xtb_rpmd16*.h5"))})
    for name, path in trajectories.items():
        structures = trajectory_structures(path, MAX_FRAMES, DISCARD_FS)
        stats = disagreement_stats(structures_disagreement(committee, structures))
        stats["p95_over_test_p95"] = round(stats["p95"] / base, 2) if base > 0 else None
        result[name] = stats
        print(name, stats)
    (HERE / "disagreement.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["test"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
