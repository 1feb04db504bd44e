"""Learning curves of the campaign's training runs (issue #20: where a target is not reached, "the
learning curve shows whether more time would help").

For every run folder of a campaign entry with a ``log.csv`` (written by ``equimol train``), the log
is copied to ``experiments/learning_curves/<entry>/<run>.csv`` (committed, so that a clone without
``runs/`` reports the same), then drawn as ``experiments/learning_curves/<entry>.png``: the
validation MAE of the run's main target per epoch, on a log scale. :func:`trend` says in one line
how much the best validation MAE improved over the last fifth of the epochs.

    python experiments/learning_curves.py [ENTRY ...]     # (re)draw from the run folders / copies
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "learning_curves"
# log units (eV, eV/Å, e·Å, Å³) -> the units the tables use
DISPLAY = {
    "forces": (1000.0, "meV/Å"),
    "energy": (1000.0, "meV"),
    "dipole": (4.80320, "D"),
    "dipole_magnitude": (4.80320, "D"),
    "polarizability": (1.0, "Å³"),
}
SET_ASIDE = ("diverged", "_nan_")  # run states moved aside after a failure, not results
PREFERENCE = ("forces", "energy", "dipole", "dipole_magnitude", "polarizability")


class Curve(NamedTuple):
    run: str
    target: str
    unit: str
    epochs: list[int]
    mae: list[float]  # validation MAE in ``unit``


def read_curve(path: Path, run: str) -> Curve | None:
    """The validation MAE of the main target (forces, else energy, else the first one logged)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    targets = [k[4:-4] for k in rows[0] if k.startswith("val_") and k.endswith("_mae")]
    if not targets:
        return None
    target = next((t for t in PREFERENCE if t in targets), targets[0])
    scale, unit = DISPLAY.get(target, (1.0, "log units"))
    epochs, mae = [], []
    for r in rows:
        try:
            v = float(r[f"val_{target}_mae"]) * scale
        except (TypeError, ValueError):
            continue
        if v == v:  # NaN rows (a diverged run's log) are left out
            epochs.append(int(r["epoch"]))
            mae.append(v)
    return Curve(run, target, unit, epochs, mae) if epochs else None


def collect(entry: str, run_dirs: list[Path], out: Path = OUT) -> list[Curve]:
    """Each run's curve; a run folder's log.csv is first copied to ``out/entry/<run>.csv``."""
    dest = out / entry
    for d in run_dirs:  # a run folder, or a folder of runs (the spectra experiment's model/)
        for log in [d / "log.csv", *sorted(d.glob("*/log.csv"))]:
            if any(tag in log.parent.name for tag in SET_ASIDE):
                continue
            name = d.name if log.parent == d else f"{d.name}-{log.parent.name}"
            if log.exists():
                dest.mkdir(parents=True, exist_ok=True)
                tmp = dest / f".{name}.csv.tmp"
                shutil.copyfile(log, tmp)
                tmp.replace(dest / f"{name}.csv")
    names = {d.name for d in run_dirs}
    names |= {p.stem for d in run_dirs for p in (dest.glob(f"{d.name}-*.csv") if dest.exists() else [])}
    curves = []
    for p in sorted(dest.glob("*.csv")) if dest.exists() else []:
        if p.stem in names and (c := read_curve(p, p.stem)) is not None:
            curves.append(c)
    return curves


def trend(c: Curve) -> str:
    """The best validation MAE before and within the last fifth of the epochs."""
    n = len(c.mae)
    if n < 10:
        return f"{c.run}: {n} epochs logged, too few for a trend"
    cut = n - max(2, n // 5)
    before, after = min(c.mae[:cut]), min(c.mae)
    change = 100.0 * (after - before) / before if before > 0 else 0.0
    verdict = "still improving" if change < -1.0 else "flat"
    return (
        f"{c.run}: best validation {c.target} MAE {before:.4g} → {after:.4g} {c.unit} over the last "
        f"{n - cut} of {n} logged epochs ({change:+.1f} %, {verdict})"
    )


def plot(entry: str, curves: list[Curve], path: Path) -> Path | None:
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, str], list[Curve]] = {}
    for c in curves:
        groups.setdefault((c.target, c.unit), []).append(c)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.0 * len(groups), 3.6), squeeze=False)
    for ax, ((target, unit), cs) in zip(axes[0], groups.items(), strict=True):
        for c in cs:
            ax.plot(c.epochs, c.mae, lw=1.0, label=c.run)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {target} MAE ({unit})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"learning curves: {entry}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def report(entry: str, run_dirs: list[Path], out: Path = OUT) -> tuple[Path | None, list[str]]:
    """Copy the logs, draw ``out/<entry>.png``; returns (the plot or None, one trend line per run)."""
    curves = collect(entry, run_dirs, out)
    return plot(entry, curves, out / f"{entry}.png"), [trend(c) for c in curves]


def main() -> None:
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from reproduce import build_entries

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("entries", nargs="*", help="campaign entries (default: all)")
    a = p.parse_args()
    for e in build_entries():
        if a.entries and e.name not in a.entries:
            continue
        png, lines = report(e.name, e.run_dirs)
        print(f"{e.name}: {png or 'no logs'}")
        for line in lines:
            print(f"  {line}")


if __name__ == "__main__":
    main()
