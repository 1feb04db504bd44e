"""The CLI chain a user follows: md -> spectrum, and the demo at a tiny size."""

import json
import subprocess
import sys

import h5py
import numpy as np

import equimol
from equimol.committee import write_committee
from equimol.train.checkpoint import save_checkpoint

ASSETS = equimol.__path__[0] + "/assets"


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "equimol.cli.main", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_md_then_spectrum(tmp_path):
    model = equimol.build_model(
        "painn", n_features=8, n_interactions=1, heads=("energy", "dipole", "polarizability")
    )
    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, model)
    traj = tmp_path / "traj.h5"
    r = run(
        "md",
        ckpt,
        f"{ASSETS}/rmd17_ethanol_heldout.npz",
        "--steps",
        60,
        "--dt-fs",
        0.5,
        "--beads",
        2,
        "--replicas",
        2,
        "--stride",
        2,
        "--output",
        traj,
        "--no-progress",
        "--threads",
        1,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["steps"] == 60 and json.loads(r.stdout)["threads"] == 1
    with h5py.File(traj) as f:
        assert f["positions"].shape == (31, 2, 2, 9, 3)
        assert f["dipole"].shape == (31, 2, 2, 3) and f["polarizability"].shape == (31, 2, 2, 3, 3)
        assert f["energy_potential"].shape == (31, 2) and f.attrs["dt_fs"] == 0.5 and f.attrs["stride"] == 2
    csv, png = tmp_path / "s.csv", tmp_path / "s.png"
    r = run("spectrum", traj, "--ir", "--raman", "--power", "--depth-fs", 20, "--csv", csv, "--plot", png)
    assert r.returncode == 0, r.stderr
    header = csv.read_text().splitlines()[0].split(",")
    assert header == ["frequency_cm1", "ir", "raman_iso", "raman_aniso", "power"]
    table = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert np.allclose(table[:, 1:].max(axis=0), 1.0)  # normalised
    assert png.stat().st_size > 1000


def test_md_compile_same_trajectory(tmp_path):
    """``equimol md --compile`` (inductor) runs energy, forces, dipole and polarizability in one
    compiled graph: the trajectory, μ and α equal the eager run's to float32 round-off."""
    model = equimol.build_model(
        "painn", n_features=8, n_interactions=1, heads=("energy", "dipole", "polarizability")
    )
    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, model)
    common = ("--steps", 20, "--dt-fs", 0.5, "--beads", 2, "--stride", 5, "--no-progress", "--threads", 1)
    runs = {}
    for name, extra in (("eager", ()), ("compiled", ("--compile",))):
        out = tmp_path / f"{name}.h5"
        r = run("md", ckpt, f"{ASSETS}/rmd17_ethanol_heldout.npz", *common, "--output", out, *extra)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["compiled"] is (name == "compiled"), r.stderr
        with h5py.File(out) as f:
            runs[name] = {k: f[k][()] for k in ("positions", "dipole", "polarizability", "energy_potential")}
    for key, ref in runs["eager"].items():
        np.testing.assert_allclose(runs["compiled"][key], ref, atol=1e-4, err_msg=key)


def test_md_compile_refuses_a_committee(tmp_path):
    members = []
    for k in range(2):
        members.append(tmp_path / f"m{k}.pt")
        save_checkpoint(members[-1], equimol.build_model("painn", n_features=8, n_interactions=1))
    write_committee(tmp_path / "committee.json", members)
    r = run("md", tmp_path, f"{ASSETS}/rmd17_ethanol_heldout.npz", "--steps", 2, "--output", tmp_path / "t.h5",
            "--compile", "--no-progress")  # fmt: skip
    assert r.returncode != 0
    assert "--compile runs a single model, not a committee" in r.stderr


def test_spectrum_without_dipole_is_a_clear_error(tmp_path):
    model = equimol.build_model("painn", n_features=8, n_interactions=1)
    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, model)
    traj = tmp_path / "t.h5"
    assert (
        run(
            "md",
            ckpt,
            f"{ASSETS}/rmd17_ethanol_heldout.npz",
            "--steps",
            10,
            "--output",
            traj,
            "--no-progress",
        ).returncode
        == 0
    )
    r = run("spectrum", traj, "--ir")
    assert r.returncode == 2 and "dipole" in r.stderr and "Traceback" not in r.stderr


def test_demo_quick(tmp_path):
    r = run("demo", "--quick", "--output-dir", tmp_path / "demo", "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert set(report["test_metrics"]["metrics"]) >= {"energy", "forces", "dipole", "polarizability"}
    for name in (
        "ir.png",
        "raman.png",
        "spectrum_classical.csv",
        "spectrum_rpmd.csv",
        "spectrum_xtb.csv",
        "report.md",
        "md_classical.h5",
        "md_rpmd.h5",
        "md_xtb.h5",
        "md_xtb_rpmd4.h5",  # the known answer for ML-RPMD: xTB-RPMD at the same 4 beads
        "ir_rpmd.png",
        "raman_rpmd.png",
    ):
        assert (tmp_path / "demo" / name).stat().st_size > 0, name
    spectra = report["spectra"]
    assert 0 < spectra["ir_overlap_ml_rpmd4_vs_xtb_rpmd4"] <= 1
    bands = spectra["ir_bands_cm1"]
    assert set(bands) == {"classical", "rpmd", "xtb", "xtb_rpmd4"}
    assert set(bands["rpmd"]) == {"fingerprint", "C-H stretch", "O-H stretch"}
    md = (tmp_path / "demo" / "report.md").read_text()
    assert "RPMD vs GFN2-xTB RPMD" in md
    # the committee (issue #19): two models, disagreement on the test frames and along each run
    committee = spectra["committee_disagreement"]
    assert committee["members"] == 2 and committee["unit"] == "eV/Å"
    for name in ("test", "classical", "rpmd", "xtb", "xtb_rpmd4"):
        assert committee[name]["n"] > 0 and 0 < committee[name]["mean"] <= committee[name]["max"], name
    assert committee["rpmd"]["n"] == 5 * 4  # 5 frames x 4 beads
    assert "## Committee disagreement (2 models" in md
    assert (tmp_path / "demo" / "committee" / "committee.json").exists()


def test_thermostat_spellings_users_type(tmp_path):
    from equimol.md.config import MDConfig

    for typed, name in (
        ("pile-l", "langevin"),
        ("PILE_G", "csvr"),
        ("Nose-Hoover", "nhc"),
        ("nose hoover chain", "nhc"),
    ):
        assert MDConfig(thermostat=typed).thermostat == name
    r = run("md", "--help")
    assert "pile_l" in r.stdout and "'-' or '_'" in r.stdout
    model = equimol.build_model("painn", n_features=8, n_interactions=1)
    save_checkpoint(tmp_path / "m.pt", model)
    r = run(
        "md",
        tmp_path / "m.pt",
        f"{ASSETS}/rmd17_ethanol_heldout.npz",
        "--steps",
        4,
        "--beads",
        2,
        "--thermostat",
        "pile-l",
        "--output",
        tmp_path / "t.h5",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    r = run(
        "md",
        tmp_path / "m.pt",
        f"{ASSETS}/rmd17_ethanol_heldout.npz",
        "--thermostat",
        "pile-x",
        "--output",
        tmp_path / "u.h5",
    )
    assert r.returncode == 2 and "invalid choice: 'pile_x'" in r.stderr and not (tmp_path / "u.h5").exists()


def test_empty_and_wrong_unit_files_on_the_command_line(tmp_path):
    from equimol.data.formats import read_structures, write_structures

    model = equimol.build_model("painn", n_features=8, n_interactions=1)
    save_checkpoint(tmp_path / "m.pt", model)
    for name in ("e.xyz", "e.extxyz", "e.npz", "e.db", "e.h5"):
        (tmp_path / name).write_bytes(b"")
        r = run("evaluate", tmp_path / "m.pt", tmp_path / name)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
        assert "empty file" in r.stderr
    (tmp_path / "blank.xyz").write_text("\n\n")
    r = run("predict", tmp_path / "m.pt", tmp_path / "blank.xyz")
    assert r.returncode == 2 and "holds no structures" in r.stderr
    frames = read_structures(f"{ASSETS}/rmd17_ethanol_heldout.npz")[:3]
    write_structures(tmp_path / "pm.extxyz", [{**s, "positions": 100 * s["positions"]} for s in frames])
    r = run("evaluate", tmp_path / "m.pt", tmp_path / "pm.extxyz")
    assert r.returncode == 0
    (warning,) = [line for line in r.stderr.splitlines() if "warning" in line]
    assert "look like pm" in warning and "--length-unit pm" in warning
    r = run(
        "evaluate",
        tmp_path / "m.pt",
        tmp_path / "pm.extxyz",
        "--length-unit",
        "pm",
        "--json",
        tmp_path / "o.json",
    )
    assert r.returncode == 0 and "warning" not in r.stderr
