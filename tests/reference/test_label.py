"""label_file: agreement with single points, resume after interruption, failure reports."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from equimol import keys
from equimol.data.formats import read_structures, write_structures
from equimol.reference import label as label_module
from equimol.reference.label import failures_path, label_file, label_structures, progress_path
from equimol.reference.xtb import PROPERTIES, XTBSettings, single_point

from .conftest import make_structure


@pytest.fixture
def frames_file(tmp_path, ethanol_frames):
    path = tmp_path / "frames.xyz"
    write_structures(path, ethanol_frames)
    return path


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_labels_match_single_points_in_internal_units(tmp_path, frames_file):
    out = tmp_path / "labelled.xyz"
    report = label_file(frames_file, out, progress=False)
    assert (report.n_structures, report.n_labelled, report.n_resumed) == (6, 6, 0)
    assert not progress_path(out).exists() and not failures_path(out).exists()
    labelled = read_structures(out)
    stored = read_structures(frames_file)  # positions as stored in the file (8 decimals)
    for frame, got in zip(stored, labelled, strict=True):
        ref = single_point(frame[keys.POSITIONS], frame[keys.ATOMIC_NUMBERS], properties=PROPERTIES)
        for key in PROPERTIES:
            np.testing.assert_allclose(got[key], ref[key], rtol=1e-9, atol=1e-8, err_msg=key)  # %.8f
        assert float(got[keys.TOTAL_CHARGE]) == 0.0


def test_requested_properties_replace_old_labels(tmp_path, ethanol_frames):
    old = [{**s, keys.ENERGY: np.asarray(1.0), keys.FORCES: np.ones((9, 3))} for s in ethanol_frames[:2]]
    src = tmp_path / "dft.xyz"
    write_structures(src, old)
    out = tmp_path / "energy_only.xyz"
    label_file(src, out, properties=("energy",), progress=False)
    labelled = read_structures(out)
    assert all(keys.FORCES not in s and float(s[keys.ENERGY]) < -100 for s in labelled)


class _Interrupt(KeyboardInterrupt):
    pass


def test_resume_after_interruption_relabels_nothing_and_loses_nothing(tmp_path, frames_file, monkeypatch):
    reference = tmp_path / "reference.xyz"
    label_file(frames_file, reference, progress=False)
    out = tmp_path / "resumed.xyz"
    real = label_module._label_one
    calls: list[int] = []

    def interrupted_after_three(index, *args):
        if len(calls) == 3:
            raise _Interrupt
        calls.append(index)
        return real(index, *args)

    monkeypatch.setattr(label_module, "_label_one", interrupted_after_three)
    with pytest.raises(_Interrupt):
        label_file(frames_file, out, progress=False)
    assert not out.exists()
    lines = progress_path(out).read_text().splitlines()
    assert len(lines) == 1 + 3  # header + three finished structures
    with open(progress_path(out), "a") as handle:
        handle.write('{"index": 3, "ok": tr')  # a write torn by a kill

    calls.clear()
    monkeypatch.setattr(
        label_module, "_label_one", lambda index, *args: calls.append(index) or real(index, *args)
    )
    report = label_file(frames_file, out, progress=False)
    assert calls == [3, 4, 5]
    assert (report.n_resumed, report.n_labelled) == (3, 6)
    for a, b in zip(read_structures(out), read_structures(reference), strict=True):
        _assert_same(a, b)
    assert not progress_path(out).exists()


def test_resume_with_other_settings_is_refused(tmp_path, frames_file, monkeypatch):
    out = tmp_path / "out.xyz"
    real = label_module._label_one

    def stop_at_two(index, *args):
        if index == 2:
            raise _Interrupt
        return real(index, *args)

    monkeypatch.setattr(label_module, "_label_one", stop_at_two)
    with pytest.raises(_Interrupt):
        label_file(frames_file, out, progress=False)
    monkeypatch.setattr(label_module, "_label_one", real)
    with pytest.raises(ValueError, match="different settings"):
        label_file(frames_file, out, properties=("energy",), progress=False)


def test_failing_structure_is_reported_with_its_index(tmp_path, ethanol_frames):
    frames = [dict(s) for s in ethanol_frames[:4]]
    broken = frames[2][keys.POSITIONS].copy()
    broken[1] = broken[0]  # two atoms on top of each other
    frames[2] = {**frames[2], keys.POSITIONS: broken}
    src, out = tmp_path / "in.xyz", tmp_path / "out.xyz"
    write_structures(src, frames)
    with pytest.warns(UserWarning, match=r"1 of 4 structures failed.*2 \("):
        report = label_file(src, out, properties=("energy", "forces"), progress=False)
    assert [i for i, _ in report.failures] == [2]
    entries = json.loads(failures_path(out).read_text())["failures"]
    assert entries[0]["index"] == 2 and "apart" in entries[0]["error"]
    assert len(read_structures(out)) == 3


def test_impossible_multiplicity_fails_every_structure_with_indices(tmp_path, water):
    src, out = tmp_path / "water.xyz", tmp_path / "out.xyz"
    write_structures(src, [water, water])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = label_file(src, out, properties=("energy",), multiplicity=2, progress=False)
    assert [i for i, _ in report.failures] == [0, 1]
    assert "multiplicity 2" in report.failures[0][1] and caught
    assert not out.exists() and failures_path(out).exists()


def test_parallel_workers_give_the_serial_result(ethanol_frames):
    settings = XTBSettings()
    serial, _, _ = label_structures(ethanol_frames, settings, ("energy", "dipole"), progress=False)
    parallel, failures, _ = label_structures(
        ethanol_frames, settings, ("energy", "dipole"), workers=2, progress=False, chunk_size=2
    )
    assert not failures
    for a, b in zip(serial, parallel, strict=True):
        _assert_same(a, b)


def test_unknown_property_is_rejected(ethanol_frames):
    with pytest.raises(ValueError, match="unknown properties"):
        label_structures(ethanol_frames, properties=("energy", "charges"), progress=False)


def test_any_ase_readable_input(tmp_path):
    import ase.io
    from ase.build import molecule

    src = tmp_path / "water.pdb"
    ase.io.write(src, [molecule("H2O"), molecule("H2O")])
    report = label_file(src, tmp_path / "out.extxyz", properties=("energy",), progress=False)
    assert report.n_labelled == 2 and make_structure("H2O")[keys.ATOMIC_NUMBERS].size == 3


def test_resume_after_sigkill_of_a_labelling_process(tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time

    frames = [make_structure("CH3CH2OH", jitter=0.05, seed=s) for s in range(120)]
    src, out = tmp_path / "in.xyz", tmp_path / "out.xyz"
    write_structures(src, frames)
    code = (
        "from equimol.reference.label import label_file; "
        f"label_file({str(src)!r}, {str(out)!r}, progress=False)"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    partial = progress_path(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and partial.read_text().count("\n") >= 6:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = {
        json.loads(line)["index"] for line in partial.read_text().splitlines()[1:] if line.endswith("}")
    }
    assert 0 < len(finished) < len(frames) and not out.exists()

    real = label_module._label_one
    calls: list[int] = []
    monkeypatch.setattr(
        label_module, "_label_one", lambda index, *args: calls.append(index) or real(index, *args)
    )
    report = label_file(src, out, progress=False)
    assert sorted(calls) == [i for i in range(len(frames)) if i not in finished]
    assert report.n_labelled == len(frames)
    direct, _, _ = label_structures(read_structures(src), progress=False)
    for a, b in zip(read_structures(out), direct, strict=True):
        for key in PROPERTIES:
            np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-8, err_msg=key)
