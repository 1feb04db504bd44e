"""The starting set of the ethanol active-learning loop: the spectra set without its test frames.

    OMP_NUM_THREADS=1 python experiments/spectra/active_learning/prepare.py

Reads runs/spectra_ethanol/reference.extxyz (the classical + PIMD GFN2-xTB set of
experiments/spectra/run.py) and the split of its model (runs/spectra_ethanol/model/split.json),
and writes the training + validation frames to runs/spectra_active_learning/initial.extxyz, so
the 500 test frames of the spectra model stay out of every round's data. The test frames go to
runs/spectra_active_learning/test.extxyz, for

    equimol evaluate experiments/spectra/active_learning/painn_al.pt \
        runs/spectra_active_learning/test.extxyz --json experiments/spectra/active_learning/painn_al_test.json
"""

from __future__ import annotations

import json
from pathlib import Path

from equimol.data.formats import read_structures, write_structures

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "runs" / "spectra_ethanol"
OUT = ROOT / "runs" / "spectra_active_learning" / "initial.extxyz"
TEST = OUT.with_name("test.extxyz")


def main() -> None:
    if OUT.exists() and TEST.exists():
        print(f"{OUT} and {TEST} exist")
        return
    frames = read_structures(SOURCE / "reference.extxyz")
    split = json.loads((SOURCE / "model" / "split.json").read_text())
    keep = sorted(split["train"] + split["val"])
    if set(keep) & set(split["test"]):
        raise SystemExit("test frames in the training split of runs/spectra_ethanol/model/split.json")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if not OUT.exists():
        write_structures(OUT, [frames[k] for k in keep])
        print(f"{OUT}: {len(keep)} of {len(frames)} frames (the {len(split['test'])} test frames left out)")
    write_structures(TEST, [frames[k] for k in sorted(split["test"])])
    print(f"{TEST}: the {len(split['test'])} test frames")


if __name__ == "__main__":
    main()
