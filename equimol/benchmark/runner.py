"""The whole measurement: equimol models, their fast paths, the size scan and the peers.

``run(BenchmarkOptions(...))`` returns one JSON-able dict (see :mod:`equimol.benchmark.report`
for its Markdown form). Every stage records its errors instead of stopping the run, so a model
that fails (e.g. a module still under construction) shows up as a row with a clear message.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from equimol import keys as K
from equimol.benchmark import cases as C
from equimol.benchmark import systems as S
from equimol.benchmark.fast import CompiledPotential
from equimol.benchmark.peers import run_peers, write_inputs
from equimol.benchmark.timing import environment, matmul_peak, time_call

PEER_OF = {"painn": ("schnetpack", "painn"), "schnet": ("schnetpack", "schnet"), "so3krates": ("so3krates-torch", "so3krates")}


@dataclass
class BenchmarkOptions:
    models: tuple[str, ...] = ("painn", "so3krates", "schnet")
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    repeats: int = 20
    warmup: int = 3
    quick: bool = False
    sizes: tuple[int, ...] = (100, 300, 1000, 3000, 10000)
    scan_models: tuple[str, ...] | None = None  # None: all of ``models``
    scan_repeats: int | None = None  # None: ``repeats``
    peers: bool = True
    peers_python: str | None = None
    peer_models: tuple[str, ...] = ("painn", "schnet", "so3net", "so3krates")
    compile_models: tuple[str, ...] = ("painn",)
    compile_cases: tuple[str, ...] = ("ethanol", "qm9", "ring_polymer")  # prefixes of case names
    profile: bool = True
    train_batch: int = 10
    extra: dict = field(default_factory=dict)

    @classmethod
    def quick_defaults(cls, **overrides) -> BenchmarkOptions:
        base = dict(quick=True, repeats=2, warmup=1, sizes=(30, 60), peers=False, compile_models=(),
                    profile=True, train_batch=2)
        return cls(**{**base, **overrides})


class Run:
    """Mutable state of one benchmark run: options, results and the error log."""

    def __init__(self, opts: BenchmarkOptions, log=print):
        self.opts = opts
        self.log = log
        self.dtype = getattr(torch, opts.dtype)
        self.device = torch.device(opts.device)
        self.results: dict = {
            "options": {**asdict(self.opts)},
            "energy_forces": [],
            "train_step": [],
            "size_scan": [],
            "flops": [],
            "profile": None,
            "peers": None,
            "comparisons": [],
            "errors": [],
        }

    def error(self, model: str, stage: str, exc: BaseException) -> None:
        msg = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        self.log(f"  ! {model} {stage}: {msg}")
        self.results["errors"].append({"model": model, "stage": stage, "error": msg, "traceback": traceback.format_exc()})

    def time(self, fn) -> dict:
        return time_call(fn, self.opts.warmup, self.opts.repeats, self.device)


def _case_row(model: str, case: str, mode: str, structures, batch, timing: dict, **extra) -> dict:
    return {
        "model": model,
        "case": case,
        "mode": mode,
        **C.structures_summary(structures),
        "edges": int(batch[K.EDGE_INDEX].shape[1]),
        **timing,
        **extra,
    }


def energy_forces_stage(run: Run, name: str, systems: dict) -> None:
    """Eager model call (prepared batch), call with neighbour list, and the compiled fast path."""
    o = run.opts
    try:
        model = C.freeze(C.build(name, run.dtype, run.device).eval())
    except Exception as exc:  # e.g. a model module that does not import or build
        run.error(name, "build", exc)
        return
    for case, structures in systems.items():
        try:
            batch = C.make_batch(structures, model.cutoff, run.dtype, run.device)
            t = run.time(C.energy_forces(model, batch))
            run.results["energy_forces"].append(_case_row(name, case, "model", structures, batch, t))
            t = run.time(C.energy_forces_from_structures(model, structures, run.dtype, run.device))
            run.results["energy_forces"].append(_case_row(name, case, "with_nl", structures, batch, t))
            run.log(f"  {name:9s} {case:18s} {1000 * run.results['energy_forces'][-2]['median_s']:9.2f} ms")
        except Exception as exc:
            run.error(name, f"energy_forces/{case}", exc)
            continue
        if name in o.compile_models and any(case.startswith(p) for p in o.compile_cases):
            compiled_stage(run, name, model, case, structures, batch)


def compiled_stage(run: Run, name: str, model, case: str, structures, batch) -> None:
    try:
        fast = CompiledPotential(model, dynamic=False)
        t0 = time.perf_counter()
        out = fast(batch)
        compile_s = time.perf_counter() - t0
        ref = model(batch)
        diff = C.max_abs_diff(out[K.FORCES], ref[K.FORCES])
        t = run.time(lambda: fast(batch)[K.FORCES])
        run.results["energy_forces"].append(
            _case_row(name, case, "compiled", structures, batch, t, compile_s=compile_s, max_abs_force_diff=diff)
        )
        run.log(f"  {name:9s} {case:18s} {1000 * t['median_s']:9.2f} ms compiled (compile {compile_s:.0f} s, |ΔF| {diff:.1e})")
    except Exception as exc:
        run.error(name, f"compiled/{case}", exc)


def train_stage(run: Run, name: str, structures) -> None:
    try:
        model = C.build(name, run.dtype, run.device)
        batch = C.make_batch(structures, model.cutoff, run.dtype, run.device)
        t = run.time(C.training_step(model, batch))
        run.results["train_step"].append(_case_row(name, f"ethanol_x{len(structures)}", "model", structures, batch, t))
        run.log(f"  {name:9s} train step          {1000 * t['median_s']:9.2f} ms")
    except Exception as exc:
        run.error(name, "train_step", exc)


def scan_stage(run: Run, name: str) -> None:
    """One subprocess per size (fresh peak-memory counter), see :mod:`equimol.benchmark.memory`."""
    o = run.opts
    for n in o.sizes:
        cmd = [sys.executable, "-m", "equimol.benchmark.memory", "--model", name, "--atoms", str(n),
               "--device", o.device, "--dtype", o.dtype, "--repeats", str(o.scan_repeats or o.repeats),
               "--warmup", str(min(o.warmup, 2))]
        if o.threads:
            cmd += ["--threads", str(o.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            msg = "killed (out of memory?)" if proc.returncode in (-9, 137) else tail[0]
            run.results["errors"].append({"model": name, "stage": f"size_scan/{n}", "error": msg})
            run.log(f"  ! {name} {n} atoms: {msg}")
            break  # larger sizes would fail too
        row = json.loads(lines[-1])
        run.results["size_scan"].append(row)
        run.log(f"  {name:9s} {n:6d} atoms {1000 * row['median_s']:11.2f} ms {row['peak_mib']:9.1f} MiB")


def flops_stage(run: Run, systems: dict) -> None:
    """Matmul FLOPs of PaiNN energy + forces on the batched cases, as a fraction of the matmul peak."""
    peak = run.results["matmul_peak"]["flops_per_s"]
    try:
        model = C.freeze(C.build("painn", run.dtype, run.device).eval())
    except Exception as exc:
        run.error("painn", "flops", exc)
        return
    for case, structures in systems.items():
        if len(structures) == 1:
            continue
        batch = C.make_batch(structures, model.cutoff, run.dtype, run.device)
        flops = C.count_flops(C.energy_forces(model, batch))
        for row in run.results["energy_forces"]:
            if row["model"] == "painn" and row["case"] == case and row["mode"] in ("model", "compiled"):
                rate = flops / row["median_s"]
                run.results["flops"].append({"model": "painn", "case": case, "mode": row["mode"], "matmul_flops": flops,
                                             "median_s": row["median_s"], "flops_per_s": rate, "fraction_of_peak": rate / peak})


def profile_stage(run: Run, systems: dict) -> None:
    case = next(c for c in systems if c.startswith("ring_polymer"))
    try:
        model = C.freeze(C.build("painn", run.dtype, run.device).eval())
        batch = C.make_batch(systems[case], model.cutoff, run.dtype, run.device)
        rows = C.profile_table(C.energy_forces(model, batch), repeats=3 if run.opts.quick else 10, device=run.opts.device)
        run.results["profile"] = {"model": "painn", "case": case, "rows": rows}
    except Exception as exc:
        run.error("painn", "profile", exc)


def peers_stage(run: Run, systems: dict, train: list) -> None:
    o = run.opts
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inputs.npz"
        write_inputs(path, {**systems, "train": train})
        cfg = {"repeats": o.repeats, "warmup": o.warmup, "threads": o.threads, "device": o.device, "dtype": o.dtype,
               "models": list(o.peer_models), "inference_cases": list(systems), "train": True}
        run.results["peers"] = run_peers(path, cfg, o.peers_python)
    peers = run.results["peers"]
    if "error" in peers:
        run.log(f"  ! peers: {peers['error']}")
        return
    for err in peers.get("errors", []):
        run.log(f"  ! peer {err['model']}: {err['error']}")
    compare(run)


def compare(run: Run) -> None:
    """Ratios peer time / equimol time on identical inputs (> 1: equimol faster)."""
    peer_rows = run.results["peers"].get("results", [])

    def find(peer, model, case, mode):
        return next((r for r in peer_rows if (r["peer"], r["model"], r["case"], r["mode"]) == (peer, model, case, mode)), None)

    rows = [(r, r["case"]) for r in run.results["energy_forces"]] + [(r, "train_step") for r in run.results["train_step"]]
    for row, case in rows:
        if row["model"] not in PEER_OF:
            continue
        peer, peer_model = PEER_OF[row["model"]]
        peer_mode = "model" if row["mode"] in ("model", "compiled") else row["mode"]
        p = find(peer, peer_model, case, peer_mode)
        if p is None:
            continue
        run.results["comparisons"].append({
            "model": row["model"], "case": row["case"], "mode": row["mode"], "equimol_s": row["median_s"],
            "peer": peer, "peer_mode": peer_mode, "peer_s": p["median_s"], "peer_edges": p.get("edges"),
            "speedup": p["median_s"] / row["median_s"],
        })


def run(opts: BenchmarkOptions, log=print) -> dict:
    if opts.threads:
        torch.set_num_threads(opts.threads)
    state = Run(opts, log)
    res = state.results
    res["environment"] = environment(opts.device)
    res["matmul_peak"] = matmul_peak(opts.device, n=1024 if opts.quick else 4096, repeats=3 if opts.quick else 10)
    log(f"matmul peak {res['matmul_peak']['flops_per_s'] / 1e9:.1f} GFLOP/s; {res['environment']['device_name']}")
    systems = S.inference_systems(quick=opts.quick)
    train = S.train_batch(opts.train_batch)
    t0 = time.perf_counter()
    for name in opts.models:
        log(f"{name}: energy + forces")
        energy_forces_stage(state, name, systems)
        train_stage(state, name, train)
    for name in opts.scan_models if opts.scan_models is not None else opts.models:
        if any(e["model"] == name and e["stage"] == "build" for e in res["errors"]):
            continue
        log(f"{name}: size scan")
        scan_stage(state, name)
    if "painn" in opts.models:
        flops_stage(state, systems)
        if opts.profile:
            profile_stage(state, systems)
    if opts.peers:
        log("peers")
        peers_stage(state, systems, train)
    res["wall_time_s"] = time.perf_counter() - t0
    return res
