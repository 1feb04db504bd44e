"""benchmarks/md_throughput.py runs (tiny: 2 beads, 4 steps, eager) and reports a projection."""

import importlib.util
import json
from pathlib import Path

from tests.conftest import FIXTURES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "md_throughput.py"


def test_md_throughput_smoke(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("md_throughput", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "md.json"
    assert (
        mod.main(
            [
                "--beads",
                "2",
                "--steps",
                "4",
                "--warmup-steps",
                "1",
                "--threads",
                "1",
                "--output",
                str(out),
                "--system-malloc",
                "--data",
                str(FIXTURES),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())["results"]
    assert rows[0]["n_beads"] == 2 and rows[0]["steps"] == 4 and rows[0]["force_calls"] == 4
    assert rows[0]["projected_250k_steps_h"] > 0
    assert "| 2 | eager |" in capsys.readouterr().out
