"""Where a force-training step's time goes: phases and op classes, equimol and schnetpack (issue 22).

    OMP_NUM_THREADS=1 python benchmarks/train_profile.py                    # -> results/train_profile.{json,md}
    OMP_NUM_THREADS=1 python benchmarks/train_profile.py --models painn --repeats 40

One training step on a batch of 10 rMD17 ethanol frames (``equimol.benchmark.systems.train_batch``,
the benchmark's training case), E+F loss with ρ = 0.95, split into the phases the training loop
runs, each timed with ``perf_counter`` and reported as the median over ``--repeats`` steps (one
thread, the allocator keeping freed memory as ``equimol train`` does):

- ``collate``: neighbour lists (vesin) + collation of the 10 frames. ``equimol train`` computes
  the neighbour lists once per dataset, so per step it pays only the collation (``collate_cached``);
- ``forward``: the energy (representation + energy head), positions requiring gradients;
- ``forces``: −∂E/∂r with ``create_graph=True`` (the first backward);
- ``backward``: loss and its backward through the force graph (the double backward);
- ``optimizer``: ``zero_grad`` + AdamW step; ``ema``: the EMA update of the weights (0.99).

The op classes come from ``torch.profiler`` over the whole step (``--profile-repeats`` steps):
elementwise (mul, add, sum, …), matmul (mm, addmm, bmm), gather/scatter (index_select,
index_add, scatter_add), copies (cat, copy_, contiguous), optimizer, everything else. The
profiler's own overhead inflates the shares of ops that are called often; the phase times are
the unprofiled ones.

The schnetpack PaiNN of ``benchmarks/peers`` (its own venv, ``peers/venv``; ``--no-peers`` to
skip) runs the same phases on the same frames in a child process: ``forward`` = pairwise
distances + representation + atomwise energy, ``forces`` = its ``Forces`` module's autograd.grad
with create_graph, then the same loss, backward and Adam step (no EMA).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RHO = 0.95
CLASSES = {
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear"),
    "gather/scatter": ("aten::index_select", "aten::index_add", "aten::scatter_add", "aten::index", "aten::gather"),
    "copies": ("aten::cat", "aten::copy_", "aten::contiguous", "aten::clone", "aten::_to_copy", "aten::stack"),
    "elementwise": (
        "aten::mul", "aten::add", "aten::sub", "aten::div", "aten::sum", "aten::neg", "aten::sqrt",
        "aten::silu", "aten::sigmoid", "aten::pow", "aten::where", "aten::sin", "aten::cos",
        "aten::exp", "aten::fill_", "aten::zero", "aten::lerp", "aten::addcdiv", "aten::addcmul",
        "aten::threshold", "aten::linalg_vector_norm", "aten::mean", "aten::reciprocal", "aten::rsqrt",
        "aten::maximum", "aten::clamp", "aten::abs", "aten::softplus", "aten::tanh",
    ),
}  # fmt: skip


def op_class(name: str) -> str:
    if name.startswith("Optimizer."):
        return "optimizer (python)"
    for cls, prefixes in CLASSES.items():
        if any(name == p or name.startswith(p + "_") or name.startswith(p + ".") for p in prefixes):
            return cls
    return "autograd engine + other"


def timed(fn, results: dict, key: str):
    t = time.perf_counter()
    out = fn()
    results.setdefault(key, []).append(time.perf_counter() - t)
    return out


def optimizer_step(optimizer):
    """The optimiser phase: step + zero_grad."""

    def opt():
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return opt


def run_steps(step, collate, repeats: int) -> dict[str, list[float]]:
    """5 untimed steps, then ``repeats`` steps, each after one timed ``collate`` (neighbour lists
    + collation); the phase times ``step`` records and the whole step's time."""
    phases: dict[str, list[float]] = {}
    for _ in range(5):
        step({})
    for _ in range(repeats):
        timed(collate, phases, "collate")
        t = time.perf_counter()
        step(phases)
        phases.setdefault("step", []).append(time.perf_counter() - t)
    return phases


def summarize(phases: dict[str, list[float]]) -> dict[str, float]:
    return {k: float(np.median(v) * 1000) for k, v in phases.items()}


def op_classes(step, repeats: int) -> dict[str, float]:
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(repeats):
            step()
    shares: dict[str, float] = {}
    for e in prof.key_averages():
        shares[op_class(e.key)] = shares.get(op_class(e.key), 0.0) + e.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    return {k: v / total for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}


# --- equimol --------------------------------------------------------------------------------------
def equimol_profile(model: str, structures, repeats: int, profile_repeats: int) -> dict:
    import torch

    from equimol import keys as K
    from equimol.benchmark import cases
    from equimol.data.batch import collate
    from equimol.data.dataset import GraphDataset
    from equimol.potential import compute_forces
    from equimol.train.loop import EMA
    from equimol.train.loss import backward_to_parameters, weighted_loss

    potential = cases.build(model).train()
    cutoff = potential.cutoff
    dataset = GraphDataset(structures, cutoff)
    # as equimol train: AdamW, fused kernel
    optimizer = torch.optim.AdamW(potential.parameters(), lr=1e-5, weight_decay=0.0, fused=True)
    ema = EMA(potential, 0.99)
    weights = {K.ENERGY: 1 - RHO, K.FORCES: RHO}

    def step(record: dict) -> None:
        batch = timed(lambda: collate([dataset[i] for i in range(len(dataset))]), record, "collate_cached")
        batch = dict(batch)
        batch[K.POSITIONS] = batch[K.POSITIONS].detach().requires_grad_(True)
        out = timed(lambda: potential.properties(batch), record, "forward")
        out[K.FORCES] = timed(
            lambda: compute_forces(out[K.ENERGY], batch[K.POSITIONS], True), record, "forces"
        )

        def backward():
            loss = weighted_loss(out, batch, weights)[0]
            backward_to_parameters(loss, potential.parameters())  # as equimol train (no ∂L/∂r)

        timed(backward, record, "backward")
        timed(optimizer_step(optimizer), record, "optimizer")
        timed(lambda: ema.update(potential), record, "ema")

    phases = run_steps(step, lambda: cases.make_batch(structures, cutoff, torch.float32, "cpu"), repeats)
    return {
        "phases_ms": summarize(phases),
        "op_classes": op_classes(lambda: step({}), profile_repeats),
        "parameters": sum(p.numel() for p in potential.parameters()),
        "edges": int(cases.make_batch(structures, cutoff, torch.float32, "cpu")[K.EDGE_INDEX].shape[1]),
    }


# --- schnetpack (runs in the peers' venv) ---------------------------------------------------------
def schnetpack_profile(frames_path: str, repeats: int, profile_repeats: int) -> dict:
    import ase
    import schnetpack as spk
    import torch

    data = np.load(frames_path)
    frames = [
        ase.Atoms(numbers=data["numbers"], positions=p) for p in data["positions"]
    ]  # one molecule type (ethanol)
    cutoff = 5.0
    torch.manual_seed(0)
    rep = spk.representation.PaiNN(
        n_atom_basis=128,
        n_interactions=3,
        radial_basis=spk.nn.BesselRBF(20, cutoff),
        cutoff_fn=spk.nn.CosineCutoff(cutoff),
    )
    pairwise = spk.atomistic.PairwiseDistances()
    atomwise = spk.atomistic.Atomwise(n_in=128, output_key="energy")
    forces_mod = spk.atomistic.Forces()
    model = spk.model.NeuralNetworkPotential(
        representation=rep, input_modules=[pairwise], output_modules=[atomwise, forces_mod]
    )
    model.train()
    converter = spk.interfaces.AtomsConverter(
        neighbor_list=spk.transform.MatScipyNeighborList(cutoff=cutoff), dtype=torch.float32
    )
    prepared = converter(frames)
    e_ref = torch.as_tensor(data["energy"], dtype=torch.float32)
    f_ref = torch.as_tensor(data["forces"].reshape(-1, 3), dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)

    def step(record: dict) -> None:
        inputs = dict(prepared)
        inputs = timed(lambda: model.initialize_derivatives(inputs), record, "prepare")

        def forward():
            x = pairwise(inputs)
            x = rep(x)
            return atomwise(x)

        out = timed(forward, record, "forward")
        out = timed(lambda: forces_mod(out), record, "forces")

        def backward():
            loss = (1 - RHO) * ((out["energy"] - e_ref) ** 2).mean() + RHO * (
                (out["forces"] - f_ref) ** 2
            ).mean()
            loss.backward()

        timed(backward, record, "backward")
        timed(optimizer_step(optimizer), record, "optimizer")

    phases = run_steps(step, lambda: converter(frames), repeats)
    return {
        "phases_ms": summarize(phases),
        "op_classes": op_classes(lambda: step({}), profile_repeats),
        "parameters": sum(p.numel() for p in model.parameters()),
        "edges": int(prepared[spk.properties.idx_i].shape[0]),
        "versions": {"schnetpack": spk.__version__, "torch": torch.__version__},
    }


# --- driver -----------------------------------------------------------------------------------------
def markdown(res: dict) -> str:
    lines = [
        "# Force-training step: phases and op classes",
        "",
        f"CPU {res['cpu']}, {res['threads']} thread, torch {res['torch']}, batch of 10 rMD17 ethanol frames "
        f"(90 atoms); medians of {res['repeats']} steps; load average at start {res['load_average']}.",
        f"Command: `{res['command']}`.",
        "",
        "## Phases (ms per step)",
        "",
    ]
    names = list(res["runs"])
    keys = [
        "collate",
        "collate_cached",
        "prepare",
        "forward",
        "forces",
        "backward",
        "optimizer",
        "ema",
        "step",
    ]
    lines.append("| phase | " + " | ".join(names) + " |")
    lines.append("|---|" + "---:|" * len(names))
    for k in keys:
        if any(k in res["runs"][n]["phases_ms"] for n in names):
            cells = [
                f"{res['runs'][n]['phases_ms'][k]:.2f}" if k in res["runs"][n]["phases_ms"] else "—"
                for n in names
            ]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "`step` excludes `collate` (the neighbour lists, computed once per dataset in training).",
        "",
    ]
    lines += ["## Op classes (share of profiled self time over the step)", ""]
    classes = sorted({c for n in names for c in res["runs"][n]["op_classes"]})
    lines.append("| class | " + " | ".join(names) + " |")
    lines.append("|---|" + "---:|" * len(names))
    for c in classes:
        cells = [f"{100 * res['runs'][n]['op_classes'].get(c, 0.0):.1f} %" for n in names]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["painn", "so3krates"])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--profile-repeats", type=int, default=5)
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--output", default=str(HERE / "results"))
    p.add_argument("--peer-child", help=argparse.SUPPRESS)  # internal: frames npz for the peer's process
    p.add_argument("--peer-out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if a.peer_child:
        res = schnetpack_profile(a.peer_child, a.repeats, a.profile_repeats)
        Path(a.peer_out).write_text(json.dumps(res))
        return 0
    from equimol.benchmark.systems import train_batch
    from equimol.benchmark.timing import cpu_model
    from equimol.cli.options import allocator_env, retain_freed_memory

    retain_freed_memory()  # as equimol train (--malloc retain, the default)
    structures = train_batch(10)
    res = {
        "cpu": cpu_model(),
        "threads": 1,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "repeats": a.repeats,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "command": "OMP_NUM_THREADS=1 python benchmarks/train_profile.py " + " ".join(argv or sys.argv[1:]),
        "runs": {},
    }
    for model in a.models:
        print(f"equimol {model} …", flush=True)
        res["runs"][f"equimol {model}"] = equimol_profile(model, structures, a.repeats, a.profile_repeats)
    peer_python = ROOT / "peers" / "venv" / "bin" / "python"
    if not a.no_peers and peer_python.exists():
        from equimol import keys as K

        out_dir = Path(a.output)
        out_dir.mkdir(parents=True, exist_ok=True)
        frames = out_dir / ".train_profile_frames.npz"
        np.savez(
            frames,
            numbers=structures[0][K.ATOMIC_NUMBERS],
            positions=np.stack([s[K.POSITIONS] for s in structures]),
            energy=np.array([float(s[K.ENERGY]) for s in structures]),
            forces=np.stack([s[K.FORCES] for s in structures]),
        )
        peer_out = out_dir / ".train_profile_peer.json"
        print("schnetpack painn …", flush=True)
        cmd = [str(peer_python), __file__, "--peer-child", str(frames), "--peer-out", str(peer_out)]
        cmd += ["--repeats", str(a.repeats), "--profile-repeats", str(a.profile_repeats)]
        env = allocator_env({**os.environ, "OMP_NUM_THREADS": "1"})
        subprocess.run(cmd, check=True, env=env)
        res["runs"]["schnetpack painn"] = json.loads(peer_out.read_text())
        frames.unlink()
        peer_out.unlink()
    elif not a.no_peers:
        print(f"no peers venv at {peer_python} (bash benchmarks/peers/setup.sh); schnetpack skipped")
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_profile.json").write_text(json.dumps(res, indent=1))
    (out / "train_profile.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
