"""The demo's committee (issue #19): extra PaiNN members and their disagreement along the
ML trajectories, against the disagreement on held-out reference frames.

Member 0 is the demo's model. Members 1 … N−1 train the same network for
``committee_minutes`` each, with seed + k and their own training/validation split of the same
pool; all members keep the demo model's test frames out of training, so those frames measure
the committee's disagreement where the model is known to be right. Members start from random
weights even when the demo model was fine-tuned (``init_from``): a committee of copies would
agree everywhere.

Disagreement of a structure: the largest over atoms of the members' force standard deviation,
‖σ_F,i‖ in eV/Å (:func:`equimol.committee.force_disagreement`). Along a trajectory it is taken
on up to ``max_frames`` evenly spaced recorded frames, every bead of an RPMD frame counting as
a structure (the beads are what the model is evaluated on).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from equimol import keys as K
from equimol.io import write_text


def member_split(main_split: dict, k: int, n_val: int, seed: int = 0) -> dict:
    """Member k's split: the main test set kept out; training/validation drawn from the rest."""
    pool = np.asarray(sorted(main_split["train"] + main_split["val"]))
    order = np.random.default_rng(seed + k).permutation(pool)
    return {
        "train": sorted(order[n_val:].tolist()),
        "val": sorted(order[:n_val].tolist()),
        "test": main_split["test"],
    }


def stage_committee(cfg, out: Path, data: Path, ckpt: Path, log) -> Path | None:
    """Train (or resume, or skip when done) members 1 … N−1; returns committee.json or None."""
    from equimol.committee import write_committee
    from equimol.train.config import config_from_dict
    from equimol.train.loop import train
    from equimol.workflows.demo import train_config

    if cfg.committee < 2:
        return None
    folder = out / "committee"
    main_split = json.loads((out / "model" / "split.json").read_text())
    minutes = cfg.committee_minutes if cfg.committee_minutes is not None else cfg.train_minutes
    members = [ckpt]
    for k in range(1, cfg.committee):
        run_dir = folder / f"member_{k}"
        members.append(run_dir / "best.pt")
        if (run_dir / "split.json").exists():
            own = json.loads((run_dir / "split.json").read_text())
            if sorted(own["test"]) != sorted(main_split["test"]):
                raise ValueError(
                    f"{run_dir}: this committee member was trained with other test frames than "
                    f"the model in {out / 'model'} (was the model retrained?); delete {folder} to "
                    "train the committee again"
                )
        if (run_dir / "done.json").exists():
            continue
        run_dir.mkdir(parents=True, exist_ok=True)
        split_path = run_dir / "split_in.json"
        write_text(split_path, json.dumps(member_split(main_split, k, len(main_split["val"]), cfg.seed)))
        raw = train_config(cfg, data, run_dir, seed=cfg.seed + k, minutes=minutes, split_file=str(split_path))
        log(f"committee member {k}/{cfg.committee - 1}: seed {cfg.seed + k}, {minutes} min; resumable")
        result = train(config_from_dict(raw), resume=True, log=log)
        write_text(run_dir / "done.json", json.dumps(result, indent=1))
    return write_committee(folder / "committee.json", members)


def disagreement_stats(values: np.ndarray) -> dict:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {"n": 0}
    return {
        "n": int(v.size),
        "mean": round(float(v.mean()), 4),
        "p95": round(float(np.percentile(v, 95)), 4),
        "max": round(float(v.max()), 4),
    }


def structures_disagreement(committee_path: Path, structures: list[dict], batch_size: int = 64) -> np.ndarray:
    """Force disagreement (eV/Å) of each structure under the committee."""
    from equimol.evaluator import Evaluator
    from equimol.io import load

    # trajectory frames are what the model was run on, however odd (an under-trained model's
    # ring polymer can put two atoms on top of each other): evaluate them as they are
    evaluator = Evaluator(load(committee_path), validate=False)
    results = evaluator.predict(structures, batch_size=batch_size)
    return np.asarray([float(r[K.FORCE_DISAGREEMENT]) for r in results])


def trajectory_structures(path: Path, max_frames: int, discard_fs: float) -> list[dict]:
    """Up to ``max_frames`` evenly spaced frames after ``discard_fs``, every replica and bead."""
    from equimol.spectra.trajectory import read_trajectory

    data, _ = read_trajectory(path, ["time_fs", "positions", "atomic_numbers"])
    if len(data.get("time_fs", [])) == 0 or max_frames < 1:
        return []
    keep = np.flatnonzero(data["time_fs"] >= discard_fs)
    if keep.size == 0:
        keep = np.arange(len(data["time_fs"]))
    frames = keep[np.linspace(0, keep.size - 1, min(max_frames, keep.size)).round().astype(int)]
    z = np.asarray(data["atomic_numbers"])
    x = np.asarray(data["positions"])[frames]  # (T, R, P, N, 3)
    return [{K.ATOMIC_NUMBERS: z, K.POSITIONS: xyz} for xyz in x.reshape(-1, *x.shape[-2:])]


def stage_disagreement(
    committee_path: Path,
    out: Path,
    test: list[dict],
    trajectories: dict[str, Path],
    max_frames: int,
    discard_fs: float,
) -> dict:
    """Disagreement on the test frames and along each trajectory; written to committee.json's
    folder as disagreement.json and returned."""
    from equimol.committee import committee_members

    if not test:
        raise ValueError("committee disagreement needs held-out frames (n_test > 0)")
    result = {
        "unit": "eV/Å",
        "members": len(committee_members(committee_path)),
        "test": disagreement_stats(structures_disagreement(committee_path, test)),
    }
    base = result["test"]["p95"]
    for name, path in trajectories.items():
        structures = trajectory_structures(path, max_frames, discard_fs) if Path(path).exists() else []
        if not structures:  # not run, or no frames written yet
            continue
        stats = disagreement_stats(structures_disagreement(committee_path, structures))
        stats["p95_over_test_p95"] = round(stats["p95"] / base, 2) if base > 0 else None
        result[name] = stats
    write_text(out / "committee" / "disagreement.json", json.dumps(result, indent=1))
    return result
