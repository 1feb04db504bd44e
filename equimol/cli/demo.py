"""equimol demo: the main job (xTB data → PaiNN → MD/RPMD → IR/Raman spectra, plots, report)."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--output-dir", default="demo_output", help="where data, model, trajectories, plots go")
    p.add_argument(
        "--full", action="store_true", help="full-quality settings (hours): F=128, 0.2 fs, 64 beads"
    )
    p.add_argument("--quick", action="store_true", help="a tiny run for smoke tests (about a minute)")
    p.add_argument("--train-minutes", type=float, help="training wall-time limit")
    p.add_argument(
        "--committee",
        type=int,
        help="models in the committee whose disagreement the report states (default 3, --quick 2; 1: none)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from equimol.workflows.demo import DemoSettings, run_demo

    kw = {"output_dir": args.output_dir, "seed": args.seed, "progress": not args.no_progress}
    if args.train_minutes is not None:
        kw["train_minutes"] = args.train_minutes
    if args.committee is not None:
        if args.committee < 1:
            raise ValueError(f"--committee must be >= 1, got {args.committee}")
        kw["committee"] = args.committee
    if args.full:
        cfg = DemoSettings.full(**kw)
    elif args.quick:
        cfg = DemoSettings(
            **{
                **dict(
                    n_frames_300k=60,
                    n_frames_500k=20,
                    n_frames_pimd=16,
                    pimd_beads=4,
                    pimd_every=5,
                    n_test=20,
                    n_features=16,
                    epochs=3,
                    train_minutes=0.5,
                    committee=2,
                    committee_minutes=0.2,
                    committee_frames=5,
                    md_steps=200,
                    md_replicas=2,
                    rpmd_beads=4,
                    rpmd_steps=200,
                    xtb_md_steps=200,
                    xtb_rpmd_steps=200,
                    stride=2,
                    depth_fs=40.0,
                    discard_fs=10.0,
                ),
                **kw,
            }
        )
    else:
        cfg = DemoSettings(**kw)
    report = run_demo(cfg)
    print(open(f"{cfg.output_dir}/report.md").read())
    print(f"plots: {report['spectra']['ir']}, {report['spectra']['raman']}")
    return 0
