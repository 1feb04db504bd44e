"""Committee uncertainty: the mean/spread formulas, the committee file, the ASE calculator,
MD watching the disagreement, and a trained committee that disagrees off its training data."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

import equimol
from equimol import keys as K
from equimol.committee import Committee, load_committee, write_committee
from equimol.errors import ConfigError
from equimol.evaluator import Evaluator
from equimol.io import load, save_checkpoint
from equimol.md.potentials import morse
from equimol.testing import ethanol

HEADS = ("energy", "dipole", "polarizability")


def tiny(seed: int, cutoff: float = 4.0):
    torch.manual_seed(seed)
    return equimol.build_model("painn", n_features=8, n_interactions=1, cutoff=cutoff, heads=HEADS)


def test_mean_and_spread_are_the_members_statistics():
    members = [tiny(s) for s in range(3)]
    ev = Evaluator(Committee(members), dtype=torch.float64)
    mol = ethanol()
    out = ev.predict([mol, mol | {K.POSITIONS: mol[K.POSITIONS] * 1.02}])
    single = [
        Evaluator(m, dtype=torch.float64).predict([mol, mol | {K.POSITIONS: mol[K.POSITIONS] * 1.02}])
        for m in members
    ]
    for b in range(2):
        for key, std_key in ((K.ENERGY, K.ENERGY_STD), (K.FORCES, K.FORCES_STD), (K.DIPOLE, K.DIPOLE_STD)):
            stack = np.stack([s[b][key] for s in single])
            np.testing.assert_allclose(out[b][key], stack.mean(0), rtol=1e-10, atol=1e-12)
            # population standard deviation (ddof = 0), by hand
            spread = np.sqrt(((stack - stack.mean(0)) ** 2).mean(0))
            np.testing.assert_allclose(out[b][std_key], spread, rtol=1e-8, atol=1e-12)
        per_atom = np.sqrt((out[b][K.FORCES_STD] ** 2).sum(-1))
        assert out[b][K.FORCE_DISAGREEMENT] == pytest.approx(per_atom.max(), rel=1e-10)
        assert out[b][K.FORCE_DISAGREEMENT] > 0


def test_committee_refuses_mismatched_members():
    with pytest.raises(ConfigError, match="at least 2"):
        Committee([tiny(0)])
    with pytest.raises(ConfigError, match="cutoffs"):
        Committee([tiny(0, 4.0), tiny(1, 5.0)])
    other = equimol.build_model("painn", n_features=8, n_interactions=1, cutoff=4.0, heads=("energy",))
    with pytest.raises(ConfigError, match="different outputs"):
        Committee([tiny(0), other])


def test_committee_file_roundtrip_and_clear_errors(tmp_path):
    paths = []
    for k in range(2):
        (tmp_path / f"member_{k}").mkdir()
        paths.append(save_checkpoint(tmp_path / f"member_{k}" / "best.pt", tiny(k)))
    path = write_committee(tmp_path, paths)
    assert path == tmp_path / "committee.json"
    assert json.loads(path.read_text())["members"] == ["member_0/best.pt", "member_1/best.pt"]
    for spec in (path, tmp_path):  # the JSON or its folder
        c = load(spec)
        assert isinstance(c, Committee) and len(c) == 2
    assert K.FORCE_DISAGREEMENT in load_committee(paths).outputs
    (tmp_path / "member_1" / "best.pt").unlink()
    with pytest.raises(ConfigError, match="missing"):
        load(path)
    bad = tmp_path / "other.json"
    bad.write_text('{"members": []}')
    with pytest.raises(ConfigError, match="not an equimol committee"):
        load(bad)


def test_ase_calculator_reports_the_spread():
    from equimol.md.ase_calculator import Calculator

    atoms = ethanol_atoms()
    atoms.calc = Calculator(Committee([tiny(0), tiny(1)]), dtype="float64")
    forces_std = atoms.calc.get_property("forces_std", atoms)
    assert forces_std.shape == (9, 3) and np.all(forces_std >= 0)
    d = atoms.calc.get_property("force_disagreement", atoms)
    assert d == pytest.approx(np.sqrt((forces_std**2).sum(-1)).max())
    assert atoms.calc.get_property("energy_std", atoms) > 0


def ethanol_atoms():
    from ase import Atoms

    mol = ethanol()
    return Atoms(numbers=mol[K.ATOMIC_NUMBERS], positions=mol[K.POSITIONS])


# --- a trained committee ------------------------------------------------------------------------
Z = np.array([8, 1, 1])
WATER = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """3 tiny PaiNN members trained on 60 Morse 'water' geometries within ±0.04 Å of the minimum."""
    from equimol.data.formats import write_structures
    from equimol.train.committee import train_committee
    from equimol.train.config import config_from_dict

    tmp = tmp_path_factory.mktemp("committee")
    fn = morse(4.0, 2.0, 0.96, pairs=torch.tensor([[0, 1], [0, 2]]))
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(60):
        p = WATER + rng.normal(0.0, 0.04, WATER.shape)
        out = fn(torch.tensor(p[None]))
        frames.append(
            {
                K.POSITIONS: p,
                K.ATOMIC_NUMBERS: Z,
                K.ENERGY: np.array(float(out["energy"][0])),
                K.FORCES: out["forces"][0].numpy(),
            }
        )
    write_structures(tmp / "morse.extxyz", frames)
    raw = {
        "data": {
            "train": str(tmp / "morse.extxyz"),
            "n_train": 50,
            "n_val": 10,
            "targets": ["energy", "forces"],
        },
        "model": {"name": "painn", "n_features": 16, "n_interactions": 1, "cutoff": 3.0},
        "training": {"epochs": 120, "batch_size": 10, "lr": 5e-3, "progress": False},
        "output_dir": str(tmp / "run"),
    }
    cfg = config_from_dict(raw)
    logs = []
    result = train_committee(cfg, 3, log=logs.append)
    return {"dir": tmp / "run", "frames": frames, "result": result, "cfg": cfg}


def test_trained_committee_agrees_on_training_data_not_on_a_stretched_bond(trained):
    c = load(trained["dir"] / "committee.json")
    seeds = [m.metadata["config"]["training"]["seed"] for m in c.members]
    splits = [m.metadata["config"]["data"]["seed"] for m in c.members]
    assert seeds == [0, 1, 2] and splits == [0, 1, 2]
    ev = Evaluator(c)
    on_data = np.array([r[K.FORCE_DISAGREEMENT] for r in ev.predict(trained["frames"][:50])])
    stretched = WATER.copy()
    stretched[1] *= 1.3  # O-H from 0.96 to 1.25 Å, 7 standard deviations outside the data
    off = ev.predict([{K.POSITIONS: stretched, K.ATOMIC_NUMBERS: Z}])[0][K.FORCE_DISAGREEMENT]
    assert off > 3.0 * np.median(on_data), (off, np.median(on_data))


def test_committee_training_resumes_and_skips_finished_members(trained):
    from equimol.train.committee import train_committee

    logs = []
    train_committee(trained["cfg"], 3, log=logs.append)
    assert sum("skipping" in line for line in logs) == 3


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "equimol.cli.main", *map(str, args)], capture_output=True, text=True
    )


def test_md_logs_the_disagreement_warns_and_stops(trained, tmp_path):
    from equimol.data.formats import write_structures

    start = tmp_path / "start.xyz"
    write_structures(start, [{K.POSITIONS: WATER, K.ATOMIC_NUMBERS: Z}])
    traj = tmp_path / "md.h5"
    common = ["--steps", 20, "--stride", 2, "--dt-fs", 0.25, "--no-progress"]
    r = run_cli("md", trained["dir"], start, "-o", traj, *common, "--max-force-disagreement", 1e-6)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "force disagreement" in warnings[0] and "extrapolating" in warnings[0]
    summary = json.loads(r.stdout)
    assert summary["committee"]["members"] == 3 and summary["committee"]["steps_above_threshold"] == 21
    with h5py.File(traj) as f:
        d = f["force_disagreement"][()]
    assert d.shape == (11, 1, 1) and np.all(d > 0)
    assert summary["committee"]["max_force_disagreement"] >= d.max() - 1e-6
    stopped = tmp_path / "stop.h5"
    r = run_cli(
        "md",
        trained["dir"] / "committee.json",
        start,
        "-o",
        stopped,
        *common,
        "--max-force-disagreement",
        1e-6,
        "--stop-on-disagreement",
    )
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "exceeds" in line and "stopped" in line
    with h5py.File(stopped) as f:  # the frames up to the stop are on disk
        assert f["time_fs"].shape[0] >= 1


def test_threshold_without_a_committee_is_refused(tmp_path):
    from equimol.data.formats import write_structures

    ckpt = save_checkpoint(tmp_path / "m.pt", tiny(0))
    start = tmp_path / "start.xyz"
    write_structures(start, [{K.POSITIONS: WATER, K.ATOMIC_NUMBERS: Z}])
    r = run_cli(
        "md",
        ckpt,
        start,
        "-o",
        tmp_path / "x.h5",
        "--steps",
        2,
        "--max-force-disagreement",
        0.1,
        "--no-progress",
    )
    assert r.returncode == 2 and "needs a committee" in r.stderr


def test_predict_reports_the_spread_of_a_committee(tmp_path):
    from equimol.data.formats import write_structures

    paths = [save_checkpoint(tmp_path / f"m{k}.pt", tiny(k)) for k in range(2)]
    write_committee(tmp_path, paths)
    mol = ethanol()
    write_structures(tmp_path / "mol.xyz", [mol])
    r = run_cli("predict", tmp_path / "committee.json", tmp_path / "mol.xyz")
    assert r.returncode == 0, r.stderr
    assert "σ(E)" in r.stdout and "max σ(F)" in r.stdout
    r = run_cli("predict", tmp_path, tmp_path / "mol.xyz", "-o", tmp_path / "p.json")
    assert r.returncode == 0, r.stderr
    (pred,) = json.loads((tmp_path / "p.json").read_text())
    assert {"energy_std", "forces_std", "force_disagreement", "dipole_std"} <= set(pred)
    assert np.asarray(pred["forces_std"]).shape == (9, 3)
