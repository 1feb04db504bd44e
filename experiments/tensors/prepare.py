"""Write the data files of the tensor experiments (issue 3) with equimol's own readers.

    python experiments/tensors/prepare.py            # -> runs/data/*.h5

- malonaldehyde_alpha_{train,test}.h5: DFT polarizabilities along 500 K MD (Å³ inside).
- qm9_rimp2_dipole_{train,test}.h5: RI-MP2 dipole vectors (e·Å) of the 10k QM9 subset, 90/10 split.
- qm9_champs_mu_{train,test}.h5: CHAMPS |μ| (e·Å), a random subset (size via --qm9-mu-size).
"""

import argparse
from pathlib import Path

import numpy as np

from equimol import keys as K
from equimol.data.formats import write_structures
from equimol.data.polarizability_sets import read_polarizability_set
from equimol.data.qm9 import read_qm9

ROOT = Path(__file__).resolve().parents[2]


def split_write(structures, stem: Path, n_test: int, seed: int = 0) -> None:
    perm = np.random.default_rng(seed).permutation(len(structures))
    test, train = perm[:n_test], perm[n_test:]
    write_structures(f"{stem}_train.h5", [structures[i] for i in train])
    write_structures(f"{stem}_test.h5", [structures[i] for i in test])
    print(f"{stem.name}: {len(train)} train, {len(test)} test")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=str(ROOT / "runs" / "data"))
    p.add_argument("--qm9-mu-size", type=int, default=30000)
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        s = read_polarizability_set("malonaldehyde", split)
        write_structures(out / f"malonaldehyde_alpha_{split}.h5", s)
        print(f"malonaldehyde {split}: {len(s)}")
    dip = read_qm9(labels=("dipole",), limit=None)
    dip = [{k: v for k, v in s.items() if k in (K.POSITIONS, K.ATOMIC_NUMBERS, K.DIPOLE)} for s in dip]
    split_write(dip, out / "qm9_rimp2_dipole", n_test=1000)
    mu = read_qm9(labels=("dipole_magnitude",), limit=a.qm9_mu_size, seed=0)
    split_write(mu, out / "qm9_champs_mu", n_test=min(2000, len(mu) // 10))


if __name__ == "__main__":
    main()
