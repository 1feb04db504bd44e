"""equimol active-learn CONFIG [--set key=value ...] [--rounds K]

Query-by-committee active learning: train a committee, run ML-MD/RPMD with it, label the frames
where its members disagree most with GFN2-xTB, retrain; for ``rounds`` rounds or until the
force disagreement stays below ``threshold``. Resumable: rerun the same command to continue.
The config format is in :mod:`equimol.active_learning`."""

from __future__ import annotations

import json


def add_arguments(p) -> None:
    import argparse

    from equimol import active_learning

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    doc = active_learning.__doc__ or ""
    p.epilog = doc[doc.index("Config (YAML") :] if "Config (YAML" in doc else None
    p.add_argument("config", help="active-learning YAML config (see below)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config entry, e.g. --set rounds=8 --set md.beads=16",
    )
    p.add_argument("--rounds", type=int, help="override rounds (raise it to continue a finished loop)")
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from equimol.active_learning import ActiveLearning, load_al_config

    overrides = list(args.set) + ([f"rounds={args.rounds}"] if args.rounds else [])
    cfg = load_al_config(args.config, overrides)
    cfg.progress = not args.no_progress
    summary = ActiveLearning(cfg, log=lambda msg: print(f"[active-learn] {msg}", flush=True)).run()
    print(json.dumps(summary, indent=1))
    return 0
