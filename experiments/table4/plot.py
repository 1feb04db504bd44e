"""Bar chart of the Table IV ablation (PaiNN Table IV): held-out force and energy MAE per variant.

python experiments/table4/plot.py            # results.json -> ablation.png (also run by run.py)
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = {
    "full": "full PaiNN",
    "no_scalar_product": "no scalar product",
    "no_vector_propagation": "no vector propagation",
    "no_both": "neither",
    "no_vectors": "no vectors",
}


def plot(results: dict, path: Path) -> Path:
    """Two panels (forces, energy) of test MAEs, one bar per variant in the paper's order."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in results["rows"] if r.get("test_forces_mae_meV_A") is not None]
    names = [LABELS.get(r["variant"], r["variant"]) for r in rows]
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")  # object API: no global backend change
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, key, unit in (
        (axes[0], "test_forces_mae_meV_A", "force MAE / meV Å$^{-1}$"),
        (axes[1], "test_energy_mae_meV", "energy MAE / meV"),
    ):
        values = [r[key] for r in rows]
        bars = ax.bar(range(len(rows)), values, color=["C0"] + ["C1"] * (len(rows) - 1))
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
        ax.set_xticks(range(len(rows)), names, rotation=25, ha="right", fontsize=8)
        ax.set_ylabel(unit)
    first = rows[0]
    fig.suptitle(
        f"PaiNN Table IV ablation, rMD17 aspirin, {first.get('test_frames')} held-out frames, "
        f"{first.get('epochs_run')} epochs, F = {first.get('n_features')} (full)",
        fontsize=9,
    )
    fig.savefig(path, dpi=130)
    return path


def main() -> None:
    results = json.loads((HERE / "results.json").read_text())
    print(f"wrote {plot(results, HERE / 'ablation.png')}")


if __name__ == "__main__":
    main()
