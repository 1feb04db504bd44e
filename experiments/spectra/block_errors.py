"""How precise are 10-ps band centroids? Block statistics of the 16-bead RPMD spectra (issue #19).

    OMP_NUM_THREADS=1 python experiments/spectra/block_errors.py      # ≈ 1 min -> block_errors.json

The production part (1–10 ps) of each 16-bead RPMD trajectory (GFN2-xTB, the spectra model, the
model after active learning) is cut into three 3-ps blocks; each block gives IR and Raman spectra
with the protocol of ``run.py`` (1 000 fs correlation depth, Hann window) and band centroids
(``equimol.workflows.compare.band_centroids``). Per band: the block mean, its standard error
(block standard deviation / sqrt(3)) and the difference of each model from xTB with the combined
standard error. The trajectories are those of ``run.py`` and ``active_learning/rpmd16.py`` in
``runs/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FILES = {
    "GFN2-xTB RPMD": ROOT / "runs/spectra_ethanol/md_xtb_rpmd16.h5",
    "PaiNN RPMD (spectra model)": ROOT / "runs/spectra_ethanol/md_rpmd16.h5",
    "PaiNN RPMD (after active learning)": ROOT / "runs/spectra_active_learning/md_rpmd16_al_round_1.h5",
}
BLOCKS_FS = ((1000.0, 4000.0), (4000.0, 7000.0), (7000.0, 10000.5))


def block_centroids(path: Path) -> dict[str, list[float]]:
    from equimol.spectra.trajectory import load_trajectory, spectra_from_trajectory
    from equimol.workflows.compare import band_centroids

    data = load_trajectory(path)
    t = np.asarray(data["time_fs"])
    out: dict[str, list[float]] = {}
    for lo, hi in BLOCKS_FS:
        keep = (t >= lo) & (t < hi)
        block = {
            k: np.asarray(v)[keep] if isinstance(v, np.ndarray) and v.ndim > 0 and len(v) == len(t) else v
            for k, v in data.items()
        }
        sp = spectra_from_trajectory(
            block, power=False, depth_fs=1000.0, discard_fs=0.0, temperature_k=300.0, unpolarized=True
        )
        for kind, s in (("IR", sp["ir"]), ("Raman", sp["raman"])):
            for band, c in band_centroids(s).items():
                out.setdefault(f"{kind} {band}", []).append(float(c))
    return out


def main() -> int:
    blocks = {name: block_centroids(path) for name, path in FILES.items() if path.exists()}
    ref_name = "GFN2-xTB RPMD"
    result: dict = {"blocks_fs": BLOCKS_FS, "trajectories": {}, "differences_from_xtb": {}}
    for name, bands in blocks.items():
        result["trajectories"][name] = {
            b: {
                "blocks": [round(x, 1) for x in v],
                "mean": round(float(np.mean(v)), 1),
                "stderr": round(float(np.std(v, ddof=1) / np.sqrt(len(v))), 1),
            }
            for b, v in bands.items()
        }
    ref = result["trajectories"][ref_name]
    for name, bands in result["trajectories"].items():
        if name == ref_name:
            continue
        result["differences_from_xtb"][name] = {
            b: {
                "difference": round(v["mean"] - ref[b]["mean"], 1),
                "stderr": round(float(np.hypot(v["stderr"], ref[b]["stderr"])), 1),
            }
            for b, v in bands.items()
        }
    (HERE / "block_errors.json").write_text(json.dumps(result, indent=1) + "\n")
    print("| band | " + " | ".join(f"{n}: mean ± s.e." for n in result["trajectories"]) + " |")
    print("|---|" + "---:|" * len(result["trajectories"]))
    for b in ref:
        cells = [f"{t[b]['mean']:.0f} ± {t[b]['stderr']:.0f}" for t in result["trajectories"].values()]
        print(f"| {b} | " + " | ".join(cells) + " |")
    for name, d in result["differences_from_xtb"].items():
        print(name, "minus xTB:", {b: f"{v['difference']:+.0f} ± {v['stderr']:.0f}" for b, v in d.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
