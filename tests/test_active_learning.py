"""Query-by-committee active learning: frame selection, and a tiny loop end to end (xTB water)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from equimol import keys as K
from equimol.active_learning import load_al_config, select_frames
from equimol.errors import ConfigError


def test_selection_takes_the_largest_disagreements_apart_in_time():
    t = np.arange(10) * 2.0  # fs
    d = np.zeros((10, 1, 2))
    d[3, 0, 1], d[4, 0, 0], d[8, 0, 0], d[0, 0, 1] = 0.9, 0.8, 0.5, 0.05
    # 4 is 2 fs from 3: skipped; 0.05 is below the threshold
    assert select_frames(d, t, 0.1, 5, min_spacing_fs=3.0) == [(3, 0, 1), (8, 0, 0)]
    assert select_frames(d, t, 0.1, 5, min_spacing_fs=1.0) == [(3, 0, 1), (4, 0, 0), (8, 0, 0)]
    assert select_frames(d, t, 0.1, 1, min_spacing_fs=0.0) == [(3, 0, 1)]
    assert select_frames(d, t, 1.0, 5, min_spacing_fs=0.0) == []


def test_config_errors_are_one_clear_line(tmp_path):
    path = tmp_path / "al.yaml"
    path.write_text(yaml.safe_dump({"data": "d.extxyz", "train_config": "t.yaml", "rounds": 2, "typo": 1}))
    with pytest.raises(ConfigError, match="unknown option.*typo"):
        load_al_config(path)
    path.write_text(yaml.safe_dump({"data": "d.extxyz", "train_config": "t.yaml", "committee": 1}))
    with pytest.raises(ConfigError, match="committee must be >= 2"):
        load_al_config(path)
    path.write_text(yaml.safe_dump({"train_config": "t.yaml"}))
    with pytest.raises(ConfigError, match="'data' is required"):
        load_al_config(path)


def water_data(path, n=24):
    from ase.build import molecule

    from equimol.data.formats import write_structures
    from equimol.reference.label import label_structures

    atoms = molecule("H2O")
    rng = np.random.default_rng(0)
    frames = [
        {
            K.POSITIONS: atoms.positions + rng.normal(0, 0.03, (3, 3)),
            K.ATOMIC_NUMBERS: atoms.numbers.astype(np.int64),
        }
        for _ in range(n)
    ]
    labelled, failures, _ = label_structures(frames, properties=("energy", "forces"), progress=False)
    assert not failures
    write_structures(path, labelled)
    write_structures(path.with_name("start.xyz"), [frames[0]])


def test_active_learning_loop_grows_the_data_and_resumes(tmp_path):
    water_data(tmp_path / "initial.extxyz")
    (tmp_path / "train.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"train": "unused.extxyz", "n_val": 4, "targets": ["energy", "forces"]},
                "model": {"name": "painn", "n_features": 8, "n_interactions": 1, "cutoff": 3.0},
                "training": {"epochs": 8, "batch_size": 5, "lr": 5e-3, "progress": False},
            }
        )
    )
    cfg = {
        "structure": "start.xyz",
        "data": "initial.extxyz",
        "train_config": "train.yaml",
        "committee": 2,
        "rounds": 2,
        "threshold": 1e-4,  # untrained members always disagree more: every round selects
        "md": {
            "steps": 40,
            "dt_fs": 0.5,
            "beads": 4,
            "stride": 2,
            "stop_factor": 1e9,
            "free_ring_polymer_start": False,
        },
        "select": {"n_per_round": 5, "min_spacing_fs": 2.0},
        "label": {"properties": ["energy", "forces"]},
        "output_dir": "al",
    }
    (tmp_path / "al.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [
        sys.executable,
        "-m",
        "equimol.cli.main",
        "active-learn",
        str(tmp_path / "al.yaml"),
        "--no-progress",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads(r.stdout[r.stdout.index("{") :])
    history = json.loads((tmp_path / "al" / "history.json").read_text())
    assert [h["round"] for h in history] == [0, 1]
    assert [h["n_data"] for h in history] == [24, 29] and [h["added"] for h in history] == [5, 5]
    assert history[0]["max_disagreement"] > 1e-4 and history[0]["frames"] == 21
    selected = json.loads((tmp_path / "al" / "round_0" / "selected.json").read_text())
    times = sorted(s["frame"] for s in selected)
    assert all(b - a >= 2 for a, b in zip(times, times[1:], strict=False))  # 2 fs apart
    from equimol.data.formats import read_structures

    final = read_structures(summary["data"])
    assert len(final) == 34 and all(K.FORCES in s for s in final)
    assert (tmp_path / "al" / "disagreement.png").stat().st_size > 10_000
    import h5py

    with h5py.File(tmp_path / "al" / "round_0" / "md.h5") as f:  # free_ring_polymer_start: false
        first = f["positions"][0, 0]  # (beads, atoms, 3) at step 0
    assert np.allclose(first, first[0])
    # rerun: nothing is trained, simulated or labelled again; one more round continues
    r = subprocess.run(cmd + ["--rounds", "3"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("skipping") == 4  # round 0 and 1 committees (2 members each)
    history = json.loads((tmp_path / "al" / "history.json").read_text())
    assert [h["n_data"] for h in history] == [24, 29, 34]


def _warm_start_configs(tmp_path, members) -> None:
    """``initial/`` (a committee of ``members``), ``train.yaml`` and ``al.yaml`` (2 members,
    warm start from that committee, output ``al/``) in ``tmp_path``."""
    from equimol.committee import write_committee

    write_committee(tmp_path / "initial", members)
    (tmp_path / "train.yaml").write_text(
        yaml.safe_dump({"data": {"train": "unused.extxyz"}, "model": {"name": "painn"}})
    )
    raw = {
        "data": "d.extxyz",
        "train_config": "train.yaml",
        "committee": 2,
        "initial_committee": "initial",
        "warm_start": True,
        "output_dir": "al",
    }
    (tmp_path / "al.yaml").write_text(yaml.safe_dump(raw))


def test_initial_committee_and_warm_start(tmp_path, monkeypatch):
    """Round 0 uses the given committee untrained; round k's members start from round k − 1's."""
    import equimol.train.committee as tc_module
    from equimol.active_learning import ActiveLearning
    from equimol.committee import write_committee

    members = [tmp_path / "m0.pt", tmp_path / "m1.pt"]
    for m in members + [tmp_path / "r1a.pt", tmp_path / "r1b.pt"]:
        m.write_bytes(b"")
    _warm_start_configs(tmp_path, members)
    calls = []

    def fake_train_committee(cfg, n, log=print, init_from=None, split_files=None):
        calls.append((cfg.output_dir, n, init_from))
        assert split_files is None  # bare checkpoints: no run folder to inherit a split from

    monkeypatch.setattr(tc_module, "train_committee", fake_train_committee)
    al = ActiveLearning(load_al_config(tmp_path / "al.yaml"), log=lambda *_: None)
    assert al.train(0) == tmp_path / "initial" / "committee.json" and calls == []
    assert al.train(1) == tmp_path / "al" / "round_1" / "committee" / "committee.json"
    folder, n, init = calls[0]
    assert folder == str(tmp_path / "al" / "round_1" / "committee") and n == 2
    assert [p.resolve() for p in init] == members
    # round 2 starts from round 1's members; without warm_start from random weights
    write_committee(al.round_dir(1) / "committee", [tmp_path / "r1a.pt", tmp_path / "r1b.pt"])
    al.train(2)
    assert [p.name for p in calls[-1][2]] == ["r1a.pt", "r1b.pt"]
    al.cfg.warm_start = False
    al.train(2)
    assert calls[-1][2] is None
    al.cfg.warm_start, al.cfg.committee = True, 3
    with pytest.raises(ConfigError, match="round 0 has 2 members, the config asks for 3"):
        al.train(1)


def test_inherited_split_keeps_the_predecessors_roles(tmp_path):
    """A fine-tuned member never validates on a frame its predecessor trained on: old frames keep
    their roles (validation and test → validation), only new frames are split by the fraction."""
    from equimol.active_learning import inherited_split
    from equimol.data.formats import write_structures

    rng = np.random.default_rng(0)
    frames = [
        {"positions": rng.normal(size=(3, 3)), "atomic_numbers": np.array([8, 1, 1]), "energy": float(k)}
        for k in range(30)
    ]
    old, new = frames[:20], frames[20:]
    write_structures(tmp_path / "old.extxyz", old)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"data": {"train": str(tmp_path / "old.extxyz"), "val": None}})
    )
    prev = {"train": list(range(14)), "val": [14, 15, 16], "test": [17, 18, 19]}
    (run / "split.json").write_text(json.dumps(prev))
    # the grown set in another order: new frames interleaved with the old ones
    order = rng.permutation(30)
    write_structures(tmp_path / "grown.extxyz", [frames[i] for i in order])
    split = inherited_split(run, tmp_path / "grown.extxyz", 0.2, seed=1)
    where = {
        int(order[pos]): name
        for name in ("train", "val")
        for pos in split["train" if name == "train" else "val"]
    }
    assert split["test"] == [] and len(where) == 30
    assert all(where[i] == "train" for i in prev["train"])
    assert all(where[i] == "val" for i in prev["val"] + prev["test"])
    assert sum(where[i] == "val" for i in range(20, 30)) == 2  # 20 % of the 10 new frames
    assert inherited_split(run, tmp_path / "grown.extxyz", 0.2, seed=1) == split  # reproducible
    assert inherited_split(tmp_path, tmp_path / "grown.extxyz", 0.2, seed=1) is None  # no run files
    assert len(new) == 10


def test_warm_start_members_get_inherited_split_files(tmp_path, monkeypatch):
    import equimol.train.committee as tc_module
    from equimol.active_learning import ActiveLearning
    from equimol.data.formats import write_structures

    rng = np.random.default_rng(1)
    frames = [{"positions": rng.normal(size=(2, 3)), "atomic_numbers": np.array([1, 1])} for _ in range(12)]
    write_structures(tmp_path / "d.extxyz", frames)
    members = []
    for m in range(2):
        run = tmp_path / f"prev_{m}"
        run.mkdir()
        (run / "best.pt").write_bytes(b"")
        (run / "config.json").write_text(json.dumps({"data": {"train": str(tmp_path / "d.extxyz")}}))
        (run / "split.json").write_text(json.dumps({"train": list(range(10)), "val": [10, 11], "test": []}))
        members.append(run / "best.pt")
    _warm_start_configs(tmp_path, members)
    calls = []
    monkeypatch.setattr(
        tc_module,
        "train_committee",
        lambda cfg, n, log=print, init_from=None, split_files=None: calls.append(split_files),
    )
    al = ActiveLearning(load_al_config(tmp_path / "al.yaml"), log=lambda *_: None)
    extra = [{"positions": rng.normal(size=(2, 3)), "atomic_numbers": np.array([1, 1])} for _ in range(2)]
    al.round_dir(1).mkdir(parents=True)
    write_structures(al.round_dir(1) / "train.extxyz", frames + extra)  # round 0's data + 2 labelled frames
    al.train(1)
    files = calls[-1]
    assert [f.name for f in files] == ["split_member_0.json", "split_member_1.json"]
    for f in files:  # 5 % of 2 new frames rounds to none for validation
        assert json.loads(f.read_text()) == {"train": [*range(10), 12, 13], "val": [10, 11], "test": []}
    al.cfg.inherit_split = False
    al.train(1)
    assert calls[-1] is None
