"""``equimol benchmark``: time models (energy + forces, training step, size scan) against peers.

    equimol benchmark --quick                      # seconds: tiny sizes, checks the harness
    equimol benchmark --output benchmarks/results   # the full measurement (1 thread each)

Writes ``<output>/<name>.json`` and ``<output>/<name>.md`` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse

from equimol.errors import ConfigError

MODELS = ("painn", "so3krates", "schnet")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in _csv(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quick", action="store_true", help="tiny sizes and 2 repeats: checks the harness end to end"
    )
    p.add_argument(
        "--models", type=_csv, default=MODELS, help="comma-separated (default: painn,so3krates,schnet)"
    )
    p.add_argument("--device", default="cpu", help="cpu or cuda[:k]")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help=(
            "torch intra-op threads, for equimol and the peers alike (default 1, as benchmarks/run_all.sh: "
            "on the 2-vCPU reference VM a second thread slowed the compiled path; 0: torch's default)"
        ),
    )
    p.add_argument("--repeats", type=int, default=None, help="timed calls per case (default 20; quick 2)")
    p.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds per case (default 4; quick 1)"
    )
    p.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 3; quick 1)")
    p.add_argument(
        "--sizes", type=_ints, default=None, help="size scan, atoms (default 100,300,1000,3000,10000)"
    )
    p.add_argument(
        "--scan-models",
        type=_csv,
        default=None,
        help=(
            "models of the size scan, each optionally with options as model:key=value "
            "(default: --models and so3krates:local_slices=2)"
        ),
    )
    p.add_argument("--scan-repeats", type=int, default=None, help="timed calls per size (default: --repeats)")
    p.add_argument(
        "--stages",
        type=_csv,
        default=None,
        help="parts to run, of energy_forces,train,scan,flops (default: all; the profile comes with flops)",
    )
    p.add_argument(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run schnetpack / so3krates-torch from peers/venv (default: on, off with --quick)",
    )
    p.add_argument(
        "--peer-models",
        type=_csv,
        default=None,
        help="peer models: painn,schnet,so3net (schnetpack), so3krates (so3krates-torch); "
        "default: the counterparts of --models plus so3net",
    )
    p.add_argument("--peers-python", default=None, help="the peers' Python (default: peers/venv/bin/python)")
    p.add_argument(
        "--compile",
        type=_csv,
        default=None,
        dest="compile_models",
        help="models with a torch.compile fast path (default: painn,so3krates; quick: none; '' for none)",
    )
    p.add_argument(
        "--malloc",
        choices=["retain", "system"],
        default=None,
        help="retain (default): glibc keeps freed memory for reuse, in equimol and in the peers' "
        "process alike (large systems page-fault far less); system: glibc's defaults",
    )
    p.add_argument("--no-profile", action="store_true", help="skip the torch.profiler table")
    p.add_argument(
        "--data",
        default=None,
        help="folder with rmd17/ and qm9/ in the layout of shared/data (default: $EQUIMOL_SHARED/data, "
        "else ../shared/data; tests/data/fixtures is a small copy)",
    )
    p.add_argument("--output", default="benchmarks/results", help="folder for the JSON and Markdown")
    p.add_argument("--name", default=None, help="file stem (default: benchmark, or quick)")


def run(args: argparse.Namespace) -> int:
    from equimol.benchmark import report
    from equimol.benchmark.runner import STAGES, BenchmarkOptions

    bad = [x for x in (args.stages or ()) if x not in STAGES]
    if bad:
        raise ConfigError(f"unknown stage(s) {bad}; available: {', '.join(STAGES)}")
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown model(s) {unknown}; available: {', '.join(MODELS)}")
    from equimol.benchmark.scan import parse_scan_model

    try:
        bad_scan = [m for m in (args.scan_models or ()) if parse_scan_model(m)[0] not in MODELS]
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if bad_scan:
        raise ConfigError(f"unknown model(s) in --scan-models {bad_scan}; available: {', '.join(MODELS)}")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda requested but torch.cuda.is_available() is False")
    overrides = {
        "models": args.models,
        "device": args.device,
        "dtype": args.dtype,
        "threads": args.threads or None,
        "profile": not args.no_profile,
        "peers_python": args.peers_python,
        "data_dir": args.data,
    }
    overrides["peer_models"] = args.peer_models or (*args.models, "so3net")
    for key in (
        "repeats",
        "rounds",
        "warmup",
        "stages",
        "sizes",
        "scan_models",
        "scan_repeats",
        "peers",
        "compile_models",
        "malloc",
    ):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    if args.threads < 0:
        raise ConfigError("--threads must be ≥ 0 (0: torch's default)")
    for key in ("repeats", "rounds", "warmup", "scan_repeats"):
        if overrides.get(key) is not None and overrides[key] < (1 if key != "warmup" else 0):
            raise ConfigError(f"--{key.replace('_', '-')} must be positive")
    opts = BenchmarkOptions.quick_defaults(**overrides) if args.quick else BenchmarkOptions(**overrides)
    from equimol.benchmark.runner import run as run_benchmark

    results = run_benchmark(opts)
    json_path, md_path = report.write(
        results, args.output, args.name or ("quick" if args.quick else "benchmark")
    )
    for t in results.get("targets") or report.targets(results):
        if t.get("met") is not None:
            print(f"  target {'met' if t['met'] else 'NOT met'}: {t['target']}")
    print(f"wrote {json_path} and {md_path}")
    return 0
