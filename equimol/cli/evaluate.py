"""equimol evaluate CHECKPOINT DATA [--json OUT.json]"""

from __future__ import annotations

import json
from pathlib import Path

from equimol.cli.threads import add_threads_option, apply_threads


def add_arguments(p) -> None:
    p.add_argument("checkpoint", help="equimol checkpoint (.pt)")
    p.add_argument("data", help="data file: extxyz/xyz, ASE .db, rMD17 .npz or equimol .h5")
    p.add_argument("--json", dest="json_out", help="write metrics as JSON to this file")
    p.add_argument("--energy-unit", help="energy unit of the data file (default: per format)")
    p.add_argument(
        "--length-unit", default="Å", help="length unit of the positions: Å (default), bohr, nm, pm"
    )
    p.add_argument(
        "--label-key",
        action="append",
        default=[],
        metavar="LABEL=KEY",
        help="extxyz / ASE db: the file's key of a label that is not ASE's own name, e.g. "
        "--label-key energy=REF_energy --label-key forces=REF_forces (repeatable)",
    )
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    add_threads_option(p)


def run(args) -> int:
    import torch

    from equimol.io import load
    from equimol.train.evaluate import evaluate_file

    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    potential = load(args.checkpoint, dtype=dtype)
    apply_threads(args.threads, potential, None)  # batches of --batch-size structures: large calls
    from equimol.cli.options import parse_label_keys

    label_keys = parse_label_keys(args.label_key)
    result = evaluate_file(
        potential, args.data, args.energy_unit, args.batch_size, dtype, args.length_unit, label_keys or None
    )
    result["checkpoint"] = str(args.checkpoint)
    if not result["metrics"]:
        from equimol.data.formats import file_label_keys

        keys = file_label_keys(args.data)
        hint = (
            f" (the file's keys: {', '.join(keys)}; name a label's key with --label-key LABEL=KEY)"
            if keys
            else ""
        )
        raise ValueError(
            f"{args.data}: no target of the model ({', '.join(potential.outputs)}) is in the data{hint}"
        )
    for t, m in result["metrics"].items():
        line = f"{t:>18s}  MAE {m['mae']:.6g} {m['unit']}  RMSE {m['rmse']:.6g} {m['unit']}"
        if "data_unit" in m:
            d = m["data_unit"]
            line += f"   (MAE {d['mae']:.6g} {d['unit']})"
        print(line)
    print(f"{'structures':>18s}  {result['n_structures']}")
    if args.json_out:
        from equimol.io import atomic_write

        with atomic_write(Path(args.json_out)) as f:
            f.write(json.dumps(result, indent=1))
    return 0
