"""One thread against two: energy + forces of equimol and the peers at 1 and 2 threads, one run (issue 22).

    python benchmarks/threads_scaling.py                      # -> results/threads.{json,md}; ≈ 10 min
    python benchmarks/threads_scaling.py --cases ring_polymer_64 --models painn --repeats 10

Cases: one ethanol (72 edges), 64 ethanol beads (4 608 edges), a 1 000-atom water droplet
(≈ 43 000 edges). Contestants: equimol PaiNN and So3krates at the papers' sizes through the public
API (``equimol.benchmark.cases.build`` + a prepared batch, eval mode: the default inference
path), schnetpack PaiNN and so3krates-torch So3krates in the peers' venv (``peers/venv``; a
server process that switches its thread count per request). Every (contestant, thread count) is
timed in interleaved rounds (A1 A2 B1 B2 … repeated ``--rounds`` times), so machine drifts hit
all alike; medians of ``--repeats`` calls.

Run it on an idle machine: a second thread only helps when the second core is free, and
OpenMP's busy-waiting makes small calls far slower when it is not. The OpenMP wait policy is
what the environment says (``OMP_WAIT_POLICY``, recorded); ``equimol`` commands pick their thread
count with :func:`equimol.cli.threads.default_threads`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
PEER_MODEL = {"painn": ("schnetpack", "painn"), "so3krates": ("so3krates-torch", "so3krates")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", nargs="+", default=["ethanol", "ring_polymer_64", "water_1000"])
    p.add_argument("--models", nargs="+", default=["painn", "so3krates"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--repeats", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--output", default=str(HERE / "results"))
    p.add_argument("--name", default="threads")
    a = p.parse_args(argv)

    from equimol.benchmark import cases as bc
    from equimol.benchmark import systems
    from equimol.benchmark.peers import PeerServer, write_inputs
    from equimol.benchmark.timing import environment, interleave, raw_times
    from equimol.cli.options import retain_freed_memory

    retain_freed_memory()
    inputs = systems.inference_systems()
    for c in a.cases:
        if c.startswith("water_"):
            inputs[c] = [systems.water_droplet(int(c.split("_")[1]))]
    inputs = {c: inputs[c] for c in a.cases}
    env = environment()
    env["load_average"] = [round(x, 2) for x in os.getloadavg()]
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "inputs.npz"
        write_inputs(npz, inputs)
        server = None
        if not a.no_peers:
            models = sorted({PEER_MODEL[m][1] for m in a.models})
            server = PeerServer(npz, {"models": models, "modes": ["model"]}, retain_memory=True)
            if server.error:
                print(f"peers skipped: {server.error}")
                server = None
        try:
            for model in a.models:
                pot = bc.freeze(bc.build(model)).eval()
                for case, structures in inputs.items():
                    batch = bc.make_batch(structures, pot.cutoff, torch.float32, "cpu")
                    call = bc.energy_forces(pot, batch)
                    contestants = {}
                    for t in a.threads:

                        def mine(n, w, t=t, call=call):
                            torch.set_num_threads(t)
                            return raw_times(call, w, n)

                        contestants[f"equimol {model} ×{t}"] = mine
                        if server is not None:
                            peer, peer_model = PEER_MODEL[model]

                            def theirs(n, w, t=t, peer_model=peer_model, case=case):
                                out = server.time(peer_model, case, "model", n, w, threads=t)
                                if "error" in out:
                                    raise RuntimeError(out["error"])
                                return out["times_s"]

                            contestants[f"{peer} {model} ×{t}"] = theirs
                    timed = interleave(contestants, a.warmup, a.repeats, a.rounds)
                    torch.set_num_threads(1)
                    edges = int(batch["edge_index"].shape[1])
                    for name, r in timed.items():
                        who, _, threads = name.rpartition(" ×")
                        results.append(
                            {"contestant": who, "case": case, "edges": edges, "threads": int(threads), **r}
                        )
                        print(
                            f"{case:16s} {name:32s} {1e3 * r.get('median_s', float('nan')):9.2f} ms",
                            flush=True,
                        )
        finally:
            if server is not None:
                server.close()
    res = {
        "environment": env,
        "command": "python benchmarks/threads_scaling.py " + " ".join(argv or sys.argv[1:]),
    }
    res["results"] = results
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{a.name}.json").write_text(json.dumps(res, indent=1))
    (out / f"{a.name}.md").write_text(markdown(res, a.threads))
    print(markdown(res, a.threads))
    return 0


def markdown(res: dict, threads: list[int]) -> str:
    env = res["environment"]
    lines = [
        "# Energy + forces at 1 and 2 threads",
        "",
        f"CPU {env['cpu_model']}, {env['cpu_count']} cores, torch {env['torch']}, OMP_WAIT_POLICY "
        f"{env.get('omp_wait_policy') or 'unset (libgomp default)'}, load average at start {env['load_average']}.",
        f"Command: `{res['command']}`. Medians (ms); speed-up = time at {threads[0]} thread / time at {threads[-1]}.",
        "",
        "| case | edges | contestant | "
        + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in threads)
        + " | speed-up |",
        "|---|---:|---|" + "---:|" * (len(threads) + 1),
    ]
    rows: dict[tuple, dict] = {}
    for r in res["results"]:
        rows.setdefault((r["case"], r["edges"], r["contestant"]), {})[r["threads"]] = r.get("median_s")
    for (case, edges, who), by_t in rows.items():
        cells = [f"{1e3 * by_t[t]:.2f}" if by_t.get(t) else "error" for t in threads]
        first, last = by_t.get(threads[0]), by_t.get(threads[-1])
        speed = f"{first / last:.2f}×" if first and last else "—"
        lines.append(f"| {case} | {edges} | {who} | " + " | ".join(cells) + f" | {speed} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
