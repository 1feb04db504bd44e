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
    structures = [
        {
            **s,
            K.ENERGY: np.asarray(sum(true[z] for z in s[K.ATOMIC_NUMBERS])),
            K.FORCES: np.full((len(s[K.ATOMIC_NUMBERS]), 3), 2.0),
        }
        for s in mixed_structures
    ]
    refs = fit_atom_references(structures)
    for z, e in true.items():
        assert abs(refs[z] - e) < 1e-8
    assert force_rms(structures) == 2.0


def _edge_pair_checks(batch):
    from equimol.data.neighbors import edge_pairs  # noqa: F401  (the function collate uses)
    from equimol.nn.scatter import edge_vectors

    ei, pair, first = batch[K.EDGE_INDEX], batch[K.EDGE_PAIR], batch[K.PAIR_EDGE]
    r = torch.linalg.vector_norm(edge_vectors(batch), dim=-1)
    assert pair.shape == (ei.shape[1],) and int(pair.max()) + 1 == first.shape[0]
    assert torch.equal(pair[first], torch.arange(first.shape[0]))  # each pair's edge belongs to it
    torch.testing.assert_close(r, r[first][pair], rtol=0, atol=0)  # one distance per pair
    # a full list: every pair has exactly its two directions
    counts = torch.bincount(pair)
    assert bool((counts == 2).all())
    a, b = ei[:, first[pair]]
    assert bool((((a == ei[0]) & (b == ei[1])) | ((a == ei[1]) & (b == ei[0]))).all())


def test_edge_pairs_molecules():
    from ase.build import molecule

    structs = []
    for name in ("CH3CH2OH", "C6H6"):
        a = molecule(name)
        structs.append(add_neighbors({K.ATOMIC_NUMBERS: a.numbers, K.POSITIONS: a.positions}, 3.0))
    _edge_pair_checks(collate(structs, dtype=torch.float64))


def test_edge_pairs_periodic_with_self_images():
    from ase.build import bulk

    a = bulk("Si", "diamond", a=5.43)  # 2 atoms, cutoff > cell: self-images (i = i, ±S) appear
    s = {
        K.ATOMIC_NUMBERS: a.numbers,
        K.POSITIONS: a.positions,
        K.CELL: np.array(a.cell),
        K.PBC: np.array(a.pbc),
    }
    batch = collate([add_neighbors(s, 4.5)], dtype=torch.float64)
    ei = batch[K.EDGE_INDEX]
    assert bool((ei[0] == ei[1]).any())
    _edge_pair_checks(batch)
