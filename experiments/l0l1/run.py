"""L0Net vs L1Net (Miller, Geiger, Smidt, Noé 2020, Table 1; issue #8, invariant vs equivariant).

The invariant tensor field network L0Net (l = 0 features only) against the equivariant L1Net
(l = 0 and l = 1) on two QM9 targets, with equal parameter counts and equal budgets:

    energy  B3LYP electronic energy (QM9 U0 − ZPVE; the CHAMPS ``potential_energy`` labels, the
            only QM9 energy in /work/shared/data/qm9 for more than 100 molecules), energy head
            with the paper's shift and scale (S-Eqs. 14-16): QM9 atom references plus the mean
            residual per atom, per-atom standard deviation (``data.atom_refs: qm9``);
    mu      |μ| (QM9 μ, CHAMPS labels), dipole_magnitude head with latent charges from the
            scalar features (Eq. 12, ``charge_net: mlp``), the same head for both networks.

L1Net has the paper's structure (TFNConfig: residual connections, 2 gated convolutions + 1
output convolution, radial MLPs 2 × 128, r_cut 11.1 Å) at a quarter of its width by default
(n_features 32, 32 × l=0 + 8 × l=1 hidden channels: 7.0e5 parameters instead of 4.5e6; the
full width costs about 6x more per step, pass ``--n-features 128 --n-scalars 64 --n-vectors
21`` for it). L0Net has the same n_features, layers and radial MLPs, no l = 1 channels
(n_vectors 0) and the number of hidden scalars that ``match_parameters`` picks so that its
parameter count (head included) is within 2 % of L1Net's. Both train for ``--epochs`` epochs
(batch 32, AdamW lr 5e-4 halved on plateaus, MAE loss, EMA 0.99) on the same
``--n-train``/``--n-val`` molecules (seed 0), and are tested on the first ``--n-test``
molecules of the test file.

Cost: TFN convolutions compute per-edge weights over complete QM9 graphs (about 18 neighbours
per atom at r_cut 11.1 Å). One training step of 32 QM9 molecules (594 atoms, 10 664 edges), one
thread, AMD EPYC: L1Net 2.0 s at the default sizes (1.5 s with radial MLPs 2 × 32; the earlier
3-layer, non-residual 2.4e5-parameter L1Net 2.5 s on the same machine; /tmp timing script in
the session log). Earlier runs without residual connections and with least-squares references:
``--n-interactions 3 --radial-hidden 32`` and ``--set model.residual=false`` on the runs.

Data (runs/data/, written by ``--prepare`` or on the first run): qm9_champs_mu_{train,test}.h5
are the |μ| files of experiments/tensors/prepare.py (30 000 random molecules, seed 0, 28 000
train / 2 000 test); qm9_champs_energy_{train,test}.h5 hold the same molecules in the same
order with the energy labels added (checked against the |μ| files), so both targets train and
test on identical molecules.

Commands (from the repository root; one torch thread per run on the shared 2-core machine):

    OMP_NUM_THREADS=1 .venv/bin/python experiments/l0l1/run.py --prepare        # data files only
    .venv/bin/python experiments/l0l1/run.py --write-configs [--epochs 30 --n-train 10000 ...]
    OMP_NUM_THREADS=1 .venv/bin/python experiments/l0l1/run.py                  # all 4 runs
    OMP_NUM_THREADS=1 .venv/bin/python experiments/l0l1/run.py --targets mu --models l1net
    .venv/bin/python experiments/l0l1/run.py --report-only                     # tables only
    OMP_NUM_THREADS=1 .venv/bin/python experiments/l0l1/run.py --smoke          # tiny check in /tmp

The default action prepares missing data, writes missing configs (experiments/l0l1/configs/
<model>_<target>.yaml), then per run: ``equimol train CONFIG`` (``--resume`` when
runs/l0l1/<model>_<target>/last.pt exists; skipped when finished), evaluates best.pt on the
test file (cached per best epoch in the run folder's test.json) and writes
experiments/l0l1/results.{json,md} with the relative change of the test MAE, L1Net vs L0Net,
per target. Rerun the same command to continue after an interruption. To change sizes or the
budget, rewrite the configs with ``--write-configs`` and the new flags, then rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import yaml

from equimol.train.checkpoint import run_state
from equimol.train.resume import train_or_resume

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "runs" / "data"
SMOKE = Path("/tmp/equimol_smoke/l0l1")
MODELS = ("l0net", "l1net")
TARGETS = {"energy": "energy", "mu": "dipole_magnitude"}  # name -> equimol target key
HEADS = {
    "energy": [{"name": "energy"}],
    "mu": [{"name": "dipole_magnitude", "options": {"charge_net": "mlp", "atomic_dipoles": False}}],
}
UNITS = {"energy": ("meV", 1000.0), "mu": ("D", 1.0)}  # report unit, factor from evaluate_structures' units
SIZE_FLAGS = ("n_features", "n_scalars", "n_vectors", "n_interactions", "radial_hidden", "cutoff")
MU_SIZE = 30000  # molecules in qm9_champs_mu_*.h5 (experiments/tensors/prepare.py --qm9-mu-size)


class Layout:
    """Where data, configs, runs and results go (the repository, or /tmp for --smoke)."""

    def __init__(self, smoke: bool):
        self.smoke = smoke
        base = SMOKE if smoke else HERE
        self.data = SMOKE / "data" if smoke else DATA
        self.configs = base / "configs"
        self.runs = SMOKE / "runs" if smoke else ROOT / "runs" / "l0l1"
        self.results = base

    def train_file(self, target: str) -> Path:
        return self.data / f"qm9_champs_{target}_train.h5"

    def test_file(self, target: str) -> Path:
        return self.data / f"qm9_champs_{target}_test.h5"

    def path_in_config(self, target: Path) -> str:
        return str(target) if self.smoke else os.path.relpath(target, self.configs)


# ----------------------------------------------------------------------------- data


def prepare(lay: Layout, mu_size: int) -> None:
    """Write the |μ| files (if missing) and the energy files on the same molecules."""
    files = [lay.train_file(t) for t in TARGETS] + [lay.test_file(t) for t in TARGETS]
    if all(f.exists() for f in files):
        return
    from equimol import keys as K
    from equimol.data.formats import write_structures
    from equimol.data.qm9 import read_qm9_labels, read_qm9_records
    from equimol.data.shared import shared_data
    from equimol.data.store import Store

    print(f"reading {mu_size} QM9 molecules (the selection of experiments/tensors/prepare.py)", flush=True)
    records = read_qm9_records(labels=("dipole_magnitude",), limit=mu_size, seed=0)
    perm = np.random.default_rng(0).permutation(len(records))  # prepare.split_write, seed 0
    n_test = min(2000, len(records) // 10)
    split = {"test": perm[:n_test], "train": perm[n_test:]}
    energies = read_qm9_labels(shared_data("qm9"), ["energy"])
    missing = [name for name, _ in records if name not in energies]
    if missing:
        raise SystemExit(f"{len(missing)} molecules have no energy label, e.g. {missing[:3]}")
    lay.data.mkdir(parents=True, exist_ok=True)
    for part, idx in split.items():
        mu_path = lay.data / f"qm9_champs_mu_{part}.h5"
        structures = [records[i][1] for i in idx]
        if mu_path.exists():  # the energy file must hold the same molecules in the same order
            store = Store(mu_path)
            same = len(store) == len(structures) and all(
                np.array_equal(a[K.ATOMIC_NUMBERS], b[K.ATOMIC_NUMBERS])
                and np.allclose(a[K.POSITIONS], b[K.POSITIONS])
                for a, b in zip(store.iterate(), structures, strict=False)
            )
            if not same:
                raise SystemExit(
                    f"{mu_path} does not hold the molecules of this selection "
                    f"(--mu-size {mu_size}); move it away to rewrite both files"
                )
        else:
            write_structures(mu_path, structures)
            print(f"wrote {mu_path} ({len(structures)} molecules)")
        en_path = lay.data / f"qm9_champs_energy_{part}.h5"
        write_structures(
            en_path, [{**s, **energies[records[i][0]]} for s, i in zip(structures, idx, strict=False)]
        )
        print(f"wrote {en_path} ({len(structures)} molecules, energy + dipole_magnitude)")


# ----------------------------------------------------------------------------- configs


def model_options(a, target: str, tolerance: float) -> dict[str, dict]:
    """{model: {"options", "n_parameters"}}: L1Net from the flags, L0Net matched to its count."""
    from equimol.param_count import count_parameters, match_parameters
    from equimol.potential import build_model

    l1 = {
        "n_features": a.n_features,
        "n_scalars": a.n_scalars,
        "n_vectors": a.n_vectors,
        "n_interactions": a.n_interactions,
        "radial_hidden": a.radial_hidden,
        **a.extra,
    }
    n1 = count_parameters(build_model("l1net", heads=HEADS[target], **l1))
    base0 = {k: v for k, v in l1.items() if k not in ("n_scalars", "n_vectors")}
    m = match_parameters(
        "l0net", n1, vary="n_scalars", heads=HEADS[target], tolerance=tolerance, n_vectors=0, **base0
    )
    return {
        "l1net": {"options": l1, "n_parameters": n1},
        "l0net": {"options": {**base0, "n_scalars": m.value, "n_vectors": 0}, "n_parameters": m.n_parameters},
    }


def config(model: str, target: str, options: dict, a, lay: Layout) -> dict:
    key = TARGETS[target]
    return {
        "data": {
            "train": lay.path_in_config(lay.train_file(target)),
            "n_train": a.n_train,
            "n_val": a.n_val,
            "seed": 0,
            "targets": [key],
            # S-Eqs. 14-16: QM9 atom references and the per-atom standard deviation (energy only)
            **({"atom_refs": "qm9"} if key == "energy" else {}),
        },
        "model": {"name": model, **options, "heads": HEADS[target]},
        "training": {
            "epochs": a.epochs,
            "batch_size": a.batch_size,
            "val_batch_size": 100,
            "lr": 5.0e-4,
            "loss": "mae",
            "weights": {key: 1.0},
            "lr_factor": 0.5,
            "lr_patience": 10,
            "smoothing": 0.9,
            "min_lr": 1.0e-5,
            "ema_decay": 0.99,
            "seed": 0,
            "progress": False,
        },
        "output_dir": lay.path_in_config(lay.runs / f"{model}_{target}"),
    }


def write_configs(a, lay: Layout, only_missing: bool) -> None:
    lay.configs.mkdir(parents=True, exist_ok=True)
    for target in a.targets:
        paths = {m: lay.configs / f"{m}_{target}.yaml" for m in a.models}
        if only_missing and all(p.exists() for p in paths.values()):
            continue
        sizes = model_options(a, target, 0.05 if a.smoke else 0.02)
        n1 = sizes["l1net"]["n_parameters"]
        for m, path in paths.items():
            if only_missing and path.exists():
                continue
            s = sizes[m]
            err = 100 * (s["n_parameters"] - n1) / n1
            head = (
                f"# {m} on QM9 {target} (experiments/l0l1/run.py): {s['n_parameters']} parameters "
                f"({err:+.2f} % vs l1net); written by run.py --write-configs.\n"
            )
            path.write_text(head + yaml.safe_dump(config(m, target, s["options"], a, lay), sort_keys=False))
            print(f"wrote {path}: {s['n_parameters']} parameters ({err:+.2f} %)")


def check_flags(a, lay: Layout) -> None:
    """Refuse flags that disagree with existing configs (those take effect through --write-configs)."""
    for target in a.targets:
        for m in a.models:
            path = lay.configs / f"{m}_{target}.yaml"
            cfg = yaml.safe_load(path.read_text())
            have = {
                "epochs": cfg["training"]["epochs"],
                "n_train": cfg["data"]["n_train"],
                "n_val": cfg["data"]["n_val"],
                "batch_size": cfg["training"]["batch_size"],
            }
            if m == "l1net":
                from equimol.models.tfn import TFNConfig

                have.update({k: cfg["model"].get(k, getattr(TFNConfig(), k)) for k in SIZE_FLAGS})
            for flag, value in have.items():
                if a.given.get(flag) is not None and a.given[flag] != value:
                    sys.exit(
                        f"{path} has {flag} {value}, not {a.given[flag]}: rewrite the configs with "
                        "--write-configs first"
                    )


# ----------------------------------------------------------------------------- training


def train_run(name: str, cfg_path: Path) -> None:
    """``equimol train CONFIG [--resume]`` unless the run is finished."""
    train_or_resume(name, cfg_path, cwd=ROOT)


# ----------------------------------------------------------------------------- evaluation


def evaluate_run(run_dir: Path, test_file: Path, n_test: int, cache_data: dict) -> dict | None:
    """Test metrics of best.pt on the first ``n_test`` molecules, cached per best epoch."""
    from equimol.data.formats import read_structures
    from equimol.train.checkpoint import load, read_checkpoint
    from equimol.train.evaluate import evaluate_structures

    best = run_dir / "best.pt"
    if not best.exists():
        return None
    key = {"best_epoch": read_checkpoint(best)["metadata"]["epoch"], "data": str(test_file), "n_test": n_test}
    cache = run_dir / "test.json"
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached
    if test_file not in cache_data:
        cache_data[test_file] = read_structures(test_file)[:n_test]
    out = {"key": key, **evaluate_structures(load(best), cache_data[test_file], batch_size=100)}
    cache.write_text(json.dumps(out, indent=1))
    return out


def report(a, lay: Layout) -> dict:
    from equimol.param_count import count_parameters
    from equimol.potential import build_model
    from equimol.train.checkpoint import read_checkpoint
    from equimol.train.config import load_config

    test_data: dict = {}
    rows, comparison = [], {}
    for target in a.targets:
        unit, f = UNITS[target]
        key = TARGETS[target]
        mae = {}
        for m in a.models:
            path = lay.configs / f"{m}_{target}.yaml"
            if not path.exists():
                print(f"[{m}_{target}] no config {path}: left out")
                continue
            cfg = load_config(path)
            options = {k: v for k, v in cfg.model.items() if k not in ("name", "heads")}
            run_dir = Path(cfg.output_dir)
            state = run_state(run_dir, cfg.training.epochs)
            row = {
                "model": m,
                "target": target,
                "options": options,
                "n_parameters": count_parameters(build_model(m, heads=cfg.model["heads"], **options)),
                "n_train": cfg.data.n_train,
                "n_val": cfg.data.n_val,
                "epochs_budget": cfg.training.epochs,
                "epochs_run": state["epochs"],
                "status": state["status"],
                "train_minutes": state["wall_time_s"] / 60,
                "seconds_per_epoch": state["wall_time_s"] / state["epochs"] if state["epochs"] else None,
                "unit": unit,
            }
            ev = evaluate_run(run_dir, lay.test_file(target), a.n_test, test_data)
            if ev is not None:
                meta = read_checkpoint(run_dir / "best.pt")["metadata"]
                row.update(
                    {
                        "best_epoch": meta["epoch"],
                        "val_mae": _val_factor(target) * meta["val_metrics"][key]["mae"],
                        "test_n": ev["n_structures"],
                        "test_mae": f * ev["metrics"][key]["mae"],
                        "test_rmse": f * ev["metrics"][key]["rmse"],
                    }
                )
                mae[m] = row["test_mae"]
            rows.append(row)
        if "l0net" in mae and "l1net" in mae:
            change = 100 * (mae["l1net"] - mae["l0net"]) / mae["l0net"]
            comparison[target] = {
                "l0net_test_mae": mae["l0net"],
                "l1net_test_mae": mae["l1net"],
                "unit": unit,
                "relative_change_percent": change,
            }
    result = {
        "experiment": "L0Net vs L1Net (Miller et al. 2020, Table 1) on QM9",
        "rows": rows,
        "comparison": comparison,
    }
    lay.results.mkdir(parents=True, exist_ok=True)
    (lay.results / "results.json").write_text(json.dumps(result, indent=1))
    md = markdown(result)
    (lay.results / "results.md").write_text(md)
    print(md)
    print(f"wrote {lay.results / 'results.json'} and {lay.results / 'results.md'}")
    return result


def _val_factor(target: str) -> float:
    """Validation metrics in checkpoints are in internal units (eV, e·Å): to meV and D."""
    from equimol import units as U

    return 1000.0 if target == "energy" else 1.0 / U.DEBYE


def _f(x, fmt: str = ".3g") -> str:
    return "—" if x is None else format(x, fmt)


def markdown(result: dict) -> str:
    rows = result["rows"]
    r0 = next(iter(rows), {})
    lines = [
        "# L0Net vs L1Net on QM9 (Miller et al. 2020, Table 1)",
        "",
        f"Same molecules for both targets: {r0.get('n_train', '—')} train / "
        f"{r0.get('n_val', '—')} validation "
        f"(seed 0), tested on {next((r['test_n'] for r in rows if 'test_n' in r), '—')} test molecules; "
        f"{r0.get('epochs_budget', '—')} epochs for every run (batch 32, lr 5e-4, MAE loss, EMA 0.99). "
        "energy: B3LYP electronic energy (QM9 U0 − ZPVE), meV; mu: |μ|, D. "
        "Generated by `experiments/l0l1/run.py`.",
        "",
        "| target | model | hidden l=0 × l=1 | parameters | epochs | train min "
        "| val MAE | test MAE | test RMSE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        o = r["options"]
        lines.append(
            f"| {r['target']} ({r['unit']}) | {r['model']} | {o['n_scalars']} × {o.get('n_vectors', 0)} "
            f"| {r['n_parameters']} | {r['epochs_run']}/{r['epochs_budget']} "
            f"| {_f(r['train_minutes'], '.1f')} "
            f"| {_f(r.get('val_mae'))} | {_f(r.get('test_mae'))} | {_f(r.get('test_rmse'))} |"
        )
    lines += [
        "",
        "| target | L0Net test MAE | L1Net test MAE | relative change L1 vs L0 |",
        "|---|---|---|---|",
    ]
    for t, c in result["comparison"].items():
        lines.append(
            f"| {t} ({c['unit']}) | {c['l0net_test_mae']:.3g} | {c['l1net_test_mae']:.3g} "
            f"| {c['relative_change_percent']:+.1f} % |"
        )
    lines += ["", "Status per run:", ""]
    lines += [
        f"- {r['model']}_{r['target']}: {r['status']}"
        + (f"; best epoch {r['best_epoch']}" if "best_epoch" in r else "")
        + (f"; {r['seconds_per_epoch']:.0f} s per epoch" if r["seconds_per_epoch"] else "")
        for r in rows
    ]
    lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--prepare", action="store_true", help="write the data files and exit")
    p.add_argument("--write-configs", action="store_true", help="(re)write the configs and exit")
    p.add_argument("--report-only", action="store_true", help="train nothing; rebuild results.{json,md}")
    p.add_argument("--targets", nargs="+", choices=list(TARGETS), default=list(TARGETS))
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 30; smoke 1)")
    p.add_argument("--n-train", type=int, default=None, help="training molecules (default 10000; smoke 20)")
    p.add_argument("--n-val", type=int, default=None, help="validation molecules (default 1000; smoke 10)")
    p.add_argument("--n-test", type=int, default=None, help="test molecules (default 1000; smoke 10)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n-features", type=int, default=None, help="L1Net/L0Net embedding width (default 32)")
    p.add_argument("--n-scalars", type=int, default=None, help="L1Net hidden l=0 channels (default 32)")
    p.add_argument("--n-vectors", type=int, default=None, help="L1Net hidden l=1 channels (default 8)")
    p.add_argument("--n-interactions", type=int, default=None, help="gated layers (default 2, the paper)")
    p.add_argument(
        "--radial-hidden", type=int, default=None, help="width of the radial MLPs (default 128, the paper)"
    )
    p.add_argument("--cutoff", type=float, default=None, help="Å (default: TFN's 11.1, as the paper)")
    p.add_argument(
        "--mu-size",
        type=int,
        default=None,
        help=f"molecules in the QM9 files (default {MU_SIZE}, as experiments/tensors/prepare.py)",
    )
    p.add_argument("--smoke", action="store_true", help=f"tiny end-to-end run under {SMOKE}")
    a = p.parse_args()
    a.given = {k: getattr(a, k) for k in ("epochs", "n_train", "n_val", *SIZE_FLAGS)}
    a.given["batch_size"] = a.batch_size if "--batch-size" in sys.argv else None
    defaults = (
        {
            "epochs": 1,
            "n_train": 20,
            "n_val": 10,
            "n_test": 10,
            "n_features": 8,
            "n_scalars": 8,
            "n_vectors": 3,
            "n_interactions": 1,
            "radial_hidden": 8,
            "mu_size": 200,
        }
        if a.smoke
        else {
            "epochs": 30,
            "n_train": 10000,
            "n_val": 1000,
            "n_test": 1000,
            "n_features": 32,
            "n_scalars": 32,
            "n_vectors": 8,
            "n_interactions": 2,  # the paper's 2 gated + 1 output convolution (TFNConfig)
            "radial_hidden": 128,  # the paper's radial MLP width (TFNConfig)
            "mu_size": MU_SIZE,
        }
    )
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.extra = ({"n_basis": 16} if a.smoke else {}) | ({"cutoff": a.cutoff} if a.cutoff is not None else {})
    lay = Layout(a.smoke)
    if a.prepare or not a.report_only:
        prepare(lay, a.mu_size)
        if a.prepare:
            return
    if a.write_configs or a.smoke:
        write_configs(a, lay, only_missing=False)
        if a.write_configs:
            return
    if not a.report_only:
        write_configs(a, lay, only_missing=True)
        check_flags(a, lay)
        for target in a.targets:
            for m in a.models:
                train_run(f"{m}_{target}", lay.configs / f"{m}_{target}.yaml")
    report(a, lay)


if __name__ == "__main__":
    main()
