"""experiments/table4/run.py's report keeps the rows of runs that are not in this checkout.

A rerun of some variants (``--variants X``) or a fresh clone (``runs/`` is not in git) must not
drop the other variants' committed results from results.json."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "table4"


def _load():
    sys.path.insert(0, str(HERE))  # run.py imports plot.py from beside it
    spec = importlib.util.spec_from_file_location("table4_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


T4 = _load()


def earlier_row(variant: str, f_mae: float, budget: int) -> dict:
    return {
        "variant": variant,
        **{s: True for s in T4.SWITCHES},
        "n_features": 8,
        "n_parameters": 1000,
        "n_parameters_with_gradient": 900,
        "epochs_budget": budget,
        "epochs_run": budget,
        "status": f"finished {budget} epochs",
        "train_minutes": 1.0,
        "seconds_per_epoch": 0.5,
        "best_epoch": budget,
        "test_frames": 987,
        "test_energy_mae_meV": 10.0,
        "test_forces_mae_meV_A": f_mae,
    }


def test_report_keeps_rows_of_absent_run_folders(tmp_path):
    lay = T4.Layout(True)
    lay.configs, lay.runs, lay.results = tmp_path / "configs", tmp_path / "runs", tmp_path
    variants = list(T4.VARIANTS)
    T4.write_configs(variants, 64, 1, lay, 20, 10, only_missing=False)
    earlier = [earlier_row(v, 50.0 + i, 25) for i, v in enumerate(variants)]
    (tmp_path / "results.json").write_text(json.dumps({"rows": earlier}))

    result = T4.report(variants, lay, max_frames=20)

    rows = {r["variant"]: r for r in json.loads((tmp_path / "results.json").read_text())["rows"]}
    assert list(rows) == variants
    for i, v in enumerate(variants):
        assert rows[v]["test_forces_mae_meV_A"] == 50.0 + i
        assert rows[v]["run_folder_here"] is False
        assert rows[v]["status"] == "finished 25 epochs (earlier checkout)"
    assert result["rows"] == list(rows.values())
    # a second report does not append the marker twice
    T4.report(variants, lay, max_frames=20)
    again = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert [r["status"] for r in again] == [r["status"] for r in rows.values()]
    md = (tmp_path / "results.md").read_text()
    assert "25 epochs for every variant" in md and "(earlier checkout)" in md
    assert (tmp_path / "ablation.png").stat().st_size > 0


def test_markdown_flags_mixed_budgets():
    rows = [earlier_row("full", 20.0, 1000), earlier_row("no_vectors", 60.0, 25)]
    md = T4.markdown({"rows": rows})
    assert "the budgets differ" in md
    assert "| 1000/1000 |" in md and "| 25/25 |" in md
