"""The benchmark harness end to end at tiny size, its inputs, and its reports (no timing asserts)."""

import json

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from equimol import keys as K
from equimol.benchmark import report
from equimol.benchmark import systems as S
from equimol.benchmark.peers import PeerServer, write_inputs
from equimol.cli.main import main
from tests.conftest import FIXTURES


def test_quick_benchmark_writes_json_and_markdown(tmp_path, capsys):
    rc = main(
        [
            "benchmark",
            "--quick",
            "--models",
            "painn",
            "--sizes",
            "20",
            "--threads",
            "1",
            "--output",
            str(tmp_path),
            "--data",
            str(FIXTURES),
            "--no-peers",
            "--malloc",
            "system",  # the test process must keep glibc's defaults
        ]
    )
    assert rc == 0
    data = json.loads((tmp_path / "quick.json").read_text())
    for key in ("torch", "cpu_model", "device_name", "torch_threads"):
        assert key in data["environment"]
    assert data["environment"]["torch_threads"] == 1
    cases = {(r["model"], r["case"], r["mode"]) for r in data["energy_forces"]}
    assert ("painn", "ethanol", "model") in cases and ("painn", "ring_polymer_4", "with_nl") in cases
    assert all(r["median_s"] > 0 and r["repeats"] == 2 for r in data["energy_forces"])
    assert {r["model"] for r in data["train_step"]} == {"painn"}
    assert [r["atoms"] for r in data["size_scan"]] == [20]
    assert all(r["peak_mib"] is not None and r["peak_mib"] > 0 for r in data["size_scan"])
    assert data["flops"] and all(0 < r["fraction_of_peak"] for r in data["flops"])
    # every timed case has its FLOP rate: each energy + forces case and the training step
    flop_cases = {(r["case"], r["kind"]) for r in data["flops"]}
    timed = {r["case"] for r in data["energy_forces"] if r["mode"] == "model"}
    assert {c for c, kind in flop_cases if kind == "energy + forces"} == timed and "ethanol" in timed
    assert any(kind == "training step" for _, kind in flop_cases)
    assert data["profile"]["rows"]
    assert not data["errors"]
    md = (tmp_path / "quick.md").read_text()
    assert "| painn | ethanol |" in md and "## Size scan" in md and "## Profile" in md
    assert "wrote" in capsys.readouterr().out


def test_allocator_env_keeps_existing_tunables():
    from equimol.cli.options import GLIBC_TUNABLES, allocator_env

    env = allocator_env({"GLIBC_TUNABLES": "glibc.pthread.rseq=0", "X": "1"})
    assert env["GLIBC_TUNABLES"] == "glibc.pthread.rseq=0:" + GLIBC_TUNABLES and env["X"] == "1"


def test_allocator_tunables_never_trim():
    """The child-process tunables set glibc's trim threshold to SIZE_MAX: a cap at 2^31 − 1 bytes
    let a call that frees more than 2 GiB give it back, to page-fault it in again next call."""
    from equimol.cli.options import GLIBC_TUNABLES

    tunables = dict(item.split("=") for item in GLIBC_TUNABLES.split(":"))
    assert int(tunables["glibc.malloc.trim_threshold"]) == 2**64 - 1
    assert tunables["glibc.malloc.mmap_max"] == "0"


def test_scan_model_labels():
    from equimol.benchmark.scan import SCAN_VARIANTS, parse_scan_model, scan_labels

    assert parse_scan_model("painn") == ("painn", {})
    assert parse_scan_model("so3krates:local_slices=2:non_local=true:x=abc") == (
        "so3krates",
        {"local_slices": 2, "non_local": True, "x": "abc"},
    )
    with pytest.raises(ValueError):
        parse_scan_model("so3krates:local_slices")
    assert scan_labels(("painn",), None) == ("painn",)
    assert scan_labels(("painn", "so3krates"), None) == ("painn", "so3krates", *SCAN_VARIANTS)
    assert scan_labels(("painn", "so3krates"), ("schnet",)) == ("schnet",)


def test_scan_variant_runs_with_its_options(tmp_path):
    rc = main(
        ["benchmark", "--quick", "--models", "so3krates", "--stages", "scan", "--sizes", "12",
         "--scan-models", "so3krates:local_slices=2", "--threads", "1", "--output", str(tmp_path),
         "--data", str(FIXTURES), "--malloc", "system"]
    )  # fmt: skip
    assert rc == 0
    (row,) = json.loads((tmp_path / "quick.json").read_text())["size_scan"]
    assert row["model"] == "so3krates:local_slices=2" and row["options"] == {"local_slices": 2}
    assert row["median_s"] > 0 and row["peak_mib"] > 0


def test_bad_scan_model_or_threads_is_a_clear_error(tmp_path, capsys):
    assert main(["benchmark", "--quick", "--scan-models", "nope:x=1", "--output", str(tmp_path)]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["benchmark", "--quick", "--threads", "-1", "--output", str(tmp_path)]) == 2
    assert "--threads" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_bad_model_name_is_a_clear_error(tmp_path, capsys):
    assert main(["benchmark", "--quick", "--models", "nope", "--output", str(tmp_path)]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written


def test_water_droplet_size_density_no_overlap():
    s = S.water_droplet(301, seed=1)
    z, pos = s[K.ATOMIC_NUMBERS], s[K.POSITIONS]
    assert len(z) == len(pos) == 301 and list(z[:3]) == [8, 1, 1]
    d = cdist(pos, pos)
    mol = np.arange(301) // 3
    inter = d[mol[:, None] != mol[None, :]]
    assert inter.min() > 1.0  # no overlapping molecules
    centre = pos.mean(axis=0)
    inner = np.linalg.norm(pos - centre, axis=1) < 8.0
    density = inner.sum() / (4 / 3 * np.pi * 8.0**3)
    assert 0.08 < density < 0.12  # ≈ 0.1 atoms / Å^3, liquid water


def test_ring_polymer_and_training_inputs():
    base = S.rmd17("ethanol", data_dir=FIXTURES)[0]
    beads = S.ring_polymer(base, 64)
    assert len(beads) == 64 and not np.allclose(beads[0][K.POSITIONS], beads[1][K.POSITIONS])
    train = S.train_batch(10, FIXTURES)
    assert len(train) == 10 and train[0][K.FORCES].shape == (9, 3)
    every = S.rmd17("ethanol", slice(None), FIXTURES)  # spread evenly over the file
    np.testing.assert_array_equal(train[1][K.POSITIONS], every[5][K.POSITIONS])
    assert abs(float(train[0][K.ENERGY])) > 1000  # eV (converted from kcal/mol)


def test_peer_inputs_roundtrip(tmp_path):
    cases = {"a": [S.water_droplet(6), S.water_droplet(9)], "train": S.train_batch(2, FIXTURES)}
    write_inputs(tmp_path / "in.npz", cases)
    d = np.load(tmp_path / "in.npz")
    assert list(d["cases"]) == ["a", "train"]
    assert list(d["a/n_atoms"]) == [6, 9] and d["a/pos"].shape == (15, 3)
    assert "train/forces" in d.files and "a/forces" not in d.files


def test_missing_peers_venv_is_reported(tmp_path):
    server = PeerServer(tmp_path / "in.npz", {}, python=tmp_path / "no-python")
    assert "setup.sh" in server.error
    assert "setup.sh" in server.time("painn", "a", "model", 1)["error"]
    server.close()


def test_interleave_alternates_and_isolates_failures():
    from equimol.benchmark.timing import interleave

    calls = []

    def timer(name):
        def t(k, w):
            calls.append((name, k, w))
            return [0.001] * k

        return t

    def broken(k, w):
        raise RuntimeError("boom")

    out = interleave({"a": timer("a"), "b": timer("b"), "c": broken}, warmup=2, repeats=6, rounds=3)
    assert calls == [("a", 2, 2), ("b", 2, 2), ("a", 2, 0), ("b", 2, 0), ("a", 2, 0), ("b", 2, 0)]
    assert out["a"]["repeats"] == 6 and out["a"]["rounds"] == 3
    assert out["c"] == {"error": "RuntimeError: boom"}


def test_targets_from_synthetic_results():
    results = {
        "comparisons": [
            {"model": "painn", "case": "ethanol", "mode": "compiled", "peer_mode": "model", "speedup": 2.5},
            {"model": "painn", "case": "ethanol", "mode": "model", "peer_mode": "model", "speedup": 1.1},
            {"model": "painn", "case": "ethanol_x10", "mode": "model", "peer_mode": "model", "speedup": 1.2},
            {
                "model": "painn",
                "case": "ethanol_x10",
                "mode": "compiled",
                "peer_mode": "model",
                "speedup": 2.0,
            },
        ],
        "size_scan": [
            {"model": "painn", "atoms": 1000, "edges": 43000, "median_s": 1.0, "peak_mib": 100.0},
            {"model": "painn", "atoms": 10000, "edges": 480000, "median_s": 10.5, "peak_mib": 1010.0},
        ],
    }
    t = {x["target"]: x for x in report.targets(results)}
    assert t["PaiNN E+F one ethanol ≥ 2× schnetpack"]["met"] is True
    assert t["PaiNN E+F one ethanol ≥ 2× schnetpack"]["mode"] == "compiled"
    # the eager target counts the eager step only, although the compiled one is 2× faster
    eager = t["PaiNN training step, eager, ≥ 1.5× schnetpack"]
    assert eager["met"] is False and eager["mode"] == "model" and eager["speedup"] == 1.2
    assert t["PaiNN training step, compiled, ≥ 3× schnetpack"]["met"] is False
    assert t["PaiNN E+F 64-bead ring polymer ≥ 2.5× schnetpack"]["met"] is None
    lin = t["painn: time and memory linear in atoms (1000→10000)"]
    assert lin["met"] is True and lin["time_ratio_per_atom"] == pytest.approx(1.05)
    md = report.markdown({**results, "targets": report.targets(results)})
    assert "## Targets" in md


def test_float64_reference_judges_float32_forces():
    """The compiled path's fallback check: distance of float32 forces from the float64 model's."""
    import torch

    from equimol.benchmark import cases as C
    from equimol.benchmark.runner import float64_forces_error

    structures = S.rmd17("ethanol", slice(0, 2), FIXTURES)
    model = C.build("painn", torch.float32, torch.device("cpu"))
    batch = C.make_batch(structures, model.cutoff, torch.float32, torch.device("cpu"))
    forces = model(batch)[K.FORCES].detach()
    same, shifted = float64_forces_error(model, batch, forces, forces + 0.01)
    assert same < 1e-4 * float(forces.abs().max())
    assert shifted == pytest.approx(0.01, abs=1e-4)
    assert next(model.parameters()).dtype == torch.float32  # the model itself is left as it was
