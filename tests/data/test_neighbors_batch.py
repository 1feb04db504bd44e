import numpy as np
import torch
from ase.build import bulk

from equimol import keys as K
from equimol.data.batch import collate
from equimol.data.neighbors import add_neighbors, neighbor_list
from equimol.data.splits import load_split, random_split, save_split
from equimol.data.stats import fit_atom_references, force_rms


def test_neighbor_list_nonperiodic_matches_bruteforce(ethanol):
    ei, sh = neighbor_list(ethanol[K.POSITIONS], 1.6)
    d = np.linalg.norm(ethanol[K.POSITIONS][:, None] - ethanol[K.POSITIONS][None], axis=-1)
    expected = {(i, j) for i in range(9) for j in range(9) if i != j and d[i, j] < 1.6}
    assert set(map(tuple, ei.T.tolist())) == expected
    assert np.all(sh == 0)


def test_neighbor_list_periodic():
    a = bulk("Cu", "fcc", a=3.6)  # one atom, 12 nearest neighbours at a/sqrt(2)
    ei, sh = neighbor_list(a.positions, 2.6, np.asarray(a.cell), a.pbc)
    assert ei.shape[1] == 12
    r = np.linalg.norm(a.positions[ei[1]] - a.positions[ei[0]] + sh, axis=1)
    np.testing.assert_allclose(r, 3.6 / np.sqrt(2), atol=1e-8)


def test_collate_offsets(mixed_structures):
    s = [add_neighbors(x, 3.0) for x in mixed_structures]
    b = collate(s)
    n = [len(x[K.ATOMIC_NUMBERS]) for x in mixed_structures]
    assert b[K.POSITIONS].shape == (sum(n), 3)
    assert b[K.BATCH].tolist() == sum(([k] * m for k, m in enumerate(n)), [])
    assert b[K.N_ATOMS].tolist() == n
    ei = b[K.EDGE_INDEX]
    assert torch.all(b[K.BATCH][ei[0]] == b[K.BATCH][ei[1]])  # no edges across molecules
    assert ei.shape[1] == sum(x[K.EDGE_INDEX].shape[1] for x in s)


def test_splits_roundtrip(tmp_path):
    split = random_split(100, 80, 15, 5, seed=3)
    assert not set(split["train"]) & set(split["val"])
    assert len(split["train"]) == 80 and len(split["test"]) == 5
    save_split(tmp_path / "s.json", split)
    assert load_split(tmp_path / "s.json", 100) == split
    assert random_split(100, 80, 15, 5, seed=3) == split


def test_atom_references_exact_for_additive_energies(mixed_structures):
    true = {1: -13.6, 6: -1029.0, 8: -2040.0}
    structures = [{**s, K.ENERGY: np.asarray(sum(true[z] for z in s[K.ATOMIC_NUMBERS])),
                   K.FORCES: np.full((len(s[K.ATOMIC_NUMBERS]), 3), 2.0)} for s in mixed_structures]
    refs = fit_atom_references(structures)
    for z, e in true.items():
        assert abs(refs[z] - e) < 1e-8
    assert force_rms(structures) == 2.0
