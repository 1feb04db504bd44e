"""Active learning by query-by-committee: MD/RPMD with a committee, the frames where its members
disagree most labelled with GFN2-xTB, retrain, repeat.

One round ``k`` (folder ``OUTPUT_DIR/round_k``):

1. **train** a committee of ``committee`` models on ``round_k/train.extxyz`` (round 0: the
   initial data) with the base training config (``data.train`` replaced; the validation share
   is ``data.val_fraction`` of the current set; :func:`equimol.train.committee.train_committee`);
   with ``initial_committee`` round 0 uses that trained committee instead, and with
   ``warm_start: true`` member m of round k ≥ 1 starts from member m of round k − 1
   (``training.init_from``: fine-tuning on the grown set instead of training from random
   weights, which is what makes rounds of a large set affordable). Its split is inherited
   (``inherit_split``, default true; :func:`inherited_split`): frames the predecessor trained on
   stay in training, frames it validated on stay in validation, and only the new frames are
   split by ``data.val_fraction``, so no validation frame was ever trained on by the model being
   fine-tuned (a freshly drawn split would hold such frames and flatter the validation error
   that picks ``best.pt``);
2. **run** ML-MD or ML-RPMD (``md.beads``) with the committee from the start structure, recording
   the force disagreement (max over atoms of the members' force standard deviation, eV/Å) of
   every bead in every written frame; a trajectory whose disagreement exceeds
   ``md.stop_factor × threshold`` is stopped there (it has left the data; what it recorded is
   used), as is one whose forces become non-finite;
3. **select** up to ``select.n_per_round`` bead geometries with the largest disagreement above
   ``threshold``, at least ``select.min_spacing_fs`` apart in time (greedy, largest first);
   none above the threshold ends the loop (converged);
4. **label** them with GFN2-xTB (resumable, failures left out) and write
   ``round_{k+1}/train.extxyz`` = the round's data + the new frames.

Every stage leaves its result on disk and is skipped when rerun, so an interrupted loop
continues where it stopped and more rounds can be added by raising ``rounds``.
``OUTPUT_DIR/history.json`` has per-round statistics; ``OUTPUT_DIR/disagreement.png`` plots the
disagreement along each round's trajectory and its maximum and median per round.

Config (YAML; paths relative to the file)::

    structure: ethanol              # start geometry: a file (first frame) or a built-in name
    data: initial.extxyz            # labelled starting set
    train_config: train.yaml        # base equimol training config
    committee: 3
    rounds: 5
    threshold: 0.15                 # eV/Å
    md: {steps: 2000, dt_fs: 0.5, temperature_k: 300, beads: 16, thermostat: nhc, stride: 5,
         stop_factor: 5.0, seed: 0, free_ring_polymer_start: true}
    select: {n_per_round: 50, min_spacing_fs: 10}
    label: {properties: [energy, forces, dipole, polarizability], charge: 0, multiplicity: 1}
    output_dir: runs/active_learning
    initial_committee: ""           # optional: committee.json (or its folder) used as round 0's
    warm_start: false               # round k's members fine-tune round k - 1's members
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from equimol import keys as K
from equimol.committee import COMMITTEE_FILE, committee_members
from equimol.errors import ConfigError, ExtrapolationError
from equimol.io import write_text


@dataclass
class ALMDConfig:
    steps: int = 2000
    dt_fs: float = 0.5
    temperature_k: float = 300.0
    beads: int = 1
    thermostat: str = "nhc"
    stride: int = 5
    replicas: int = 1
    stop_factor: float = 5.0  # stop a trajectory at stop_factor × threshold (it left the data)
    seed: int = 0
    # beads drawn from the free ring polymer at the start (MDConfig's default); false: all beads
    # at the start structure, spreading under the potential (the free ring polymer ignores the
    # bonds and can put a bead's H 0.5 Å from its partner at step 0, where a committee disagrees
    # by 10+ eV/Å and the round would stop before it started)
    free_ring_polymer_start: bool = True


@dataclass
class ALSelectConfig:
    n_per_round: int = 50
    min_spacing_fs: float = 10.0


@dataclass
class ALLabelConfig:
    properties: list[str] = field(default_factory=lambda: [K.ENERGY, K.FORCES])
    charge: float = 0.0
    multiplicity: int = 1


@dataclass
class ALConfig:
    structure: str = "ethanol"
    data: str = ""
    train_config: str = ""
    committee: int = 3
    rounds: int = 5
    threshold: float = 0.15  # eV/Å
    md: ALMDConfig = field(default_factory=ALMDConfig)
    select: ALSelectConfig = field(default_factory=ALSelectConfig)
    label: ALLabelConfig = field(default_factory=ALLabelConfig)
    output_dir: str = "runs/active_learning"
    initial_committee: str = ""  # a trained committee (JSON or folder) to use as round 0's
    warm_start: bool = False  # member m of round k >= 1 starts from member m of round k - 1
    inherit_split: bool = True  # with warm_start: keep the predecessor's train/validation roles
    progress: bool = True


def load_al_config(path: str | Path, overrides: list[str] = ()) -> ALConfig:
    """An :class:`ALConfig` from YAML (``--set a.b=value`` overrides; paths made absolute
    against the file's folder); unknown keys are errors."""
    from equimol.train.config import apply_override

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of options")
    for assignment in overrides:
        apply_override(raw, assignment)
    sub = {"md": ALMDConfig, "select": ALSelectConfig, "label": ALLabelConfig}
    known = {f.name for f in dataclasses.fields(ALConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    kw: dict[str, Any] = {}
    for key, value in raw.items():
        if key in sub:
            fields = {f.name for f in dataclasses.fields(sub[key])}
            bad = sorted(set(value or {}) - fields)
            if bad:
                raise ConfigError(f"{path}: unknown option(s) {key}.{', '.join(bad)}")
            kw[key] = sub[key](**(value or {}))
        else:
            kw[key] = value
    cfg = ALConfig(**kw)
    base = path.resolve().parent
    for name in ("data", "train_config", "output_dir"):
        value = getattr(cfg, name)
        if not value:
            raise ConfigError(f"{path}: '{name}' is required")
        setattr(cfg, name, str((base / value).resolve()) if not Path(value).is_absolute() else value)
    if cfg.initial_committee and not Path(cfg.initial_committee).is_absolute():
        cfg.initial_committee = str((base / cfg.initial_committee).resolve())
    if cfg.initial_committee and not Path(cfg.initial_committee).exists():
        raise ConfigError(f"{path}: initial_committee {cfg.initial_committee} not found")
    if not _is_builtin(cfg.structure) and not Path(cfg.structure).is_absolute():
        cfg.structure = str((base / cfg.structure).resolve())
    if cfg.committee < 2:
        raise ConfigError(f"{path}: committee must be >= 2, got {cfg.committee}")
    if not cfg.threshold > 0:
        raise ConfigError(f"{path}: threshold must be > 0 eV/Å, got {cfg.threshold}")
    if cfg.rounds < 1 or cfg.md.steps < 1 or cfg.md.stride < 1 or cfg.select.n_per_round < 1:
        raise ConfigError(f"{path}: rounds, md.steps, md.stride and select.n_per_round must be >= 1")
    return cfg


def _is_builtin(name: str) -> bool:
    return name in ("ethanol", "aspirin", "ferrocene", "fluoroferrocene") or name.startswith("cumulene-")


def select_frames(
    disagreement: np.ndarray, time_fs: np.ndarray, threshold: float, n_max: int, min_spacing_fs: float
) -> list[tuple[int, int, int]]:
    """Greedy largest-first selection of (frame, replica, bead) indices whose disagreement
    (T, R, P) exceeds ``threshold``, no two closer than ``min_spacing_fs`` in time within a
    replica; at most ``n_max``."""
    d = np.asarray(disagreement, dtype=np.float64)
    order = np.argsort(d, axis=None)[::-1]
    chosen: list[tuple[int, int, int]] = []
    for flat in order:
        t, r, p = (int(i) for i in np.unravel_index(flat, d.shape))
        if not d[t, r, p] > threshold or len(chosen) >= n_max:
            break
        if any(r == r2 and abs(time_fs[t] - time_fs[t2]) < min_spacing_fs for t2, r2, _ in chosen):
            continue
        chosen.append((t, r, p))
    return chosen


class ActiveLearning:
    """The loop of the module docstring for one :class:`ALConfig`; ``run()`` does all rounds."""

    def __init__(self, cfg: ALConfig, log=print):
        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        self.log = log

    def round_dir(self, k: int) -> Path:
        return self.out / f"round_{k}"

    # --- stages -----------------------------------------------------------------------------
    def data_of(self, k: int) -> Path:
        """The training data of round k (round 0: a copy of the initial data, made here)."""
        path = self.data_of_path(k)
        if k == 0 and not path.exists():
            from equimol.data.formats import read_structures, write_structures
            from equimol.train.config import load_config

            d = load_config(self.cfg.train_config).data  # the training config's reading of the data
            frames = read_structures(
                self.cfg.data,
                energy_unit=d.energy_unit,
                length_unit=d.length_unit,
                label_keys=d.label_keys or None,
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            write_structures(path, frames)
        return path

    def committee_of(self, k: int) -> Path:
        """The committee file of round k (round 0 with ``initial_committee``: that file)."""
        if k == 0 and self.cfg.initial_committee:
            path = Path(self.cfg.initial_committee)
            return path / COMMITTEE_FILE if path.is_dir() else path
        return self.round_dir(k) / "committee" / COMMITTEE_FILE

    def initial_members(self, k: int) -> list[Path] | None:
        """With ``warm_start``, the checkpoints round k's members start from (round k − 1's)."""
        if not self.cfg.warm_start or k == 0:
            return None
        members = committee_members(self.committee_of(k - 1))
        if len(members) != self.cfg.committee:
            where = (
                "initial_committee" if k == 1 and self.cfg.initial_committee else f"round {k - 1}'s committee"
            )
            raise ConfigError(
                f"warm_start: round {k - 1} has {len(members)} members, the config asks for "
                f"{self.cfg.committee}; set committee to the size of {where}"
            )
        return members

    def train(self, k: int) -> Path:
        from equimol.train.committee import train_committee
        from equimol.train.config import load_config

        if k == 0 and self.cfg.initial_committee:
            path = self.committee_of(0)
            self.log(f"round 0: the initial committee {path} ({len(committee_members(path))} members)")
            return path
        folder = self.round_dir(k) / "committee"
        tc = load_config(
            self.cfg.train_config,
            [
                f"data.train={self.data_of(k)}",
                "data.n_train=null",
                "data.n_test=0",
                f"output_dir={folder}",
                # the round files are written in equimol's units under ASE's label names
                "data.energy_unit=null",
                "data.length_unit=Å",
                "data.label_keys={}",
            ],
        )
        tc.training.progress = self.cfg.progress and tc.training.progress
        init = self.initial_members(k)
        splits = self.inherited_splits(k, init, folder, tc.data.val_fraction, tc.data.seed)
        train_committee(tc, self.cfg.committee, log=self.log, init_from=init, split_files=splits)
        return folder / COMMITTEE_FILE

    def inherited_splits(
        self, k: int, init: list[Path] | None, folder: Path, val_fraction: float, seed: int
    ) -> list[Path] | None:
        """With warm_start and inherit_split: one split file per member of round k, written into
        ``folder`` (kept when it exists, so a resumed member keeps its split); None where a
        predecessor has no run folder with config.json and split.json beside its checkpoint."""
        if init is None or not self.cfg.inherit_split:
            return None
        files = []
        for m, ckpt in enumerate(init):
            path = folder / f"split_member_{m}.json"
            if not path.exists():
                split = inherited_split(Path(ckpt).parent, self.data_of(k), val_fraction, seed + m)
                if split is None:
                    self.log(f"round {k}: no split beside {ckpt}; member splits are drawn anew")
                    return None
                write_text(path, json.dumps(split) + "\n")
                self.log(
                    f"round {k} member {m}: split inherited from {Path(ckpt).parent} "
                    f"({len(split['train'])} train, {len(split['val'])} validation)"
                )
            files.append(path)
        return files

    def start_structure(self) -> dict:
        from equimol.cli.sample import builtin_or_file

        return builtin_or_file(self.cfg.structure)

    def md(self, k: int, committee: Path) -> dict:
        """Run (or resume) the round's trajectory; returns its statistics."""
        from equimol.io import load
        from equimol.md.config import MDConfig, free_molecule
        from equimol.md.hooks import DisagreementHook
        from equimol.md.model_forces import ModelForceFn
        from equimol.md.simulate import run_simulation

        rd = self.round_dir(k)
        done = rd / "md.done.json"
        if done.exists():
            return json.loads(done.read_text())
        m = self.cfg.md
        start = self.start_structure()
        config = MDConfig(
            dt_fs=m.dt_fs,
            n_steps=m.steps,
            temperature_k=m.temperature_k,
            thermostat=m.thermostat,
            n_beads=m.beads,
            n_replicas=m.replicas,
            stride=m.stride,
            seed=m.seed + k,
            free_ring_polymer_start=m.free_ring_polymer_start,
            progress=self.cfg.progress,
            **free_molecule(),
        )
        fn = ModelForceFn(load(committee), start[K.ATOMIC_NUMBERS])
        hook = DisagreementHook(m.stop_factor * self.cfg.threshold, stop=True)
        self.log(f"round {k}: {'RPMD' if m.beads > 1 else 'MD'} with the committee, {m.steps} steps")
        stopped = None
        try:
            run_simulation(
                fn,
                start[K.ATOMIC_NUMBERS],
                start[K.POSITIONS],
                config=config,
                output=rd / "md.h5",
                restart=rd / "md.restart.pt",
                hooks=[hook],
                overwrite=True,
            )
        except (ExtrapolationError, FloatingPointError) as exc:
            stopped = str(exc)
            self.log(f"round {k}: trajectory stopped: {stopped}")
        d, t = self._disagreement(rd / "md.h5")
        per_frame = d.max(axis=(1, 2))
        stats = {
            "frames": int(d.shape[0]),
            "time_fs": float(t[-1]) if len(t) else 0.0,
            "max_disagreement": float(per_frame.max()),
            "median_disagreement": float(np.median(per_frame)),
            "frames_above_threshold": int((per_frame > self.cfg.threshold).sum()),
            "stopped": stopped,
        }
        write_text(done, json.dumps(stats, indent=1))
        (rd / "md.restart.pt").unlink(missing_ok=True)
        return stats

    @staticmethod
    def _disagreement(path: Path) -> tuple[np.ndarray, np.ndarray]:
        import h5py

        with h5py.File(path, "r") as f:
            return f["force_disagreement"][()], f["time_fs"][()]

    def select_and_label(self, k: int) -> int:
        """Label the selected frames and write the next round's data; returns frames added."""
        import h5py

        from equimol.data.formats import read_structures, write_structures
        from equimol.reference.label import label_file

        rd, nxt = self.round_dir(k), self.data_of_path(k + 1)
        if nxt.exists():
            return len(read_structures(nxt)) - len(read_structures(self.data_of(k)))
        d, t = self._disagreement(rd / "md.h5")
        s = self.cfg.select
        chosen = select_frames(d, t, self.cfg.threshold, s.n_per_round, s.min_spacing_fs)
        with h5py.File(rd / "md.h5", "r") as f:
            z = f["atomic_numbers"][()]
            geoms = [{K.POSITIONS: f["positions"][ti, ri, pi], K.ATOMIC_NUMBERS: z} for ti, ri, pi in chosen]
        selected = rd / "selected.extxyz"
        write_structures(selected, geoms)
        write_text(
            rd / "selected.json",
            json.dumps(
                [
                    {"frame": a, "replica": b, "bead": c, "disagreement": float(d[a, b, c])}
                    for a, b, c in chosen
                ]
            ),
        )
        labelled = rd / "labelled.extxyz"
        lab = self.cfg.label
        self.log(f"round {k}: labelling {len(geoms)} frames with GFN2-xTB")
        report = label_file(
            selected,
            labelled,
            properties=lab.properties,
            charge=lab.charge,
            multiplicity=lab.multiplicity,
            progress=self.cfg.progress,
        )
        if report.failures:
            self.log(f"round {k}: {len(report.failures)} frames failed to converge and were left out")
        new = read_structures(labelled) if labelled.exists() and labelled.stat().st_size else []
        old = read_structures(self.data_of(k))
        nxt.parent.mkdir(parents=True, exist_ok=True)
        write_structures(nxt, old + new)
        return len(new)

    def data_of_path(self, k: int) -> Path:
        return self.round_dir(k) / "train.extxyz"

    # --- the loop -----------------------------------------------------------------------------
    def run(self) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        history_path = self.out / "history.json"
        history: list[dict] = json.loads(history_path.read_text()) if history_path.exists() else []
        converged = False
        for k in range(self.cfg.rounds):
            committee = self.train(k)
            stats = self.md(k, committee)
            n_data = _count(self.data_of(k))
            entry = {"round": k, "n_data": n_data, **stats}
            if stats["frames_above_threshold"] == 0 and stats["stopped"] is None:
                entry["added"] = 0
                converged = True
            else:
                entry["added"] = self.select_and_label(k)
            history = [h for h in history if h["round"] != k] + [entry]
            write_text(history_path, json.dumps(history, indent=1))
            self.log(
                f"round {k}: {n_data} frames, max disagreement {stats['max_disagreement']:.3f} eV/Å "
                f"(threshold {self.cfg.threshold:g}), {entry['added']} added"
            )
            if converged:
                self.log(f"round {k}: the disagreement stayed below {self.cfg.threshold:g} eV/Å: converged")
                break
        plot_history(self.out, history, self.cfg.threshold)
        final = self.committee_of(history[-1]["round"])
        summary = {
            "rounds": len(history),
            "converged": converged,
            "committee": str(final),
            "data": str(self.data_of_path(history[-1]["round"] + (0 if converged else 1))),
            "history": str(history_path),
            "plot": str(self.out / "disagreement.png"),
        }
        write_text(self.out / "summary.json", json.dumps(summary, indent=1))
        return summary


def _frame_key(s: dict) -> bytes:
    """Identity of a frame: its atomic numbers and positions to 10⁻⁶ Å."""
    z = np.asarray(s[K.ATOMIC_NUMBERS], dtype=np.int64)
    x = np.round(np.asarray(s[K.POSITIONS], dtype=np.float64), 6) + 0.0  # no −0.0
    return z.tobytes() + x.tobytes()


def inherited_split(
    prev_run: Path, data: Path, val_fraction: float, seed: int
) -> dict[str, list[int]] | None:
    """Train/validation split of ``data`` for a model fine-tuned from the run in ``prev_run``.

    Frames of ``data`` that the predecessor trained on (its ``split.json`` over the training file
    of its ``config.json``) go to training; frames it validated or tested on, to validation;
    frames it never saw are split at random (``seed``), ``val_fraction`` of them to validation.
    Frames are matched by atomic numbers and positions (10⁻⁶ Å). None when ``prev_run`` has no
    config.json or split.json (e.g. a bare checkpoint).
    """
    from equimol.data.formats import read_structures

    cfg_path, split_path = prev_run / "config.json", prev_run / "split.json"
    if not (cfg_path.exists() and split_path.exists()):
        return None
    d = json.loads(cfg_path.read_text())["data"]
    split = json.loads(split_path.read_text())
    role: dict[bytes, str] = {}
    prev = read_structures(d["train"])
    for name in ("train", "val", "test"):
        for i in split.get(name, []):
            role[_frame_key(prev[i])] = "train" if name == "train" else "val"
    if d.get("val"):  # a separate validation file: all of it validation
        for s in read_structures(d["val"]):
            role.setdefault(_frame_key(s), "val")
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    new = []
    for i, s in enumerate(read_structures(data)):
        r = role.get(_frame_key(s))
        (new if r is None else out[r]).append(i)
    perm = np.random.default_rng(seed).permutation(np.asarray(new, dtype=np.int64))
    n_val = int(round(val_fraction * len(new)))
    out["val"] = sorted(out["val"] + perm[:n_val].tolist())
    out["train"] = sorted(out["train"] + perm[n_val:].tolist())
    return out


def _count(path: Path) -> int:
    from equimol.data.formats import read_structures

    return len(read_structures(path, validate=False))


def plot_history(out: Path, history: list[dict], threshold: float) -> Path:
    """disagreement.png: each round's force disagreement along its trajectory (left) and the
    maximum and median per round (right), with the threshold."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8), layout="constrained")  # object API: no global backend change
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    for h in history:
        path = out / f"round_{h['round']}" / "md.h5"
        if path.exists():
            d, t = ActiveLearning._disagreement(path)
            ax1.plot(
                t / 1000.0, d.max(axis=(1, 2)), lw=0.8, label=f"round {h['round']} ({h['n_data']} frames)"
            )
    ax1.axhline(threshold, color="k", ls="--", lw=0.8, label="threshold")
    ax1.set(xlabel="time / ps", ylabel="force disagreement / eV Å$^{-1}$", yscale="log")
    ax1.legend(fontsize=7)
    rounds = [h["round"] for h in history]
    ax2.plot(rounds, [h["max_disagreement"] for h in history], "o-", label="maximum")
    ax2.plot(rounds, [h["median_disagreement"] for h in history], "s-", label="median")
    ax2.axhline(threshold, color="k", ls="--", lw=0.8)
    ax2.set(xlabel="round", ylabel="force disagreement / eV Å$^{-1}$", yscale="log", xticks=rounds)
    ax2.legend(fontsize=7)
    path = out / "disagreement.png"
    fig.savefig(path, dpi=120)
    return path
