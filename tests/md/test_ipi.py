"""RPMD with a real i-PI server (UNIX socket) and ``equimol ipi-driver`` as its client."""

import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import ipi  # noqa: E402,F401  (installed by the test extra; a missing i-PI is a failure, not a skip)
import numpy as np
import pytest
import torch

from equimol import units as U

IPI = shutil.which("i-pi", path=str(Path(sys.executable).parent)) or shutil.which("i-pi")

INIT_XYZ = """3
# CELL(abcABC):   20.0  20.0  20.0  90.0  90.0  90.0  positions{angstrom} cell{angstrom}
O   0.000000   0.000000   0.119262
H   0.000000   0.763239  -0.477047
H   0.000000  -0.763239  -0.477047
"""

INPUT_XML = """<simulation verbosity='low' safe_stride='1000'>
  <output prefix='sim'>
    <properties stride='1' filename='out'> [ step, potential ] </properties>
    <trajectory filename='pos' stride='1' format='ase'> positions </trajectory>
    <trajectory filename='for' stride='1' format='ase'> forces </trajectory>
    <trajectory filename='dip' stride='1' extra_type='dipole'> extras </trajectory>
  </output>
  <total_steps> 3 </total_steps>
  <prng><seed> 31415 </seed></prng>
  <ffsocket name='equimol' mode='{mode}'>
    <address> {address} </address> {port} <latency> 1e-4 </latency> {batch}
  </ffsocket>
  <system>
    <initialize nbeads='4'>
      <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities>
    </initialize>
    <forces><force forcefield='equimol'> </force></forces>
    <motion mode='dynamics'>
      <dynamics mode='nvt'>
        <timestep units='femtosecond'> 0.25 </timestep>
        <thermostat mode='pile_l'><tau units='femtosecond'> 100 </tau></thermostat>
      </dynamics>
    </motion>
    <ensemble><temperature units='kelvin'> 300 </temperature></ensemble>
  </system>
</simulation>
"""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from equimol.potential import build_model
    from equimol.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    pot = build_model("painn", heads=["energy", "dipole"], n_features=8, n_interactions=2, cutoff=4.0)
    path = tmp_path_factory.mktemp("ipi_model") / "model.pt"
    save_checkpoint(path, pot)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path: Path, checkpoint: Path, batch_size: int, connections: int, tcp: bool) -> str:
    address = "127.0.0.1" if tcp else f"equimol_{uuid.uuid4().hex[:10]}"
    port = _free_port() if tcp else None
    batch = f"<batch_size> {batch_size} </batch_size>" if batch_size > 1 else ""
    (tmp_path / "init.xyz").write_text(INIT_XYZ)
    (tmp_path / "input.xml").write_text(
        INPUT_XML.format(
            mode="inet" if tcp else "unix",
            address=address,
            port=f"<port> {port} </port>" if tcp else "",
            batch=batch,
        )
    )
    where = ["--address", address, "--port", str(port)] if tcp else ["--unix", address]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = (tmp_path / "ipi.log").open("w")
    server = subprocess.Popen([IPI, "input.xml"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    driver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "equimol.cli.main",
            "ipi-driver",
            str(checkpoint),
            "--structure",
            "init.xyz",
            *where,
            "--dtype",
            "float64",
            "--connections",
            str(connections),
            "--connect-timeout",
            "60",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out, _ = driver.communicate(timeout=150)
        server.wait(timeout=60)
    finally:
        for p in (driver, server):
            if p.poll() is None:
                p.kill()
                p.wait()
        log.close()
        if not tcp:
            Path(f"/tmp/ipi_{address}").unlink(missing_ok=True)
    assert driver.returncode == 0 and server.returncode == 0, out + (tmp_path / "ipi.log").read_text()[-2000:]
    return out


def _dipoles(path: Path) -> np.ndarray:
    rows = [
        ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return np.array(rows, dtype=float)


# The standard protocol (one bead per request) runs on each of the two TCP connections; the
# UNIX case uses i-PI's batched messages (all 4 beads in one request).
@pytest.mark.parametrize(
    "batch_size,connections,tcp",
    [(4, 1, False), (1, 2, True)],
    ids=["unix-ipi-batch", "loopback-tcp-2-sockets"],
)
def test_ipi_rpmd_forces_and_dipoles_come_from_the_model(tmp_path, checkpoint, batch_size, connections, tcp):
    import ase.io

    from equimol.md.ase_calculator import Calculator

    out = _run(tmp_path, checkpoint, batch_size, connections, tcp)
    assert "evaluated 16 structures" in out or batch_size > 1, out  # 4 beads x (1 + 3 steps)
    if batch_size > 1:
        n, calls = (int(w) for w in out.split() if w.isdigit())
        assert n == batch_size * calls  # every model call held a full batch of beads
    calc = Calculator(str(checkpoint), dtype="float64")
    for bead in range(4):
        frames = ase.io.read(tmp_path / f"sim.pos_{bead}.extxyz", index=":")
        forces = ase.io.read(tmp_path / f"sim.for_{bead}.extxyz", index=":")
        dipoles = _dipoles(tmp_path / f"sim.dip_{bead}")
        assert len(frames) == len(forces) == len(dipoles) == 4
        for atoms, f, mu in zip(frames, forces, dipoles, strict=False):
            atoms.pbc = False
            atoms.calc = calc
            np.testing.assert_allclose(f.get_forces(), atoms.get_forces(), atol=2e-6)  # eV/Å
            np.testing.assert_allclose(mu * U.E_BOHR, calc.results["dipole"], atol=1e-7)  # e·Å
        assert np.abs(frames[-1].positions - frames[0].positions).max() > 1e-4  # the beads moved


def test_driver_reports_bad_arguments_and_missing_server(tmp_path, checkpoint, capsys):
    from equimol.cli.main import main

    (tmp_path / "init.xyz").write_text(INIT_XYZ)
    base = ["ipi-driver", str(checkpoint), "--structure", str(tmp_path / "init.xyz")]
    assert main(base) == 2
    assert "either --unix NAME or --port N" in capsys.readouterr().err
    assert main([*base, "--unix", f"missing_{uuid.uuid4().hex[:8]}", "--connect-timeout", "0.2"]) == 2
    err = capsys.readouterr().err
    assert "no i-PI server at /tmp/ipi_missing_" in err and err.count("\n") == 1
