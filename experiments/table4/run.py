"""PaiNN Table IV (issue #8, invariant vs equivariant): ablations on rMD17 aspirin.

Five PaiNN variants, trained with the same budget (same number of epochs) on rMD17 aspirin
split 01 (950 train / 50 validation, seed 1, as experiments/rmd17/painn_ethanol.yaml) and
tested on the held-out frames (split 02 minus split 01, experiments/rmd17/make_heldout.py):

    full                   PaiNN, F = --n-features (64), 3 interactions, r_cut 5 Å
    no_scalar_product      scalar_product=False       (no ⟨U v, V v⟩ term in the update, Eq. 10)
    no_vector_propagation  vector_propagation=False   (W_vv = 0, Eq. 8)
    no_both                both switches off
    no_vectors             vectors=False              (invariant, SchNet-like PaiNN)

The variants other than ``full`` get the n_features that ``match_parameters`` picks so that
their parameter counts (``count_parameters`` of the built model, energy head included) equal
the full model's within 2 %. The ablated models carry no weights for what they switch off (no
a_sv output of the update's φ without the scalar product, no W_vv rows without vector
propagation), so they get a larger F (67, 68, 71 and 105 at F = 64 for the full model);
results.md also lists how many parameters receive a gradient on an aspirin batch.

Training: batch 10, lr 1e-3 (halved on plateaus, patience 30), loss 0.05·MSE(E) + 0.95·MSE(F)
(ρ = 0.95), EMA 0.99, seed 1, ``--epochs`` (30) epochs for every variant.

Commands (from the repository root; one torch thread per run on the shared 2-core machine):

    .venv/bin/python experiments/table4/run.py --write-configs [--epochs 30 --n-features 64]
    OMP_NUM_THREADS=1 .venv/bin/python experiments/table4/run.py                   # all variants
    OMP_NUM_THREADS=1 .venv/bin/python experiments/table4/run.py --variants full no_vectors
    .venv/bin/python experiments/table4/run.py --report-only                      # tables only
    OMP_NUM_THREADS=1 .venv/bin/python experiments/table4/run.py --smoke           # tiny check in /tmp

The default action writes missing configs (experiments/table4/configs/<variant>.yaml), then per
variant: trains with ``equimol train CONFIG`` (``--resume`` when runs/table4/<variant>/last.pt
exists; skipped when the run has finished its epochs or stopped early), evaluates best.pt on
runs/rmd17_aspirin_heldout.npz (made by make_heldout.py when missing; cached per best epoch in
runs/table4/<variant>/heldout.json) and writes experiments/table4/results.{json,md}. Interrupt
at any time and rerun the same command to continue. To change the budget, rewrite the configs
with ``--write-configs --epochs N`` and rerun: finished runs continue to the new epoch count.
``--report-only`` trains nothing and rebuilds results.{json,md} from whatever runs exist.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from equimol.train.checkpoint import run_state
from equimol.train.resume import train_or_resume

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "data" / "rmd17"
TRAIN = SHARED / "rmd17_aspirin_train_01.npz"
HELDOUT = ROOT / "runs" / "rmd17_aspirin_heldout.npz"
SMOKE = Path("/tmp/equimol_smoke/table4")

VARIANTS: dict[str, dict[str, bool]] = {
    "full": {},
    "no_scalar_product": {"scalar_product": False},
    "no_vector_propagation": {"vector_propagation": False},
    "no_both": {"scalar_product": False, "vector_propagation": False},
    "no_vectors": {"vectors": False},
}
SWITCHES = ("scalar_product", "vector_propagation", "vectors")
BASE = {"n_interactions": 3, "cutoff": 5.0}


class Layout:
    """Where configs, runs, data and results go (the repository, or /tmp for --smoke)."""

    def __init__(self, smoke: bool):
        self.smoke = smoke
        base = SMOKE if smoke else HERE
        self.configs = base / "configs"
        self.runs = SMOKE / "runs" if smoke else ROOT / "runs" / "table4"
        self.heldout = SMOKE / "rmd17_aspirin_heldout.npz" if smoke else HELDOUT
        self.results = base

    def path_in_config(self, target: Path) -> str:
        """``target`` as written into a config: relative to the config folder (absolute in /tmp)."""
        return str(target) if self.smoke else os.path.relpath(target, self.configs)


# ----------------------------------------------------------------------------- configs


def model_sizes(n_features: int, variants: list[str]) -> dict[str, dict]:
    """{variant: {"n_features", "n_parameters"}}: full at ``n_features``, the others matched to it."""
    from equimol.param_count import count_parameters, match_parameters
    from equimol.potential import build_model

    target = count_parameters(build_model("painn", n_features=n_features, **BASE))
    out = {}
    for v in variants:
        if not VARIANTS[v]:
            out[v] = {"n_features": n_features, "n_parameters": target}
        else:
            m = match_parameters("painn", target, vary="n_features", **BASE, **VARIANTS[v])
            out[v] = {"n_features": m.value, "n_parameters": m.n_parameters}
    return out


def config(variant: str, n_features: int, epochs: int, lay: Layout, n_train: int, n_val: int) -> dict:
    return {
        "data": {
            "train": lay.path_in_config(TRAIN),
            "n_train": n_train,
            "n_val": n_val,
            "seed": 1,
            "targets": ["energy", "forces"],
        },
        "model": {"name": "painn", "n_features": n_features, **BASE, **VARIANTS[variant]},
        "training": {
            "epochs": epochs,
            "batch_size": 10,
            "lr": 1.0e-3,
            "weights": {"energy": 0.05, "forces": 0.95},
            "lr_factor": 0.5,
            "lr_patience": 30,
            "smoothing": 0.9,
            "min_lr": 1.0e-5,
            "early_stopping_patience": 300,
            "ema_decay": 0.99,
            "seed": 1,
            # the compiled training step (equimol.train.compiled): every aspirin batch has the same
            # shape; all five variants' loss gradients equal eager ones to 6e-7 (relative), and a
            # step of 10 frames took 36 vs 100 ms (full) to 19 vs 28 ms (no_vectors), one thread
            "compile": not lay.smoke,
            "progress": False,
        },
        "output_dir": lay.path_in_config(lay.runs / variant),
    }


def write_configs(
    variants: list[str],
    n_features: int,
    epochs: int,
    lay: Layout,
    n_train: int,
    n_val: int,
    only_missing: bool,
) -> None:
    todo = [v for v in variants if not (only_missing and (lay.configs / f"{v}.yaml").exists())]
    if not todo:
        return
    sizes = model_sizes(n_features, list(dict.fromkeys(["full", *todo])))
    lay.configs.mkdir(parents=True, exist_ok=True)
    for v in todo:
        s = sizes[v]
        err = 100 * (s["n_parameters"] - sizes["full"]["n_parameters"]) / sizes["full"]["n_parameters"]
        head = (
            f"# PaiNN Table IV variant '{v}' on rMD17 aspirin (experiments/table4/run.py).\n"
            f"# {s['n_parameters']} parameters ({err:+.2f} % vs the full model with F = {n_features}); "
            f"written by run.py --write-configs.\n"
        )
        text = yaml.safe_dump(config(v, s["n_features"], epochs, lay, n_train, n_val), sort_keys=False)
        (lay.configs / f"{v}.yaml").write_text(head + text)
        print(
            f"wrote {lay.configs / f'{v}.yaml'}: n_features {s['n_features']}, "
            f"{s['n_parameters']} parameters ({err:+.2f} %)"
        )


# ----------------------------------------------------------------------------- training


def train_run(name: str, cfg_path: Path) -> None:
    """``equimol train CONFIG [--resume]`` unless the run is finished."""
    train_or_resume(name, cfg_path, cwd=ROOT)


# ----------------------------------------------------------------------------- evaluation


def ensure_heldout(path: Path) -> None:
    if not path.exists():
        script = ROOT / "experiments/rmd17/make_heldout.py"
        subprocess.run([sys.executable, str(script), "aspirin", str(path)], check=True, cwd=ROOT)


def evaluate_run(run_dir: Path, heldout: Path, structures, max_frames: int | None) -> dict | None:
    """Held-out metrics of best.pt (eV units), cached in run_dir/heldout.json per best epoch."""
    from equimol.train.checkpoint import load, read_checkpoint
    from equimol.train.evaluate import evaluate_structures

    best = run_dir / "best.pt"
    if not best.exists():
        return None
    epoch = read_checkpoint(best)["metadata"]["epoch"]
    key = {"best_epoch": epoch, "data": str(heldout), "max_frames": max_frames}
    cache = run_dir / "heldout.json"
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached
    frames = structures()
    out = {"key": key, **evaluate_structures(load(best), frames)}
    cache.write_text(json.dumps(out, indent=1))
    return out


def parameters_with_gradient(potential, structures) -> int:
    """Parameter entries with a non-zero gradient of an energy + force loss on ``structures``
    (W_vv of the first message, vector outputs of the last update, embeddings of absent elements get none)."""
    import torch

    from equimol import keys as K
    from equimol.data.dataset import GraphDataset
    from equimol.train.loop import batches

    potential.train()
    dataset = GraphDataset(structures, potential.cutoff, cache=False)
    batch = next(batches(dataset, len(structures), torch.float32))
    pred = potential(batch, create_graph=True)
    (pred[K.ENERGY].sum() + (pred[K.FORCES] ** 2).sum()).backward()
    return int(sum((p.grad != 0).sum() for p in potential.parameters() if p.grad is not None))


def earlier_rows(lay: Layout) -> dict[str, dict]:
    """The rows of the committed results.json by variant ({} when there is none or it is unreadable)."""
    try:
        return {r["variant"]: r for r in json.loads((lay.results / "results.json").read_text())["rows"]}
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        return {}


def report(variants: list[str], lay: Layout, max_frames: int | None) -> dict:
    """Evaluate every variant in ``variants`` and write results.{json,md} and the plot. A variant
    whose run folder is absent keeps its row from the results.json already there (marked
    "(earlier checkout)"), so a partial rerun or a fresh checkout does not drop results."""
    from equimol.data.formats import read_structures
    from equimol.param_count import count_parameters
    from equimol.potential import build_model
    from equimol.train.checkpoint import read_checkpoint
    from equimol.train.config import load_config

    frames: list = []

    def heldout_structures():
        if not frames:
            ensure_heldout(lay.heldout)
            frames.extend(read_structures(lay.heldout)[:max_frames])
        return frames

    probe: list = []

    def probe_structures():
        """Two training frames, read once the first variant is evaluated here."""
        if not probe:
            probe.extend(read_structures(TRAIN, index=slice(0, 2)))
        return probe

    earlier = earlier_rows(lay)
    rows = []
    for v in variants:
        cfg_path = lay.configs / f"{v}.yaml"
        if not cfg_path.exists():
            print(f"[{v}] no config {cfg_path}: left out")
            continue
        cfg = load_config(cfg_path)
        run_dir = Path(cfg.output_dir)
        if not run_dir.exists() and v in earlier:
            # a run of an earlier checkout (runs/ is not in git): its committed row stays
            row = {**earlier[v], "run_folder_here": False}
            if not row["status"].endswith("(earlier checkout)"):
                row["status"] += " (earlier checkout)"
            rows.append(row)
            print(f"[{v}] no run folder here: its row from {lay.results / 'results.json'} is kept")
            continue
        options = {k: val for k, val in cfg.model.items() if k not in ("name", "heads")}
        potential = build_model(cfg.model["name"], **options)
        state = run_state(run_dir, cfg.training.epochs)
        row = {
            "variant": v,
            **{s: bool(options.get(s, True)) for s in SWITCHES},
            "n_features": options["n_features"],
            "n_parameters": count_parameters(potential),
            "n_parameters_with_gradient": parameters_with_gradient(potential, probe_structures()),
            "epochs_budget": cfg.training.epochs,
            "epochs_run": state["epochs"],
            "status": state["status"],
            "train_minutes": state["wall_time_s"] / 60,
            "seconds_per_epoch": state["wall_time_s"] / state["epochs"] if state["epochs"] else None,
        }
        ev = evaluate_run(run_dir, lay.heldout, heldout_structures, max_frames)
        if ev is not None:
            meta = read_checkpoint(run_dir / "best.pt")["metadata"]
            val = meta["val_metrics"]
            m = ev["metrics"]
            row.update(
                {
                    "best_epoch": meta["epoch"],
                    "val_energy_mae_meV": 1000 * val["energy"]["mae"],
                    "val_forces_mae_meV_A": 1000 * val["forces"]["mae"],
                    "test_frames": ev["n_structures"],
                    "test_energy_mae_meV": 1000 * m["energy"]["mae"],
                    "test_forces_mae_meV_A": 1000 * m["forces"]["mae"],
                    "test_energy_rmse_meV": 1000 * m["energy"]["rmse"],
                    "test_forces_rmse_meV_A": 1000 * m["forces"]["rmse"],
                }
            )
        rows.append(row)
    result = {
        "experiment": "PaiNN Table IV ablations, rMD17 aspirin split 01",
        "train_data": str(TRAIN),
        "heldout_data": str(lay.heldout),
        "rows": rows,
    }
    lay.results.mkdir(parents=True, exist_ok=True)
    (lay.results / "results.json").write_text(json.dumps(result, indent=1))
    md = markdown(result)
    (lay.results / "results.md").write_text(md)
    print(md)
    print(f"wrote {lay.results / 'results.json'} and {lay.results / 'results.md'}")
    from plot import plot  # experiments/table4/plot.py, beside this script

    print(f"wrote {plot(result, lay.results / 'ablation.png')}")
    return result


def _f(x, fmt: str = ".2f") -> str:
    return "—" if x is None else format(x, fmt)


def markdown(result: dict) -> str:
    rows = result["rows"]
    budgets = sorted({r.get("epochs_budget") for r in rows if r.get("epochs_budget")})
    budget = (
        f"{budgets[0]} epochs for every variant"
        if len(budgets) == 1
        else (
            "epochs per variant as in the table (the budgets differ: compare with care)"
            if budgets
            else "— epochs"
        )
    )
    n_test = next((r["test_frames"] for r in rows if "test_frames" in r), "—")
    lines = [
        "# PaiNN Table IV ablations on rMD17 aspirin",
        "",
        f"Training: split 01, {budget} (batch 10, lr 1e-3, "
        "ρ = 0.95, EMA 0.99, seed 1). Test: the held-out frames of split 02 not in split 01 "
        f"({n_test} frames). MAE in meV and meV/Å; generated by `experiments/table4/run.py`.",
        "",
        "| variant | scalar product | vector propagation | vectors | F | parameters | with gradient "
        "| epochs | train min | val E MAE | val F MAE | test E MAE | test F MAE |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        yes = {True: "yes", False: "no"}
        lines.append(
            f"| {r['variant']} | {yes[r['scalar_product']]} | {yes[r['vector_propagation']]} "
            f"| {yes[r['vectors']]} "
            f"| {r['n_features']} | {r['n_parameters']} | {r['n_parameters_with_gradient']} "
            f"| {r['epochs_run']}/{r['epochs_budget']} | {_f(r['train_minutes'], '.1f')} "
            f"| {_f(r.get('val_energy_mae_meV'))} | {_f(r.get('val_forces_mae_meV_A'))} "
            f"| {_f(r.get('test_energy_mae_meV'))} | {_f(r.get('test_forces_mae_meV_A'))} |"
        )
    lines += ["", "Status per run:", ""]
    lines += [
        f"- {r['variant']}: {r['status']}"
        + (f"; best epoch {r['best_epoch']}" if "best_epoch" in r else "")
        + (f"; {r['seconds_per_epoch']:.1f} s per epoch" if r["seconds_per_epoch"] else "")
        for r in rows
    ]
    lines += [
        "",
        '"parameters" is `count_parameters` of the built model (energy head included), '
        'matched within 2 % by `match_parameters`; "with gradient" counts the entries that '
        "receive a non-zero gradient on an aspirin batch (every variant has some that an energy "
        "does not train: W_vv of the first message, which acts on v = 0, vector outputs of the last "
        "update, and embedding rows of elements absent from aspirin).",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--write-configs", action="store_true", help="(re)write the configs and exit")
    p.add_argument("--report-only", action="store_true", help="train nothing; rebuild results.{json,md}")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--epochs", type=int, default=None, help="epochs per variant (default 30; smoke 1)")
    p.add_argument("--n-features", type=int, default=None, help="F of the full model (default 64; smoke 16)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny end-to-end run (20/10 frames, 1 epoch, 20 test frames) under {SMOKE}",
    )
    a = p.parse_args()
    lay = Layout(a.smoke)
    epochs = a.epochs or (1 if a.smoke else 30)
    n_features = a.n_features or (16 if a.smoke else 64)
    n_train, n_val = (20, 10) if a.smoke else (950, 50)
    max_frames = 20 if a.smoke else None
    if a.write_configs or a.smoke:
        write_configs(a.variants, n_features, epochs, lay, n_train, n_val, only_missing=False)
        if a.write_configs:
            return
    if not a.report_only:
        write_configs(a.variants, n_features, epochs, lay, n_train, n_val, only_missing=True)
        check_flags(a, lay)
        for v in a.variants:
            train_run(v, lay.configs / f"{v}.yaml")
    # every variant is reported (evaluations are cached per run), so that training a subset
    # with --variants does not drop the other rows from results.json
    report(list(VARIANTS), lay, max_frames)


def check_flags(a, lay: Layout) -> None:
    """Refuse --epochs/--n-features that disagree with existing configs (use --write-configs)."""
    for v in a.variants:
        cfg = yaml.safe_load((lay.configs / f"{v}.yaml").read_text())
        if a.epochs is not None and cfg["training"]["epochs"] != a.epochs:
            sys.exit(
                f"{lay.configs / f'{v}.yaml'} has epochs {cfg['training']['epochs']}, not {a.epochs}: "
                "rewrite the configs with --write-configs first"
            )
        if v == "full" and a.n_features is not None and cfg["model"]["n_features"] != a.n_features:
            sys.exit(
                f"{lay.configs / 'full.yaml'} has n_features {cfg['model']['n_features']}, not "
                f"{a.n_features}: rewrite the configs with --write-configs first"
            )


if __name__ == "__main__":
    main()
