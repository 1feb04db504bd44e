"""equimol train CONFIG [--set key=value ...] [--resume]

Multi-process (data-parallel) training: launch the same command with torchrun, e.g.
``torchrun --standalone --nproc_per_node 4 -m equimol.cli.main train CONFIG``;
``training.batch_size`` is the global batch, split over the processes.

``--committee N`` trains N members (seed and split seed + k) for committee uncertainty
(:mod:`equimol.train.committee`)."""

from __future__ import annotations

import json
import os
import sys

from equimol.cli.options import add_malloc_option, apply_malloc_option


def add_arguments(p) -> None:
    p.add_argument("config", help="YAML training config")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config entry, e.g. --set training.epochs=10 --set model.name=schnet",
    )
    p.add_argument("--resume", action="store_true", help="continue exactly from OUTPUT_DIR/last.pt")
    p.add_argument("--output-dir", help="override output_dir")
    p.add_argument(
        "--committee",
        type=int,
        metavar="N",
        help="train N models differing in seed and split into OUTPUT_DIR/member_k and write "
        "OUTPUT_DIR/committee.json (uncertainty from their disagreement); rerun to continue",
    )
    p.add_argument("--threads", type=int, help="torch CPU threads for this run")
    add_malloc_option(p)


def run(args) -> int:
    import torch

    from equimol.train.config import load_config
    from equimol.train.loop import train

    overrides = list(args.set) + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    cfg = load_config(args.config, overrides)
    apply_malloc_option(args)
    threads = args.threads or cfg.training.num_threads
    if threads:
        torch.set_num_threads(threads)  # requested explicitly by the user for this process

    def log(msg: str) -> None:  # progress notes on stderr: stdout holds only the JSON summary
        print(msg, file=sys.stderr, flush=True)

    if args.committee:
        from equimol.train.committee import train_committee

        result = train_committee(cfg, args.committee, log=log)
    else:
        result = train(cfg, resume=args.resume, log=log)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 reports
        print(json.dumps(result, indent=1))
    return 0
