import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from equimol import keys as K
from equimol.data.formats import read_structures, to_atoms, write_structures
from equimol.data.neighbors import add_neighbors
from equimol.data.stats import StreamingStatistics, fit_atom_references, force_rms, residual_energy_std
from equimol.data.store import Store
from equimol.data.streaming import StoreGraphDataset, convert, iter_structures
from equimol.errors import DataError
from tests.conftest import rmd17_path


def _labelled(structures, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _k, s in enumerate(structures):
        n = len(s[K.ATOMIC_NUMBERS])
        out.append(
            {
                **s,
                K.POSITIONS: s[K.POSITIONS] + 0.01 * rng.normal(size=(n, 3)),
                K.ENERGY: np.asarray(-10.0 * n + rng.normal()),
                K.FORCES: rng.normal(size=(n, 3)),
            }
        )
    return out


def _synthetic_npz(path, m, n_side=4, compressed=False, seed=0):
    """rMD17-style npz: m frames of a 4×4×4 grid 'molecule' (64 atoms, 1.5 Å apart)."""
    rng = np.random.default_rng(seed)
    g = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.5
    coords = g[None] + 0.05 * rng.standard_normal((m, len(g), 3))
    z = np.where(np.arange(len(g)) % 3 == 0, 6, 1)
    save = np.savez_compressed if compressed else np.savez
    save(
        path,
        nuclear_charges=z,
        coords=coords,
        energies=rng.normal(size=m) - 1000.0,
        forces=rng.normal(size=(m, len(g), 3)),
    )


def test_npz_extxyz_db_stream_into_store_and_round_trip(tmp_path, mixed_structures):
    import ase.db

    structures = _labelled(mixed_structures * 3)
    write_structures(tmp_path / "d.extxyz", structures)
    with ase.db.connect(str(tmp_path / "d.db")) as db:
        for s in structures:
            db.write(to_atoms(s))
    _synthetic_npz(tmp_path / "d.npz", 5, n_side=2, compressed=True)
    for name in ("d.extxyz", "d.db", "d.npz"):
        ref = read_structures(tmp_path / name)
        streamed = list(iter_structures(tmp_path / name, chunk=2))
        assert len(streamed) == len(ref)
        out = convert(tmp_path / name, tmp_path / f"{name}.h5", chunk=2)
        store = Store(tmp_path / f"{name}.h5")
        assert out["n_structures"] == len(store) == len(ref)
        for a, b, c in zip(ref, streamed, store, strict=False):
            for key in (K.POSITIONS, K.FORCES, K.ENERGY, K.ATOMIC_NUMBERS):
                np.testing.assert_allclose(b[key], a[key], atol=1e-10)
                np.testing.assert_allclose(c[key], a[key], atol=1e-10)
        refs = fit_atom_references(ref)
        stats = store.attrs["statistics"]
        for z, e in stats["atom_refs"].items():
            assert e == pytest.approx(refs[int(z)], abs=1e-6)
        assert stats["force_rms"] == pytest.approx(force_rms(ref), rel=1e-12)


def test_streaming_statistics_match_in_memory():
    data = read_structures(rmd17_path("ethanol")) + read_structures(rmd17_path("aspirin"))  # 50 + 20
    acc = StreamingStatistics()
    for s in data:
        acc.update(s)
    r = acc.result()
    refs = fit_atom_references(data)
    assert {int(z): e for z, e in r["atom_refs"].items()} == pytest.approx(
        {int(z): refs[z] for z in np.nonzero(refs)[0]}, rel=1e-12
    )
    assert r["energy_std_per_atom"] == pytest.approx(residual_energy_std(data, refs), rel=1e-5)
    assert r["force_rms"] == pytest.approx(force_rms(data), rel=1e-12)
    one = StreamingStatistics()  # a single composition: minimum-norm solution, as lstsq
    for s in data[:50]:
        one.update(s)
    refs1 = fit_atom_references(data[:50])
    for z, e in one.result()["atom_refs"].items():
        assert e == pytest.approx(refs1[z], rel=1e-10)


def test_store_modes_and_precomputed_neighbors(tmp_path, mixed_structures):
    periodic = {
        **mixed_structures[0],
        K.POSITIONS: mixed_structures[0][K.POSITIONS] + 1.0,
        K.CELL: 4.0 * np.eye(3),
        K.PBC: np.ones(3, bool),
    }
    structures = _labelled([periodic] * 5)
    write_structures(tmp_path / "p.extxyz", structures)
    convert(tmp_path / "p.extxyz", tmp_path / "p.h5", neighbor_cutoff=3.0, chunk=2)
    cached, direct = Store(tmp_path / "p.h5"), Store(tmp_path / "p.h5", cache_bytes=0)
    assert cached.cached and not direct.cached and cached.has_neighbors(3.0)
    for i in (4, 0, 3, -1):
        for key in cached.keys:
            np.testing.assert_array_equal(cached[i][key], direct[i][key])
        np.testing.assert_array_equal(cached.neighbors(i)[0], direct.neighbors(i)[0])
    ds = StoreGraphDataset(cached, 3.0)
    assert ds.stored_neighbors and not StoreGraphDataset(cached, 2.5).stored_neighbors
    for i in range(len(ds)):
        fresh = add_neighbors(read_structures(tmp_path / "p.extxyz")[i], 3.0)
        np.testing.assert_array_equal(ds[i][K.EDGE_INDEX], fresh[K.EDGE_INDEX])
        np.testing.assert_allclose(ds[i][K.EDGE_SHIFTS], fresh[K.EDGE_SHIFTS], atol=1e-12)
        assert np.abs(fresh[K.EDGE_SHIFTS]).max() > 0  # periodic images are present
    it = list(cached.iterate([1, 3], neighbors=True))
    np.testing.assert_array_equal(it[1][K.EDGE_INDEX], ds[3][K.EDGE_INDEX])
    cached[0][K.POSITIONS][:] = 0.0  # returned arrays are copies
    assert np.abs(cached[0][K.POSITIONS]).max() > 0


def test_bad_input_leaves_nothing_behind(tmp_path, water):
    good = {**water, K.ENERGY: np.asarray(-1.0), K.FORCES: np.zeros((3, 3))}
    bad = {**good, K.POSITIONS: np.zeros((3, 3))}
    write_structures(tmp_path / "bad.extxyz", [good, good, bad])
    with pytest.raises(DataError, match=r"bad.extxyz\[2\].*overlapping"):
        convert(tmp_path / "bad.extxyz", tmp_path / "out.h5", chunk=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.extxyz"]


def test_cli_convert_with_neighbors(tmp_path):
    from equimol.cli.main import main

    assert main(["convert", str(rmd17_path("ethanol")), str(tmp_path / "e.h5"), "--neighbors", "4.0"]) == 0
    store = Store(tmp_path / "e.h5")
    assert len(store) == 50 and store.has_neighbors(4.0)
    assert main(["convert", str(rmd17_path("ethanol")), str(tmp_path / "e.xyz"), "--neighbors", "4.0"]) == 2


def test_training_data_from_store_stays_lazy(tmp_path):
    import yaml

    from equimol.train.config import load_config
    from equimol.train.data import prepare_data

    convert(rmd17_path("ethanol"), tmp_path / "e.h5", neighbor_cutoff=4.0)
    raw = {
        "data": {"train": str(rmd17_path("ethanol")), "n_train": 30, "n_val": 10},
        "model": {"name": "painn", "n_features": 8, "cutoff": 4.0},
        "output_dir": str(tmp_path / "run"),
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "run").mkdir()
    mem = prepare_data(load_config(tmp_path / "c.yaml"), 4.0, tmp_path / "run")
    lazy = prepare_data(
        load_config(tmp_path / "c.yaml", [f"data.train={tmp_path / 'e.h5'}"]), 4.0, tmp_path / "run"
    )
    assert isinstance(lazy.train.dataset, StoreGraphDataset) and lazy.train.dataset.stored_neighbors
    assert lazy.split == mem.split
    assert lazy.statistics["atom_refs"] == pytest.approx(mem.statistics["atom_refs"])
    assert lazy.statistics["force_rms"] == pytest.approx(mem.statistics["force_rms"])
    a, b = mem.train[3], lazy.train[3]
    for key in (K.POSITIONS, K.FORCES, K.EDGE_INDEX):
        np.testing.assert_array_equal(a[key], b[key])


MEMORY_SCRIPT = textwrap.dedent("""
    import sys
    from equimol.data.store import Store
    from equimol.data.stats import StreamingStatistics

    src, dst, mode = sys.argv[1:]
    if mode == "stream":
        from equimol.data.streaming import convert
        convert(src, dst, chunk=64, validate=False)
    else:  # the in-memory path, as a control that the measurement sees dataset size
        from equimol.data.formats import read_structures, write_structures
        write_structures(dst, read_structures(src, validate=False))
    acc = StreamingStatistics()
    for s in Store(dst).iterate():
        acc.update(s)
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(int(hwm) // 1024)
""")


def _peak_mb(tmp_path, m, mode):
    src, dst = tmp_path / f"s{m}.npz", tmp_path / f"s{m}_{mode}.h5"
    if not src.exists():
        _synthetic_npz(src, m)
    r = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(src), str(dst), mode],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr
    assert len(Store(dst)) == m
    return int(r.stdout.split()[-1])


def test_convert_and_store_pass_have_bounded_memory(tmp_path):
    """10x more data (1.5 MB -> 15 MB of coordinates and forces): streaming peak memory
    stays flat, while the in-memory path grows with the data."""
    small, big = 500, 5000
    data_mb = (big - small) * 64 * 3 * 8 * 2 / 2**20  # ≈ 26 MB more input
    stream = _peak_mb(tmp_path, big, "stream") - _peak_mb(tmp_path, small, "stream")
    in_memory = _peak_mb(tmp_path, big, "memory") - _peak_mb(tmp_path, small, "memory")
    assert in_memory > data_mb  # the measurement is sensitive to dataset size
    assert stream < 0.25 * data_mb, (stream, in_memory)
