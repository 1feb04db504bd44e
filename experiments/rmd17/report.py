"""Print the results table of a trained rMD17 checkpoint (validation from its metadata,
held-out test from an `equimol evaluate --json` file).

    python experiments/rmd17/report.py experiments/rmd17/painn_ethanol.pt experiments/rmd17/painn_ethanol_heldout.json
"""

import json
import sys

from equimol.train.checkpoint import read_checkpoint

ckpt, heldout = sys.argv[1], sys.argv[2]
meta = read_checkpoint(ckpt)["metadata"]
val = meta["val_metrics"]
test = json.load(open(heldout))
t = test["metrics"]
print("| set | frames | energy MAE (meV) | forces MAE (meV/Å) | energy RMSE (meV) | forces RMSE (meV/Å) |")
print("|---|---|---|---|---|---|")
print(
    f"| validation (split 01) | {meta['statistics']['n_val']} | {1000 * val['energy']['mae']:.2f} | "
    f"{1000 * val['forces']['mae']:.2f} | {1000 * val['energy']['rmse']:.2f} | {1000 * val['forces']['rmse']:.2f} |"
)
print(
    f"| held-out (split 02 \\ 01) | {test['n_structures']} | {1000 * t['energy']['mae']:.2f} | "
    f"{1000 * t['forces']['mae']:.2f} | {1000 * t['energy']['rmse']:.2f} | {1000 * t['forces']['rmse']:.2f} |"
)
print()
print(
    f"Best epoch {meta['epoch']}, training wall time to that epoch {meta['wall_time_s'] / 60:.1f} min "
    f"(n_train {meta['statistics']['n_train']})."
)
