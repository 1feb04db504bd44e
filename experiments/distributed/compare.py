"""One process vs torchrun data-parallel training on the same global batches.

    OMP_NUM_THREADS=1 python experiments/distributed/compare.py --nproc 2 --dtype float32 float64

Converts rMD17 ethanol to an HDF5 store with precomputed neighbour lists (streamed), trains
the config with 1 process and with ``torchrun --standalone --nproc_per_node NPROC``, then
prints a markdown table: largest parameter difference after the last epoch, validation MAEs
of the last epoch, and wall times. Outputs go to runs/distributed/ (git-ignored).
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from equimol.data.streaming import convert
from equimol.train.checkpoint import read_checkpoint

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONFIG = HERE / "painn_ethanol_ddp.yaml"
STORE = ROOT / "data_generated" / "distributed" / "ethanol_01.h5"
RMD17 = ROOT.parent / "shared" / "data" / "rmd17" / "rmd17_ethanol_train_01.npz"


def run(nproc: int, dtype: str, out: Path) -> float:
    cli = [
        "-m",
        "equimol.cli.main",
        "train",
        str(CONFIG),
        "--output-dir",
        str(out),
        "--set",
        f"training.dtype={dtype}",
    ]
    cmd = (
        [sys.executable, *cli]
        if nproc == 1
        else [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            *cli,
        ]
    )
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def last_row(run_dir: Path) -> dict:
    with (run_dir / "log.csv").open() as f:
        return list(csv.DictReader(f))[-1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    args = p.parse_args()
    STORE.parent.mkdir(parents=True, exist_ok=True)
    if not STORE.exists():
        convert(RMD17, STORE, neighbor_cutoff=5.0)
    print(
        "| dtype | processes | command wall time (s) | training time in log (s) | val energy MAE (meV) | "
        "val forces MAE (meV/Å) | max abs parameter difference to 1 process |"
    )
    print("|---|---|---|---|---|---|---|")
    for dtype in args.dtype:
        ref = None
        for nproc in (1, args.nproc):
            out = ROOT / "runs" / "distributed" / f"{dtype}_np{nproc}"
            shutil.rmtree(out, ignore_errors=True)
            wall = run(nproc, dtype, out)
            model = read_checkpoint(out / "last.pt")["model"]
            ref = ref or model
            diff = max(float((model[k].double() - ref[k].double()).abs().max()) for k in ref)
            row = last_row(out)
            print(
                f"| {dtype} | {nproc} | {wall:.0f} | {float(row['time_s']):.1f} | "
                f"{1000 * float(row['val_energy_mae']):.3f} | "
                f"{1000 * float(row['val_forces_mae']):.3f} | {diff:.1e} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
