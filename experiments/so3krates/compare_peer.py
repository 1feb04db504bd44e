"""equimol So3krates vs so3krates-torch: parameter count and time per energy + forces call.

    OMP_NUM_THREADS=1 python experiments/so3krates/compare_peer.py            # -> peer_comparison.{json,md}
    OMP_NUM_THREADS=1 python experiments/so3krates/compare_peer.py --smoke    # tiny check, outputs in /tmp

One run, two hyperparameter settings, both with the same values on both sides:
  paper           F 132, 6 layers, degrees 1..3, 4 heads, 32 RBFs, r_cut 5 Å (the paper's; what
                  benchmarks/ times too)
  ethanol_budget  the model of so3krates_ethanol.yaml (read from it: F 96, 3 layers, l_max 3, ...)
and two inputs, the first frame of rMD17 ethanol and aspirin (9 and 21 atoms, split 01), one
molecule per call, float32, random weights (seed 0), 1 torch thread (``--threads``).

Reused, not copied: the peer runs in its own venv (peers/venv, ``benchmarks/peers/setup.sh``)
through equimol.benchmark.peers.PeerServer, started on peer_side.py, which imports
benchmarks/peers/run_peers.py and only changes the So3krates hyperparameters; the inputs are
written by equimol.benchmark.peers.write_inputs; equimol's side is built, frozen and batched by
equimol.benchmark.cases and timed by equimol.benchmark.timing (``raw_times``, ``interleave``):
``--rounds`` alternating rounds equimol / peer, ``--repeats`` timed calls each after ``--warmup``
untimed ones, median reported, so that changes of the machine load hit both alike.

What is timed is the model call on an input prepared once (neighbour list and collation not
timed; both use full neighbour lists with the same cutoff): equimol ``potential(batch,
create_graph=False)`` and so3krates-torch ``model(data, training=False)``, energy plus forces by
autograd, with the parameters of both models frozen (no weight gradients; equimol's benchmark does
the same on its side).

Hyperparameters aligned: F, layers, degrees, heads, number of RBFs, cosine cutoff, SiLU, and
equimol's filter MLP widths set to the peer's (K → F → F and |L| → F/4 → F; equimol's defaults are
128 and 32). The architectures still differ (the peer implements the later Euclidean-transformer
SO3krates, Frank et al., Nat. Commun. 2024; equimol the NeurIPS 2022 So3krates), see the report's
notes; parameter counts are reported per component for both.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import yaml

HERE = Path(__file__).resolve().parent
PEER_SIDE = HERE / "peer_side.py"
SMOKE = Path("/tmp/so3krates_peer_smoke")
PAPER = {"n_features": 132, "n_layers": 6, "l_max": 3, "n_heads": 4, "n_rbf": 32, "cutoff": 5.0}

NOTES = [
    "Interaction block: the peer's is one linear layer [f, (‖χ^(l)‖²)_l] → [Δf, b] (F+|L| → F+|L|) with "
    "Δχ^(l) = b^(l) χ^(l) (Nat. Commun. 2024, Eqs. 24–27); equimol's is the NeurIPS 2022 one: an MLP "
    "F+|L| → F → F+|L| plus a linear F → |L| scaling a cross-degree Clebsch–Gordan product of χ "
    "(Eqs. 17–19). This is where most of the parameter difference comes from.",
    "SPHC / Euclidean-variable initialisation: the peer starts from zeros (its code's default, "
    "initialize_ev_to_zeros=True), equimol from the cutoff-weighted sum of the neighbours' spherical "
    "harmonics divided by 1 + Σ_j φ(r_ij) (Eq. 11); so the peer's first layer sees ‖χ_j − χ_i‖ = 0.",
    "Attention normalisation: the peer divides the coefficients by avg_num_neighbors (default 1), "
    "equimol by √(F/heads).",
    "Radial basis: the peer's is Gaussian (its default), equimol's exp-normal (same count K = 32, "
    "no trainable parameters on either side).",
    "Element embedding: the peer's is a linear map of a 118-element one-hot (118·F weights), "
    "equimol's an embedding table of 100 elements (100·F).",
    "Energy head: the peer's MLP is F → F → 1, equimol's F → F/2 → 1 (plus per-element shifts and a "
    "scale that are buffers on both sides; the peer's 236 non-trainable parameters are those).",
    "Filters and attention projections (2 filter MLPs per layer, per-head W_q, W_k, W_v for the "
    "features, per-degree W_q, W_k for the SPHCs) have identical shapes on both sides after the "
    "width alignment.",
]


def settings() -> dict[str, dict]:
    """equimol So3krates options per setting, filter widths aligned to the peer's."""
    model = yaml.safe_load((HERE / "so3krates_ethanol.yaml").read_text())["model"]
    budget = {k: v for k, v in model.items() if k != "name"}
    out = {}
    for name, opts in (("paper", PAPER), ("ethanol_budget", {**PAPER, **budget})):
        f = int(opts["n_features"])
        out[name] = {**opts, "radial_hidden": f, "spherical_hidden": f // 4}
    return out


def peer_options(opts: dict) -> dict:
    """so3krates-torch constructor options for equimol options ``opts``."""
    l_min = 1 if opts["l_max"] >= 1 else 0
    return {
        "num_features": opts["n_features"],
        "num_layers": opts["n_layers"],
        "degrees": list(range(l_min, opts["l_max"] + 1)),
        "num_heads": opts["n_heads"],
        "num_radial_basis_fn": opts["n_rbf"],
        "r_max": opts["cutoff"],
    }


def equimol_parameters(model) -> dict:
    groups: dict[str, int] = {}
    names = {
        "embedding": "embedding",
        "feature_filter": "feature filter",
        "sphc_filter": "SPHC filter",
        "feature_attention": "feature attention",
        "sphc_attention": "SPHC attention",
        "interaction": "atomwise interaction",
    }
    for name, p in model.named_parameters():
        parts = name.split(".")
        if parts[0] == "heads":
            group = "energy head"
        elif parts[1] == "layers":
            group = names.get(parts[3], "other")
        else:
            group = names.get(parts[1], "other")
        groups[group] = groups.get(group, 0) + p.numel()
    return {"parameters": sum(groups.values()), "groups": groups}


@contextmanager
def peer_script(path: Path):
    """PeerServer starts benchmarks/peers/run_peers.py; start peer_side.py (which wraps it) instead."""
    from equimol.benchmark import peers

    old = peers.PEER_SCRIPT
    peers.PEER_SCRIPT = path
    try:
        yield
    finally:
        peers.PEER_SCRIPT = old


def describe_peer(python: Path, options: dict) -> dict:
    out = subprocess.run(
        [str(python), str(PEER_SIDE), "--describe", json.dumps(options)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--settings", nargs="+", default=["paper", "ethanol_budget"])
    p.add_argument("--cases", nargs="+", default=["ethanol", "aspirin"])
    p.add_argument(
        "--peers-python", default=None, help="default: peers/venv/bin/python or $EQUIMOL_PEERS_PYTHON"
    )
    p.add_argument("--out", type=Path, default=HERE)
    p.add_argument("--smoke", action="store_true", help=f"2 calls per side, outputs in {SMOKE}")
    a = p.parse_args()
    if a.smoke:
        a.repeats, a.warmup, a.rounds, a.out = 2, 1, 1, SMOKE

    from equimol.benchmark import cases as C
    from equimol.benchmark import systems as S
    from equimol.benchmark.peers import PeerServer, peers_python, write_inputs
    from equimol.benchmark.timing import environment, interleave, raw_times
    from equimol.cli.options import retain_freed_memory

    torch.set_num_threads(a.threads)
    retain = retain_freed_memory()  # as the benchmark harness (default --malloc retain); the peer too
    python = peers_python(a.peers_python)
    if python is None:
        raise SystemExit(
            "peers' venv not found: run `bash benchmarks/peers/setup.sh` (or set EQUIMOL_PEERS_PYTHON)"
        )
    systems = {c: [S.rmd17(c)[0]] for c in a.cases}
    all_settings = settings()
    report: dict = {
        "environment": environment("cpu"),
        "malloc_retain": retain,
        "options": {k: v for k, v in vars(a).items() if k != "out"},
        "settings": {},
        "timings": [],
        "notes": NOTES,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    report["options"]["out"] = str(a.out)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        write_inputs(inputs, systems)
        for name in a.settings:
            opts = all_settings[name]
            popts = peer_options(opts)
            model = C.freeze(C.build("so3krates", **opts).eval())
            default_width = C.build(
                "so3krates",
                **{k: v for k, v in opts.items() if k not in ("radial_hidden", "spherical_hidden")},
            )
            peer = describe_peer(python, popts)
            report["settings"][name] = {
                "equimol": {
                    "options": model.spec["model"]["options"],
                    **equimol_parameters(model),
                    "parameters_default_filter_widths": sum(q.numel() for q in default_width.parameters()),
                },
                "so3krates-torch": peer,
            }
            report["peer_versions"] = peer["versions"]
            cfg = {
                "threads": a.threads,
                "device": "cpu",
                "dtype": "float32",
                "so3krates_options": popts,
                "freeze": True,
            }
            with (
                peer_script(PEER_SIDE),
                PeerServer(inputs, cfg, a.peers_python, retain_memory=retain) as server,
            ):
                if server.error:
                    raise SystemExit(f"peer server: {server.error}")
                for case, structures in systems.items():
                    batch = C.make_batch(structures, model.cutoff, torch.float32, "cpu")
                    call = C.energy_forces(model, batch)
                    edges = {}

                    def peer_timer(k: int, w: int, case=case, edges=edges) -> list[float]:
                        out = server.time("so3krates", case, "model", k, w)
                        if "error" in out:
                            raise RuntimeError(out["error"])
                        edges["peer"] = out.get("edges")
                        return out["times_s"]

                    timings = interleave(
                        {
                            "equimol": lambda k, w, call=call: raw_times(call, w, k),
                            "so3krates-torch": peer_timer,
                        },
                        a.warmup,
                        a.repeats,
                        a.rounds,
                    )
                    row = {
                        "setting": name,
                        "case": case,
                        "atoms": int(batch["atomic_numbers"].shape[0]),
                        "edges_equimol": int(batch["edge_index"].shape[1]),
                        "edges_peer": edges.get("peer"),
                        **{side: t for side, t in timings.items()},
                    }
                    e, q = timings["equimol"], timings["so3krates-torch"]
                    if "median_s" in e and "median_s" in q:
                        row["peer_over_equimol"] = q["median_s"] / e["median_s"]
                    report["timings"].append(row)
                    print(
                        f"{name:15s} {case:8s} equimol {1000 * e.get('median_s', float('nan')):7.2f} ms  "
                        f"so3krates-torch {1000 * q.get('median_s', float('nan')):7.2f} ms",
                        flush=True,
                    )
    report["wall_time_s"] = time.perf_counter() - t0
    report["load_average_end"] = [round(x, 2) for x in __import__("os").getloadavg()]
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "peer_comparison.json").write_text(json.dumps(report, indent=1))
    (a.out / "peer_comparison.md").write_text(markdown(report, a.smoke))
    print(f"wrote {a.out / 'peer_comparison.json'} and .md ({report['wall_time_s']:.0f} s)")


def markdown(r: dict, smoke: bool) -> str:
    env = r["environment"]
    o = r["options"]
    lines = [
        "# So3krates: equimol vs so3krates-torch",
        "",
        f"Written by `experiments/so3krates/compare_peer.py`{' --smoke (NOT a result)' if smoke else ''} "
        f"on {r['started']}. {env['cpu_model']}, {env['cpu_count']} cores, torch {env['torch']} on both sides "
        f"(peer: {r.get('peer_versions', {}).get('so3krates-torch')}), {o['threads']} torch thread(s), float32. "
        f"Load average at start {env.get('load_average')}, at end {r.get('load_average_end')} "
        "(a shared machine: other jobs ran, so absolute times can be off by tens of per cent; the "
        "interleaving makes the ratio more reliable than the absolute numbers).",
        "",
        f"Median of {o['repeats']} energy + forces calls per side after {o['warmup']} warm-up calls, in "
        f"{o['rounds']} alternating rounds; one molecule per call (first frame of rMD17 split 01), input "
        "prepared once (neighbour list not timed), parameters frozen on both sides.",
        "",
        "## Parameters",
        "",
        "| setting | hyperparameters | equimol | so3krates-torch | equimol with its default filter widths |",
        "|---|---|---|---|---|",
    ]
    for name, s in r["settings"].items():
        eo = s["equimol"]["options"]
        hp = (
            f"F {eo['n_features']}, {eo['n_layers']} layers, l = {eo['l_min'] or 1}..{eo['l_max']}, "
            f"{eo['n_heads']} heads, {eo['n_rbf']} RBFs, r_cut {eo['cutoff']} Å"
        )
        lines.append(
            f"| {name} | {hp} | {s['equimol']['parameters']:,} | {s['so3krates-torch']['parameters']:,} "
            f"(+{s['so3krates-torch']['non_trainable_parameters']} fixed) | "
            f"{s['equimol']['parameters_default_filter_widths']:,} |"
        )
    lines += ["", "Per component:", ""]
    for name, s in r["settings"].items():
        groups = list(dict.fromkeys([*s["equimol"]["groups"], *s["so3krates-torch"]["groups"]]))
        lines += [f"**{name}**", "", "| component | equimol | so3krates-torch |", "|---|---|---|"]
        for g in groups:
            lines.append(
                f"| {g} | {s['equimol']['groups'].get(g, 0):,} | {s['so3krates-torch']['groups'].get(g, 0):,} |"
            )
        lines.append("")
    lines += [
        "## Time per energy + forces call",
        "",
        "| setting | molecule | atoms | edges (equimol / peer) | equimol ms (IQR) | so3krates-torch ms (IQR) | "
        "peer / equimol |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in r["timings"]:

        def ms(side, t=t):
            x = t[side]
            return (
                f"{1000 * x['median_s']:.2f} ({1000 * x['iqr_s']:.2f})"
                if "median_s" in x
                else x.get("error", "—")
            )

        ratio = f"{t['peer_over_equimol']:.2f}×" if "peer_over_equimol" in t else "—"
        lines.append(
            f"| {t['setting']} | {t['case']} | {t['atoms']} | {t['edges_equimol']} / {t['edges_peer']} | "
            f"{ms('equimol')} | {ms('so3krates-torch')} | {ratio} |"
        )
    lines += [
        "",
        "## Where the two differ",
        "",
        "so3krates-torch implements the later Euclidean-transformer SO3krates (Frank et al., Nat. Commun. "
        "2024); equimol the NeurIPS 2022 So3krates. Aligned: F, layers, degrees, heads, number of radial "
        "functions, cosine cutoff, SiLU, filter MLP widths (equimol's set to the peer's K → F → F and "
        "|L| → F/4 → F). Left as they are:",
        "",
    ]
    lines += [f"- {n}" for n in r["notes"]]
    lines += ["", f"Whole run: {r['wall_time_s']:.0f} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
