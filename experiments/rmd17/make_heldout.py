"""Write the held-out rMD17 test set: frames of split 02 that are not in split 01.

    python experiments/rmd17/make_heldout.py ethanol runs/rmd17_ethanol_heldout.npz

Matching is on ``old_indices`` (frame index in the original MD17), as ../shared/data/README.md says.
"""

import argparse
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "rmd17"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("molecule")
    p.add_argument("output")
    p.add_argument("--shared", default=str(SHARED))
    a = p.parse_args()
    s1 = np.load(f"{a.shared}/rmd17_{a.molecule}_train_01.npz")
    s2 = np.load(f"{a.shared}/rmd17_{a.molecule}_train_02.npz")
    keep = ~np.isin(s2["old_indices"], s1["old_indices"])
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        a.output,
        nuclear_charges=s2["nuclear_charges"],
        coords=s2["coords"][keep],
        energies=s2["energies"][keep],
        forces=s2["forces"][keep],
        old_indices=s2["old_indices"][keep],
    )
    print(f"{keep.sum()} held-out frames -> {a.output}")


if __name__ == "__main__":
    main()
