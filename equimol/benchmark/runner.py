"""The whole measurement: equimol models, their fast paths, the size scan and the peers.

``run(BenchmarkOptions(...))`` returns one JSON-able dict (see :mod:`equimol.benchmark.report`
for its Markdown form). Every stage records its errors instead of stopping the run, so a model
that fails (e.g. a module still under construction) shows up as a row with a clear message.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from equimol import keys as K
from equimol.benchmark import cases as C
from equimol.benchmark import systems as S
from equimol.benchmark.peers import PeerServer, write_inputs
from equimol.benchmark.scan import parse_scan_model, scan_labels, scan_stage
from equimol.benchmark.timing import environment, interleave, matmul_peak, oversubscription_warning, raw_times
from equimol.cli.options import retain_freed_memory
from equimol.compile import CompiledPotential

STAGES = ("energy_forces", "train", "scan", "flops")  # parts of a run; profile follows flops
COMPILED_RTOL = 1e-4  # compiled vs eager forces, relative to the largest force (float32)
FLOAT64_SLACK = 1.5  # beyond it: compiled as far from float64 as this × eager float32 at most
PEER_OF = {
    "painn": ("schnetpack", "painn"),
    "schnet": ("schnetpack", "schnet"),
    "so3krates": ("so3krates-torch", "so3krates"),
}


@dataclass
class BenchmarkOptions:
    models: tuple[str, ...] = ("painn", "so3krates", "schnet")
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    repeats: int = 20
    warmup: int = 3
    rounds: int = 4  # interleaved rounds per case (equimol and peer alternate)
    quick: bool = False
    sizes: tuple[int, ...] = (100, 300, 1000, 3000, 10000)
    scan_models: tuple[str, ...] | None = None  # None: ``models`` and scan.SCAN_VARIANTS
    scan_repeats: int | None = None  # None: ``repeats``
    peers: bool = True
    peers_python: str | None = None
    peer_models: tuple[str, ...] = ("painn", "schnet", "so3net", "so3krates")
    malloc: str = (
        "retain"  # "retain": glibc keeps freed memory (equimol.cli.options.retain_freed_memory); "system"
    )
    compile_models: tuple[str, ...] = ("painn", "so3krates")
    compile_cases: tuple[str, ...] = ("ethanol", "aspirin", "qm9", "ring_polymer")  # prefixes of case names
    profile: bool = True
    train_batch: int = 10
    data_dir: str | None = None  # rmd17/ and qm9/ in shared/data's layout (None: EQUIMOL_SHARED)
    stages: tuple[str, ...] = STAGES  # which parts to run (e.g. ("train",) to time training steps only)
    extra: dict = field(default_factory=dict)

    @classmethod
    def quick_defaults(cls, **overrides) -> BenchmarkOptions:
        base = {
            "quick": True,
            "repeats": 2,
            "warmup": 1,
            "rounds": 1,
            "sizes": (30, 60),
            "peers": False,
            "compile_models": (),
            "profile": True,
            "train_batch": 2,
        }
        return cls(**{**base, **overrides})


class Run:
    """Mutable state of one benchmark run: options, results and the error log."""

    def __init__(self, opts: BenchmarkOptions, log=print):
        self.opts = opts
        self.log = log
        self._peer_edges: dict = {}
        self.dtype = getattr(torch, opts.dtype)
        self.device = torch.device(opts.device)
        self.server = None  # PeerServer while peers run
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
        self.results["errors"].append(
            {"model": model, "stage": stage, "error": msg, "traceback": traceback.format_exc()}
        )

    def local(self, fn):
        """A contestant for :func:`interleave`: ``fn`` timed in this process."""
        return lambda k, w: raw_times(fn, w, k, self.device)

    def peer(self, model: str, case: str, mode: str):
        """A contestant for :func:`interleave`: the peer's ``model`` timed by the peer server."""

        def timer(k: int, w: int) -> list[float]:
            out = self.server.time(model, case, mode, k, w)
            if "error" in out:
                raise RuntimeError(out["error"])
            self._peer_edges[(model, case, mode)] = out.get("edges")
            return out["times_s"]

        return timer

    def contest(self, contestants: dict) -> dict:
        return interleave(contestants, self.opts.warmup, self.opts.repeats, self.opts.rounds)

    def add_peer_row(self, key: tuple[str, str, str], timing: dict) -> None:
        model, case, mode = key
        peer = "so3krates-torch" if model == "so3krates" else "schnetpack"
        peers = self.results["peers"]
        if "error" in timing:
            peers["errors"].append({"model": model, "case": case, "mode": mode, "error": timing["error"]})
            self.log(f"  ! peer {model} {case} {mode}: {timing['error']}")
            return
        peers["results"].append(
            {
                "peer": peer,
                "model": model,
                "case": "train_step" if mode == "train" else case,
                "mode": "model" if mode == "train" else mode,
                "edges": self._peer_edges.get(key),
                **timing,
            }
        )


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
    """Per case, interleaved: eager model call (prepared batch), call with neighbour list, the
    compiled fast path, and the peer's model call and call with its own neighbour list."""
    o = run.opts
    try:
        model = C.freeze(C.build(name, run.dtype, run.device).eval())
    except Exception as exc:  # noqa: BLE001 - e.g. a model module that does not import or build
        run.error(name, "build", exc)
        return
    peer = PEER_OF[name][1] if run.server is not None and name in PEER_OF and name in o.peer_models else None
    for case, structures in systems.items():
        try:
            batch = C.make_batch(structures, model.cutoff, run.dtype, run.device)
            contestants = {
                "model": run.local(C.energy_forces(model, batch)),
                "with_nl": run.local(
                    C.energy_forces_from_structures(model, structures, run.dtype, run.device)
                ),
            }
        except Exception as exc:  # noqa: BLE001 - reported as an error row, the run goes on
            run.error(name, f"energy_forces/{case}", exc)
            continue
        extra: dict = {}
        if name in o.compile_models and any(case.startswith(p) for p in o.compile_cases):
            compiled = compile_fast_path(run, name, model, case, batch)
            if compiled is not None:
                contestants["compiled"], extra = compiled
        if peer is not None:
            contestants["peer:model"] = run.peer(peer, case, "model")
            contestants["peer:with_nl"] = run.peer(peer, case, "with_nl")
        timings = run.contest(contestants)
        for mode, t in timings.items():
            if mode.startswith("peer:"):
                run.add_peer_row((peer, case, mode[5:]), t)
            elif "error" in t:
                run.results["errors"].append({"model": name, "stage": f"{mode}/{case}", "error": t["error"]})
            else:
                row = _case_row(
                    name, case, mode, structures, batch, t, **(extra if mode == "compiled" else {})
                )
                run.results["energy_forces"].append(row)
        shown = "  ".join(f"{m} {1000 * t['median_s']:.2f}" for m, t in timings.items() if "median_s" in t)
        run.log(f"  {name:9s} {case:16s} ms: {shown}")


def float64_forces_error(model, batch, *forces: torch.Tensor) -> list[float]:
    """Largest deviation of each float32 ``forces`` from the float64 forces of ``model`` (a
    float64 copy on the same batch)."""
    import copy

    m64 = copy.deepcopy(model).double()
    b64 = {k: v.double() if torch.is_floating_point(v) else v for k, v in batch.items()}
    ref = m64(b64)[K.FORCES].detach()
    return [C.max_abs_diff(f.detach().double(), ref) for f in forces]


def compile_fast_path(run: Run, name: str, model, case: str, batch):
    """(contestant, info) of the torch.compile path on ``batch``, after compiling and checking it
    against eager; None (with an error row) if it fails or its forces differ by more than
    ``COMPILED_RTOL`` of the largest force, unless they are as close to the float64 forces as the
    eager float32 ones (within ``FLOAT64_SLACK``×): a model whose forces are ill-conditioned at the
    batch's geometries (So3krates' ‖χ^(l)‖ near χ^(l) = 0, e.g. on linear or symmetric QM9
    molecules) differs from itself in float32 by more than ``COMPILED_RTOL``, compiled or not."""
    try:
        # a fresh dynamo cache per case: compiled paths of earlier cases are not called again, and
        # past torch._dynamo.config.recompile_limit (8) dynamo would silently run eager instead
        torch._dynamo.reset()
        fast = CompiledPotential(model, dynamic=False)
        t0 = time.perf_counter()
        out = fast(batch)
        compile_s = time.perf_counter() - t0
        ref = model(batch)[K.FORCES]
        diff = C.max_abs_diff(out[K.FORCES], ref)
        rel = diff / max(float(ref.abs().max()), 1e-30)
        run.log(f"  {name:9s} {case:16s} compiled in {compile_s:.0f} s, max |ΔF| vs eager {diff:.1e} eV/Å")
        info = {"compile_s": compile_s, "max_abs_force_diff": diff, "max_rel_force_diff": rel}
        if rel > COMPILED_RTOL:
            err_c, err_e = float64_forces_error(model, batch, out[K.FORCES], ref)
            info.update(compiled_vs_float64=err_c, eager_vs_float64=err_e)
            run.log(
                f"  {name:9s} {case:16s} vs float64: compiled {err_c:.1e}, eager float32 {err_e:.1e} eV/Å"
            )
            if err_c > FLOAT64_SLACK * err_e:
                raise RuntimeError(
                    f"compiled forces differ from eager by {diff:.2e} eV/Å ({rel:.1e} of max |F|) and from "
                    f"float64 by {err_c:.2e} (eager float32: {err_e:.2e}); not timed"
                )
        return run.local(lambda: fast(batch)[K.FORCES]), info
    except Exception as exc:  # noqa: BLE001 - compilation problems are reported, the run goes on
        run.error(name, f"compiled/{case}", exc)
        return None


def compile_training_step(run: Run, name: str, batch):
    """(contestant, info) of the compiled training step (:class:`equimol.train.compiled.CompiledLoss`)
    on a fresh model, after checking its loss gradients against eager; None (with an error row)
    if compiling fails or the largest gradient difference exceeds ``COMPILED_RTOL`` of the
    largest gradient."""
    from equimol.train.compiled import CompiledLoss

    try:
        torch._dynamo.reset()
        model = C.build(name, run.dtype, run.device)
        compiled = CompiledLoss(model, C.LOSS_WEIGHTS, dynamic=False)
        t0 = time.perf_counter()
        got = C.loss_gradients(model, batch, compiled)
        compile_s = time.perf_counter() - t0
        ref = C.loss_gradients(model, batch)
        scale = max(float(g.abs().max()) for g in ref)
        diff = max(C.max_abs_diff(a, b) for a, b in zip(got, ref, strict=False))
        rel = diff / max(scale, 1e-30)
        run.log(
            f"  {name:9s} train step       compiled in {compile_s:.0f} s, max |Δgrad| / max |grad| {rel:.1e}"
        )
        if len(got) != len(ref) or rel > COMPILED_RTOL:
            raise RuntimeError(
                f"compiled loss gradients differ from eager by {rel:.1e} of the largest; not timed"
            )
        info = {"compile_s": compile_s, "max_rel_grad_diff": rel}
        return run.local(C.training_step(model, batch, compiled=compiled)), info
    except Exception as exc:  # noqa: BLE001 - compilation problems are reported, the run goes on
        run.error(name, "compiled/train_step", exc)
        return None


def train_stage(run: Run, name: str, structures) -> None:
    o = run.opts
    try:
        model = C.build(name, run.dtype, run.device)
        batch = C.make_batch(structures, model.cutoff, run.dtype, run.device)
        contestants = {"train": run.local(C.training_step(model, batch))}
    except Exception as exc:  # noqa: BLE001 - reported as an error row, the run goes on
        run.error(name, "train_step", exc)
        return
    compiled_info = {}
    if name in o.compile_models:
        compiled = compile_training_step(run, name, batch)
        if compiled is not None:
            contestants["compiled"], compiled_info = compiled
    peer = PEER_OF[name][1] if run.server is not None and name in PEER_OF and name in o.peer_models else None
    if peer is not None:
        contestants["peer"] = run.peer(peer, "train", "train")
    timings = run.contest(contestants)
    case = f"ethanol_x{len(structures)}"
    if "error" in timings["train"]:
        run.results["errors"].append(
            {"model": name, "stage": "train_step", "error": timings["train"]["error"]}
        )
    else:
        run.results["train_step"].append(_case_row(name, case, "model", structures, batch, timings["train"]))
    if "compiled" in timings and "error" not in timings["compiled"]:
        run.results["train_step"].append(
            _case_row(name, case, "compiled", structures, batch, timings["compiled"], **compiled_info)
        )
    if peer is not None:
        run.add_peer_row((peer, "train", "train"), timings["peer"])
    shown = "  ".join(f"{m} {1000 * t['median_s']:.2f}" for m, t in timings.items() if "median_s" in t)
    run.log(f"  {name:9s} train step       ms: {shown}")


PLAIN_MESSAGES = {"painn": {"fused_message": "never"}, "so3krates": {"fused_messages": "never"}}


def flops_stage(run: Run, systems: dict, train_structures=None) -> None:
    """Matmul FLOPs of every timed case as a fraction of the matmul peak: energy + forces of
    every model on every case, eager and compiled, and the training step (issue 22: "the FLOP
    rate against the measured matmul peak for every case"). The compiled graphs run the same
    matmuls (inductor fuses the elementwise work around them), so one count serves both modes."""
    peak = run.results["matmul_peak"]["flops_per_s"]

    def add(name: str, case: str, kind: str, flops: dict[str, int], rows: list[dict]) -> None:
        for row in rows:
            if row["model"] == name and row["case"] == case and row["mode"] in flops:
                rate = flops[row["mode"]] / row["median_s"]
                run.results["flops"].append(
                    {
                        "model": name,
                        "case": case,
                        "kind": kind,
                        "mode": row["mode"],
                        "matmul_flops": flops[row["mode"]],
                        "median_s": row["median_s"],
                        "flops_per_s": rate,
                        "fraction_of_peak": rate / peak,
                    }
                )

    for name in run.opts.models:
        timed = [r for r in run.results["energy_forces"] if r["model"] == name]
        trained = [r for r in run.results["train_step"] if r["model"] == name]
        if not timed and not trained:
            continue
        try:
            model = C.freeze(C.build(name, run.dtype, run.device).eval())
            # the compiled graphs trace the plain message formulation: eager PaiNN batches from
            # 1 024 edges fuse their messages and recompute the filters in the backward pass
            plain = None
            if name in PLAIN_MESSAGES:
                plain = C.freeze(C.build(name, run.dtype, run.device, **PLAIN_MESSAGES[name]).eval())
            for case, structures in systems.items():
                modes = {r["mode"] for r in timed if r["case"] == case}
                if not modes:
                    continue
                batch = C.make_batch(structures, model.cutoff, run.dtype, run.device)
                flops = {"model": C.count_flops(C.energy_forces(model, batch))}
                if "compiled" in modes:  # one more count only where the formulations can differ
                    flops["compiled"] = (
                        C.count_flops(C.energy_forces(plain, batch)) if plain is not None else flops["model"]
                    )
                add(name, case, "energy + forces", flops, timed)
            if trained and train_structures is not None:
                fresh = C.build(name, run.dtype, run.device)
                batch = C.make_batch(train_structures, fresh.cutoff, run.dtype, run.device)
                case = f"ethanol_x{len(train_structures)}"
                n = C.count_flops(C.training_step(fresh, batch))  # force training: plain in both modes
                add(name, case, "training step", {"model": n, "compiled": n}, trained)
        except Exception as exc:  # noqa: BLE001 - reported as an error row, the run goes on
            run.error(name, "flops", exc)


def profile_stage(run: Run, systems: dict) -> None:
    case = next(c for c in systems if c.startswith("ring_polymer"))
    try:
        model = C.freeze(C.build("painn", run.dtype, run.device).eval())
        batch = C.make_batch(systems[case], model.cutoff, run.dtype, run.device)
        rows = C.profile_table(
            C.energy_forces(model, batch), repeats=3 if run.opts.quick else 10, device=run.opts.device
        )
        run.results["profile"] = {"model": "painn", "case": case, "rows": rows}
    except Exception as exc:  # noqa: BLE001 - reported as an error row, the run goes on
        run.error("painn", "profile", exc)


def peer_only_stage(run: Run, systems: dict) -> None:
    """Peer models without an equimol counterpart (schnetpack SO3net): absolute times only, on the
    single molecules (SO3net takes 10–30 s per batched call here, minutes per case)."""
    for model in [m for m in run.opts.peer_models if m not in PEER_OF]:
        for case in [c for c, structures in systems.items() if len(structures) == 1]:
            for mode in ("model", "with_nl"):
                out = interleave({"peer": run.peer(model, case, mode)}, run.opts.warmup, run.opts.repeats, 1)
                run.add_peer_row((model, case, mode), out["peer"])


def compare(run: Run) -> None:
    """Ratios peer time / equimol time on identical inputs (> 1: equimol faster)."""
    peer_rows = (run.results["peers"] or {}).get("results", [])

    def find(peer, model, case, mode):
        return next(
            (
                r
                for r in peer_rows
                if (r["peer"], r["model"], r["case"], r["mode"]) == (peer, model, case, mode)
            ),
            None,
        )

    rows = [(r, r["case"], "energy_forces") for r in run.results["energy_forces"]]
    rows += [(r, "train_step", "train_step") for r in run.results["train_step"]]
    for row, case, kind in rows:
        if row["model"] not in PEER_OF:
            continue
        peer, peer_model = PEER_OF[row["model"]]
        peer_mode = "model" if row["mode"] in ("model", "compiled") else row["mode"]
        p = find(peer, peer_model, case, peer_mode)
        if p is None:
            continue
        run.results["comparisons"].append(
            {
                "kind": kind,
                "model": row["model"],
                "case": row["case"],
                "mode": row["mode"],
                "equimol_s": row["median_s"],
                "peer": peer,
                "peer_mode": peer_mode,
                "peer_s": p["median_s"],
                "peer_edges": p.get("edges"),
                "speedup": p["median_s"] / row["median_s"],
            }
        )


def run(opts: BenchmarkOptions, log=print) -> dict:
    if opts.threads:
        torch.set_num_threads(opts.threads)
    if opts.malloc not in ("retain", "system"):
        raise ValueError(f"malloc must be 'retain' or 'system', got {opts.malloc!r}")
    state = Run(opts, log)
    res = state.results
    res["environment"] = environment(opts.device)
    if opts.malloc == "retain":
        ok = retain_freed_memory()
        res["environment"]["malloc"] = (
            "glibc retains freed memory (mmap_max=0, heap never trimmed)" if ok else "system"
        )
    else:
        res["environment"]["malloc"] = "system"
    res["matmul_peak"] = matmul_peak(
        opts.device, n=1024 if opts.quick else 4096, repeats=3 if opts.quick else 10
    )
    log(
        f"matmul peak {res['matmul_peak']['flops_per_s'] / 1e9:.1f} GFLOP/s; {res['environment']['device_name']}"
    )
    warning = oversubscription_warning() if opts.device == "cpu" else None
    if warning:
        res["environment"]["warning"] = warning
        log(f"  ! {warning}")
    systems = S.inference_systems(quick=opts.quick, data_dir=opts.data_dir)
    train = S.train_batch(opts.train_batch, opts.data_dir)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if opts.peers:
            path = Path(tmp) / "inputs.npz"
            write_inputs(path, {**systems, "train": train})
            cfg = {"threads": opts.threads, "device": opts.device, "dtype": opts.dtype}
            state.server = PeerServer(path, cfg, opts.peers_python, retain_memory=opts.malloc == "retain")
            res["peers"] = {
                "versions": state.server.info.get("peers"),
                "threads": state.server.info.get("threads"),
                "results": [],
                "errors": [],
            }
            if state.server.error:
                res["peers"]["error"] = state.server.error
                log(f"  ! peers: {state.server.error}")
                state.server = None
        try:
            for name in opts.models:
                if "energy_forces" in opts.stages:
                    log(f"{name}: energy + forces" + (" (interleaved with its peer)" if state.server else ""))
                    energy_forces_stage(state, name, systems)
                if "train" in opts.stages:
                    train_stage(state, name, train)
            if state.server is not None and "energy_forces" in opts.stages:
                peer_only_stage(state, systems)
        finally:
            if state.server is not None:
                state.server.close()
                state.server = None
    if res["peers"] is not None:
        compare(state)
    for label in scan_labels(opts.models, opts.scan_models) if "scan" in opts.stages else ():
        if any(e["model"] == parse_scan_model(label)[0] and e["stage"] == "build" for e in res["errors"]):
            continue
        log(f"{label}: size scan")
        scan_stage(state, label)
    if "flops" in opts.stages:
        flops_stage(state, systems, train)
    if "painn" in opts.models and "flops" in opts.stages and opts.profile:
        profile_stage(state, systems)
    res["wall_time_s"] = time.perf_counter() - t0
    return res
