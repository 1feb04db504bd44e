"""Peak memory and time of energy + forces vs system size, fused vs plain messages (issue #22).

    OMP_NUM_THREADS=1 python benchmarks/memory_scan.py            # -> benchmarks/results/memory.{json,md}

One fresh process per point (:mod:`equimol.benchmark.memory`: peak RSS above the level before
the first call, water droplets at liquid density, float32, one thread). ``fused`` is the
default in eval mode (PaiNN ``fused_message``, So3krates ``fused_messages``); ``plain`` the
tensor-op formulation, measured up to 3 000 atoms (10 000 would need ≈ 12 GiB for PaiNN).
Times are from a machine that may be shared: the memory column is the robust one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from equimol.benchmark.timing import cpu_model

HERE = Path(__file__).resolve().parent
CASES = [
    ("painn", "fused", {}, (100, 1000, 3000, 10000, 20000)),
    ("painn", "plain", {"fused_message": "never"}, (100, 1000, 3000)),
    ("so3krates", "fused", {}, (100, 1000, 3000, 10000, 20000)),
    ("so3krates", "plain", {"fused_messages": "never"}, (100, 1000, 3000)),
]


def main() -> None:
    import argparse

    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    rows = []
    for model, variant, options, sizes in CASES:
        for n in sizes:
            repeats = "3" if n <= 3000 else "1"
            cmd = [sys.executable, "-m", "equimol.benchmark.memory", "--model", model, "--atoms", str(n)]
            cmd += ["--threads", "1", "--repeats", repeats, "--warmup", "1", "--options", json.dumps(options)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            r["variant"] = variant
            rows.append(r)
            print(
                f"{model:10s} {variant:6s} {n:6d} atoms {r['peak_mib']:8.0f} MiB {r['median_s']:8.3f} s",
                flush=True,
            )
    meta = {"cpu": cpu_model(), "command": "OMP_NUM_THREADS=1 python benchmarks/memory_scan.py"}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "memory.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    lines = [
        "# Memory and time of energy + forces: fused vs plain messages",
        "",
        f"`{meta['command']}` on {meta['cpu']}, float32, one thread. Peak MiB: resident memory above the",
        "level before the first call (model, batch and neighbour list excluded). Times: median of 3 calls",
        "(1 above 3 000 atoms) after 1 warm-up, machine possibly shared.",
        "",
        "| model | messages | atoms | edges | peak MiB | kB / edge | MiB / 1000 atoms | E+F s | µs / edge |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['atoms']} | {r['edges']} | {r['peak_mib']:.0f} | "
            f"{r['peak_mib'] * 1048.576 / r['edges']:.1f} | {1000 * r['peak_mib'] / r['atoms']:.0f} | "
            f"{r['median_s']:.3f} | {1e6 * r['median_s'] / r['edges']:.1f} |"
        )
    (HERE / "results" / "memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
