"""Train a committee: N runs of one config that differ in seed and training split.

Member k trains in ``OUTPUT_DIR/member_k`` with ``training.seed + k`` and ``data.seed + k``
(a different random train/validation split of the same file when the split is drawn, a
different initialisation and batch order always); finished members are skipped and interrupted
ones resumed, so ``equimol train CONFIG --committee N`` can be rerun until all are done. At the
end ``OUTPUT_DIR/committee.json`` lists the members' best checkpoints; load it with
:func:`equimol.io.load` (a :class:`equimol.committee.Committee`).
"""

from __future__ import annotations

import copy
from pathlib import Path

from equimol.committee import write_committee
from equimol.errors import ConfigError
from equimol.train.checkpoint import run_state
from equimol.train.config import Config


def member_config(
    cfg: Config, k: int, init_from: str | Path | None = None, split_file: str | Path | None = None
) -> Config:
    """The config of member ``k``: its own output folder, training seed and split seed (and,
    given, the checkpoint it starts from: ``training.init_from``, and its split:
    ``data.split_file``)."""
    member = copy.deepcopy(cfg)
    if init_from is not None:
        member.training.init_from = str(init_from)
    if split_file is not None:
        member.data.split_file = str(split_file)
    member.output_dir = str(Path(cfg.output_dir) / f"member_{k}")
    member.training.seed = cfg.training.seed + k
    member.data.seed = cfg.data.seed + k
    return member


def train_committee(cfg: Config, n_members: int, log=print, init_from=None, split_files=None) -> dict:
    """Train (or resume, or skip when done) every member; returns a summary with the
    committee file and each member's result. ``init_from``: one checkpoint per member to start
    from (fine-tuning; e.g. the members of an earlier committee), or None; ``split_files``: one
    split JSON per member (e.g. :func:`equimol.active_learning.inherited_split`), or None."""
    from equimol.train.loop import train

    if n_members < 2:
        raise ConfigError(f"--committee needs at least 2 members, got {n_members}")
    if init_from is not None and len(init_from) != n_members:
        raise ConfigError(f"{len(init_from)} starting checkpoints for {n_members} committee members")
    if split_files is not None and len(split_files) != n_members:
        raise ConfigError(f"{len(split_files)} split files for {n_members} committee members")
    results = []
    for k in range(n_members):
        member = member_config(
            cfg,
            k,
            None if init_from is None else init_from[k],
            None if split_files is None else split_files[k],
        )
        state = run_state(
            member.output_dir, member.training.epochs, member.training.max_time_minutes, member.training
        )
        if state["done"]:
            log(f"committee member {k}: {state['status']}; skipping")
            results.append({"member": k, "status": state["status"], "output_dir": member.output_dir})
            continue
        log(f"committee member {k}/{n_members}: seed {member.training.seed}, split seed {member.data.seed}")
        res = train(member, resume=True, log=log)
        results.append({"member": k, **res})
    best = [Path(cfg.output_dir) / f"member_{k}" / "best.pt" for k in range(n_members)]
    missing = [str(b) for b in best if not b.exists()]
    if missing:
        raise ConfigError(f"committee incomplete: no best.pt in {', '.join(missing)}")
    path = write_committee(Path(cfg.output_dir) / "committee.json", best)
    log(f"committee of {n_members} models: {path}")
    return {"committee": str(path), "members": results}
