"""Training configuration: YAML → validated dataclasses, with ``--set a.b=value`` overrides."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from equimol import keys as K
from equimol.errors import ConfigError

KNOWN_TARGETS = (K.ENERGY, K.FORCES, K.DIPOLE, K.DIPOLE_MAGNITUDE, K.POLARIZABILITY, K.SPATIAL_EXTENT)


@dataclass
class DataConfig:
    """Where the data come from and how they are split. Paths relative to the config file."""

    train: str = ""
    val: str | None = None  # separate validation file; else split off ``train``
    test: str | None = None
    split_file: str | None = None  # JSON {"train": [...], "val": [...], "test": [...]}
    n_train: int | None = None
    n_val: int | None = None
    n_test: int = 0
    val_fraction: float = 0.05
    seed: int = 0
    energy_unit: str | None = None  # unit of energies in the file (default per format)
    # extxyz / ASE db: the file's keys of labels that are not ASE's own names, e.g.
    # {energy: REF_energy, forces: REF_forces} (--set data.label_keys.energy=REF_energy)
    label_keys: dict[str, str] = field(default_factory=dict)
    length_unit: str = "Å"
    targets: list[str] = field(default_factory=lambda: [K.ENERGY, K.FORCES])
    # energy shift per element: "fit" (least squares on the training energies) or "qm9" (QM9's
    # B3LYP free-atom energies plus the mean per-atom residual, as Miller et al.'s S-Eqs.)
    atom_refs: str = "fit"


@dataclass
class TrainingConfig:
    epochs: int = 1000
    batch_size: int = 10
    val_batch_size: int = 50
    lr: float = 1e-3
    weight_decay: float = 0.0
    loss: str = "mse"  # "mse" or "mae"
    # Per-target loss weights. PaiNN: ρ = 0.95 on forces, 0.05 on energies.
    weights: dict[str, float] = field(default_factory=lambda: {K.ENERGY: 0.05, K.FORCES: 0.95})
    scheduler: str = "plateau"  # "plateau" (PaiNN) or "exponential" (So3krates)
    lr_factor: float = 0.5
    lr_patience: int = 25  # epochs without improvement of the smoothed validation loss
    smoothing: float = 0.9  # exponential smoothing factor of the validation loss
    # exponential: lr · lr_decay_factor^(step / decay steps), decay steps = lr_decay_steps if
    # given, else lr_decay_epochs · steps per epoch (So3krates App. A.13: 0.5 per 1000 epochs)
    lr_decay_factor: float = 0.5
    lr_decay_epochs: float = 1000.0
    lr_decay_steps: int | None = None
    min_lr: float = 1e-6
    early_stopping_patience: int = 200
    grad_clip: float | None = None
    # Skip the optimiser step of a batch whose loss exceeds this factor times the running mean of
    # the accepted batches' losses, or whose loss or gradients are not finite (equimol.train.guard).
    # Not in the papers (None: every batch steps); a safety net against outlier batches, not a
    # cure for a learning rate that is too large.
    skip_loss_spikes: float | None = None
    ema_decay: float | None = None
    max_time_minutes: float | None = None  # stop (resumably) after this wall time
    # fine-tuning: start from this checkpoint's weights and statistics (same network; head
    # options without weights, e.g. the energy head's repulsion, may differ); not when resuming
    init_from: str | None = None
    seed: int = 0
    dtype: str = "float32"
    num_threads: int | None = None
    progress: bool = True
    # torch.compile of prediction, forces and loss (equimol.train.compiled): False, True
    # (inductor) or a backend name; for batches of repeating shape (rMD17), single process only
    compile: bool | str = False


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    # {"name": "painn", "heads": [...], <representation options>}
    model: dict[str, Any] = field(default_factory=lambda: {"name": "painn"})
    training: TrainingConfig = field(default_factory=TrainingConfig)
    output_dir: str = "runs/run"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _numbers(value: Any) -> Any:
    """PyYAML (YAML 1.1) reads ``1e-4`` (no dot) as a string; read it as the float it means."""
    if isinstance(value, str) and _FLOAT.match(value.strip()):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _parse_value(text: str) -> Any:
    try:
        return _numbers(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def apply_override(raw: dict, assignment: str) -> None:
    """Apply ``"a.b.c=value"`` (value parsed as YAML) to nested dict ``raw`` in place."""
    if "=" not in assignment:
        raise ConfigError(f"--set expects KEY=VALUE, got {assignment!r}")
    key, value = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = raw
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {p!r} is not a section")
    node[parts[-1]] = _parse_value(value)


def _build(cls, raw: Any, where: str):
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {unknown}; known: {sorted(names)}")
    return cls(**raw)


def config_from_dict(raw: dict, base_dir: Path | None = None) -> Config:
    unknown = sorted(set(raw) - {"data", "model", "training", "output_dir"})
    if unknown:
        raise ConfigError(f"unknown section(s) {unknown}; known: data, model, training, output_dir")
    raw = _numbers(raw)
    model = raw.get("model") or {"name": "painn"}
    if not isinstance(model, dict) or "name" not in model:
        raise ConfigError("model: expected a mapping with at least 'name'")
    cfg = Config(
        data=_build(DataConfig, raw.get("data"), "data"),
        model=dict(model),
        training=_build(TrainingConfig, raw.get("training"), "training"),
        output_dir=str(raw.get("output_dir", "runs/run")),
    )
    validate(cfg, base_dir)
    return cfg


def validate(cfg: Config, base_dir: Path | None) -> None:
    d, t = cfg.data, cfg.training
    if not d.train:
        raise ConfigError("data.train: a training data file is required")
    if base_dir is not None:
        # input files: relative to the config file, unless only the working directory has them
        for section, name in ((d, "train"), (d, "val"), (d, "test"), (d, "split_file"), (t, "init_from")):
            value = getattr(section, name)
            if value and not Path(value).is_absolute():
                candidate = base_dir / value
                if candidate.exists() or not Path(value).exists():
                    setattr(section, name, str(candidate))
        if not Path(cfg.output_dir).is_absolute():
            cfg.output_dir = str((base_dir / cfg.output_dir).resolve())
    for tgt in d.targets:
        if tgt not in KNOWN_TARGETS:
            raise ConfigError(f"data.targets: unknown target {tgt!r}; known: {list(KNOWN_TARGETS)}")
    for tgt in t.weights:
        if tgt not in KNOWN_TARGETS:
            raise ConfigError(f"training.weights: unknown target {tgt!r}")
    if t.loss not in ("mse", "mae"):
        raise ConfigError(f"training.loss must be 'mse' or 'mae', got {t.loss!r}")
    if cfg.data.atom_refs not in ("fit", "qm9"):
        raise ConfigError(f"data.atom_refs must be 'fit' or 'qm9', got {cfg.data.atom_refs!r}")
    if t.scheduler not in ("plateau", "exponential"):
        raise ConfigError(f"training.scheduler must be 'plateau' or 'exponential', got {t.scheduler!r}")
    if t.dtype not in ("float32", "float64"):
        raise ConfigError(f"training.dtype must be 'float32' or 'float64', got {t.dtype!r}")
    for name in ("epochs", "batch_size", "val_batch_size"):
        if not isinstance(getattr(t, name), int) or getattr(t, name) < 1:
            raise ConfigError(f"training.{name} must be a positive integer")
    if not (isinstance(t.lr, (int, float)) and t.lr > 0):
        raise ConfigError(f"training.lr must be a positive number, got {t.lr!r}")
    spike = t.skip_loss_spikes
    if spike is not None and not (
        isinstance(spike, (int, float)) and not isinstance(spike, bool) and spike > 1
    ):
        raise ConfigError(f"training.skip_loss_spikes must be a number above 1 (or null), got {spike!r}")
    if not isinstance(t.compile, (bool, str)) or t.compile in ("", "true", "false"):
        raise ConfigError(
            f"training.compile must be true, false or a torch.compile backend name, got {t.compile!r}"
        )


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a YAML config, apply ``--set`` overrides, validate. Errors name the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for o in overrides:
        apply_override(raw, o)
    try:
        return config_from_dict(raw, path.parent.resolve())
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
