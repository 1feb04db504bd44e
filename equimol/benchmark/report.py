"""Benchmark results as JSON and as Markdown tables; which targets of issue 9 are met."""

from __future__ import annotations

import json
import os
from pathlib import Path

from equimol.io import write_text

# (description, model, case prefix, equimol modes accepted, minimum speed-up over the peer);
# issue 9's single-molecule targets and issue 22's batched-inference and training-step targets
ANY = ("model", "compiled")
SPEED_TARGETS = (
    ("PaiNN E+F one ethanol ≥ 2× schnetpack", "painn", "ethanol", ANY, 2.0),
    ("PaiNN E+F 64-bead ring polymer ≥ 2.5× schnetpack", "painn", "ring_polymer", ANY, 2.5),
    ("PaiNN E+F 50-molecule QM9 batch ≥ 2.5× schnetpack", "painn", "qm9", ANY, 2.5),
    ("PaiNN training step, eager, ≥ 1.5× schnetpack", "painn", "ethanol_x", ("model",), 1.5),
    ("PaiNN training step, compiled, ≥ 3× schnetpack", "painn", "ethanol_x", ("compiled",), 3.0),
    ("So3krates training step, eager, ≥ 2× so3krates-torch", "so3krates", "ethanol_x", ("model",), 2.0),
    ("So3krates E+F ≥ 3× so3krates-torch (ethanol)", "so3krates", "ethanol", ANY, 3.0),
    ("So3krates E+F ≥ 2.5× so3krates-torch (64-bead ring polymer)", "so3krates", "ring_polymer", ANY, 2.5),
    ("So3krates E+F ≥ 2.5× so3krates-torch (50-molecule QM9 batch)", "so3krates", "qm9", ANY, 2.5),
    ("So3krates E+F ≥ 3× so3krates-torch (aspirin)", "so3krates", "aspirin", ANY, 3.0),
)


def _ms(s: float | None) -> str:
    return "—" if s is None else f"{1000 * s:.2f}"


def targets(results: dict) -> list[dict]:
    """Each target with the best measured speed-up of the equimol modes it accepts (vs the
    peer's model call)."""
    out = []
    comps = results.get("comparisons", [])
    for text, model, case, modes, need in SPEED_TARGETS:
        kind = "train_step" if case.endswith("_x") else "energy_forces"
        rows = [
            c
            for c in comps
            if c["model"] == model
            and c["case"].startswith(case)
            and c["peer_mode"] == "model"
            and c.get("kind", kind) == kind
        ]
        rows = [c for c in rows if c["mode"] in modes]
        best = max(rows, key=lambda c: c["speedup"], default=None)
        out.append(
            {
                "target": text,
                "needed": need,
                "speedup": None if best is None else best["speedup"],
                "mode": None if best is None else best["mode"],
                "met": None if best is None else bool(best["speedup"] >= need),
            }
        )
    for model in sorted({r["model"] for r in results.get("size_scan", [])}):
        rows = {r["atoms"]: r for r in results["size_scan"] if r["model"] == model}
        hi = max(rows)
        lo = min((n for n in rows if n >= 1000), default=min(rows))  # the range: 1k → 10k
        lo = lo if lo < hi else min(rows)
        if lo == hi:
            continue
        t = rows[hi]["median_s"] / rows[lo]["median_s"] / (hi / lo)
        m = (rows[hi]["peak_mib"] or 0) / max(rows[lo]["peak_mib"] or 1e-9, 1e-9) / (hi / lo)
        e = (
            rows[hi]["edges"] / rows[lo]["edges"] / (hi / lo)
        )  # neighbours per atom grow towards the bulk value
        out.append(
            {
                "target": f"{model}: time and memory linear in atoms ({lo}→{hi})",
                "needed": "per-edge ratios ≤ 1.25",
                "time_ratio_per_atom": t,
                "memory_ratio_per_atom": m,
                "time_ratio_per_edge": t / e,
                "memory_ratio_per_edge": m / e,
                "met": bool(t / e <= 1.25 and m / e <= 1.25),
            }
        )
    return out


def write(results: dict, out_dir: str | os.PathLike, stem: str = "benchmark") -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` (atomically); returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {**results, "targets": targets(results)}
    paths = (out_dir / f"{stem}.json", out_dir / f"{stem}.md")
    for path, text in ((paths[0], json.dumps(results, indent=1, default=str)), (paths[1], markdown(results))):
        write_text(path, text)
    return paths


def markdown(results: dict) -> str:
    env = results.get("environment", {})
    opts = results.get("options", {})
    peak = results.get("matmul_peak", {})
    lines = [
        "# equimol benchmark",
        "",
        (
            f"device **{env.get('device')}** ({env.get('device_name')}), CPU {env.get('cpu_model')}, "
            f"{env.get('cpu_count')} cores, torch threads {env.get('torch_threads')}, torch {env.get('torch')}, "
            f"Python {env.get('python')}, dtype {opts.get('dtype')}, load average at start {env.get('load_average')}."
        ),
        (
            f"Median of {opts.get('repeats')} timed calls after {opts.get('warmup')} warm-up calls, in "
            f"{opts.get('rounds')} rounds interleaved with the other contestants of the same case; "
            if results.get("energy_forces") or results.get("train_step")
            else ""
        )
        + f"matmul peak {peak.get('flops_per_s', 0) / 1e9:.1f} GFLOP/s (float32 {peak.get('n')}² matmul).",
        *([f"**Warning:** {env['warning']}", ""] if env.get("warning") else []),
        "",
    ]
    lines += _energy_forces_table(results)
    lines += _train_table(results) + _peer_only(results) + _scan_table(results) + _flops_table(results)
    lines += _profile_table(results) + _targets_table(results) + _errors(results)
    return "\n".join(lines) + "\n"


def _energy_forces_table(results: dict) -> list[str]:
    ef = results.get("energy_forces", [])
    if not ef:
        return []
    lines = [
        "## Energy + forces (ms)",
        "",
        (
            "`model`: model call on a prepared batch; `with_nl`: neighbour list + collation + call; "
            "`compiled`: torch.compile fast path (model call)."
        ),
        "",
        "| model | case | structures | atoms | edges | model | with_nl | compiled | peer (model) "
        "| peer (with_nl) | speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    comps = results.get("comparisons", [])
    keys = []
    for r in ef:
        if (r["model"], r["case"]) not in keys:
            keys.append((r["model"], r["case"]))
    for model, case in keys:
        rows = {r["mode"]: r for r in ef if r["model"] == model and r["case"] == case}
        base = rows.get("model") or next(iter(rows.values()))
        pm = next(
            (c for c in comps if c["model"] == model and c["case"] == case and c["peer_mode"] == "model"),
            None,
        )
        pn = next(
            (c for c in comps if c["model"] == model and c["case"] == case and c["peer_mode"] == "with_nl"),
            None,
        )
        best = max(
            (
                c["speedup"]
                for c in comps
                if c["model"] == model and c["case"] == case and c["peer_mode"] == "model"
            ),
            default=None,
        )
        lines.append(
            f"| {model} | {case} | {base['structures']} | {base['atoms']} | {base['edges']} | "
            f"{_ms(rows.get('model', {}).get('median_s'))} | {_ms(rows.get('with_nl', {}).get('median_s'))} | "
            f"{_ms(rows.get('compiled', {}).get('median_s'))} | {_ms(pm['peer_s'] if pm else None)} | "
            f"{_ms(pn['peer_s'] if pn else None)} | {'—' if best is None else f'{best:.2f}×'} |"
        )
    lines += [
        "",
        "Speed-up: peer model-call time / best equimol model-call time (eager or compiled), same inputs.",
        "",
    ]
    return lines


def _train_table(results: dict) -> list[str]:
    rows = results.get("train_step", [])
    if not rows:
        return []
    out = [
        "## Training step (ms)",
        "",
        "Batch of rMD17 ethanol frames; E+F loss (ρ = 0.95) with create_graph, backward, Adam step. "
        "`compiled`: `equimol.train.compiled.CompiledLoss` (energy, forces by torch.func.grad and "
        "loss in one compiled graph, its backward compiled too; `training.compile: true`).",
        "",
        "| model | batch | equimol eager | equimol compiled | peer | speed-up |",
        "|---|---|---:|---:|---:|---:|",
    ]
    comps = [c for c in results.get("comparisons", []) if c.get("kind") == "train_step"]
    for model, case in dict.fromkeys((r["model"], r["case"]) for r in rows):
        by_mode = {r["mode"]: r for r in rows if (r["model"], r["case"]) == (model, case)}
        cs = [c for c in comps if (c["model"], c["case"]) == (model, case)]
        best = max(cs, key=lambda c: c["speedup"], default=None)
        eager, comp = by_mode.get("model"), by_mode.get("compiled")
        out.append(
            f"| {model} | {case} | {_ms(eager and eager['median_s'])} | {_ms(comp and comp['median_s'])} | "
            f"{_ms(best['peer_s'] if best else None)} | "
            f"{'—' if best is None else format(best['speedup'], '.2f') + '× ' + best['mode']} |"
        )
    return out + [""]


def _peer_only(results: dict) -> list[str]:
    peers = results.get("peers") or {}
    if "error" in peers:
        return ["## Peers", "", f"Not run: {peers['error']}", ""]
    rows = [r for r in peers.get("results", []) if r["model"] == "so3net"]
    out = []
    if peers:
        out += ["## Peers", "", f"Versions: {peers.get('versions')}, threads {peers.get('threads')}.", ""]
    if rows:
        out += [
            "schnetpack SO3net (no equimol counterpart; single molecules only):",
            "",
            "| case | mode | ms |",
            "|---|---|---:|",
        ]
        out += [f"| {r['case']} | {r['mode']} | {_ms(r['median_s'])} |" for r in rows] + [""]
    for e in peers.get("errors", []):
        out.append(f"- peer {e['model']} failed: {e['error']}")
    return out + ([""] if peers.get("errors") else [])


def _scan_table(results: dict) -> list[str]:
    rows = results.get("size_scan", [])
    if not rows:
        return []
    method = rows[0].get("memory_method", "")
    out = [
        "## Size scan: non-periodic water droplets",
        "",
        (
            f"Peak memory: {method}, over the first call (glibc's default allocator), one process per size; "
            "the timed calls (after at most 2 warm-up calls, one round) use the allocator of the `malloc` "
            "column. A model name with `:key=value` is that model with those options."
        ),
        "",
        "| model | atoms | edges | E+F ms | µs / edge | peak MiB | kB / edge | malloc |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        mem = r.get("peak_mib")
        per_edge = 1e6 * r["median_s"] / max(r["edges"], 1)
        kb = None if mem is None else 1024 * mem / max(r["edges"], 1)
        out.append(
            f"| {r['model']} | {r['atoms']} | {r['edges']} | {_ms(r['median_s'])} | {per_edge:.1f} | "
            f"{'—' if mem is None else f'{mem:.0f}'} | {'—' if kb is None else f'{kb:.1f}'} | "
            f"{r.get('malloc', 'system')} |"
        )
    return out + [""]


def _flops_table(results: dict) -> list[str]:
    rows = results.get("flops", [])
    if not rows:
        return []
    out = [
        "## FLOP rate (every timed case)",
        "",
        "Matmul FLOPs counted by torch.utils.flop_counter (elementwise, gather and scatter ops not "
        "counted), divided by the median time of the case above; compiled graphs run the same matmuls.",
        "",
        "| model | case | work | mode | GFLOP per call | GFLOP/s | fraction of matmul peak |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    out += [
        f"| {r.get('model', 'painn')} | {r['case']} | {r.get('kind', 'energy + forces')} | {r['mode']} | "
        f"{r['matmul_flops'] / 1e9:.3f} | {r['flops_per_s'] / 1e9:.2f} | {100 * r['fraction_of_peak']:.1f}% |"
        for r in rows
    ]
    return out + [""]


def _profile_table(results: dict) -> list[str]:
    prof = results.get("profile")
    if not prof:
        return []
    out = [
        f"## Profile: {prof['model']} energy + forces, {prof['case']} (torch.profiler, self time)",
        "",
        "| op | calls / step | self ms / step | share |",
        "|---|---:|---:|---:|",
    ]
    out += [
        f"| `{r['op']}` | {r['calls_per_step']:.0f} | {r['self_ms_per_step']:.2f} | {100 * r['share']:.1f}% |"
        for r in prof["rows"]
    ]
    return out + [""]


def _targets_table(results: dict) -> list[str]:
    rows = results.get("targets") or targets(results)
    if not rows:
        return []
    out = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for t in rows:
        if "speedup" in t:
            val = "not measured" if t["speedup"] is None else f"{t['speedup']:.3f}× ({t['mode']})"
        else:
            val = (
                f"time/atom ×{t['time_ratio_per_atom']:.2f}, memory/atom ×{t['memory_ratio_per_atom']:.2f}; "
                f"per edge ×{t['time_ratio_per_edge']:.2f}, ×{t['memory_ratio_per_edge']:.2f}"
            )
        out.append(
            f"| {t['target']} | {val} | {'—' if t['met'] is None else ('yes' if t['met'] else 'no')} |"
        )
    return out + [""]


def _errors(results: dict) -> list[str]:
    errs = results.get("errors", [])
    if not errs:
        return []
    return ["## Errors (skipped)", ""] + [f"- {e['model']} / {e['stage']}: {e['error']}" for e in errs] + [""]
