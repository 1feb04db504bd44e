"""The training loop: AdamW, plateau/exponential schedule, EMA, early stopping, exact resume;
single process or data-parallel over ``torchrun`` processes (see :mod:`.distributed`)."""

from __future__ import annotations

import csv
import json
import math
import time
import warnings
from pathlib import Path
from typing import NoReturn

import torch
from tqdm.auto import tqdm

from equimol import keys as K
from equimol.data.batch import collate
from equimol.data.dataset import Subset
from equimol.errors import ConfigError, TrainingDivergedError
from equimol.heads.energy import EnergyHead
from equimol.io import write_text
from equimol.potential import Potential, build_potential
from equimol.train import distributed
from equimol.train.checkpoint import read_checkpoint, save_checkpoint, saved_lr
from equimol.train.compiled import CompiledLoss
from equimol.train.config import Config
from equimol.train.data import prepare_data
from equimol.train.distributed import DistContext
from equimol.train.guard import SpikeGuard
from equimol.train.loss import backward_to_parameters, weighted_loss
from equimol.train.metrics import Metrics
from equimol.train.schedule import ExponentialSchedule, PlateauSchedule

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def batches(dataset, batch_size: int, dtype, generator: torch.Generator | None = None):
    """Yield collated batches; shuffled with ``generator`` if given (deterministic)."""
    for idx in batch_indices(len(dataset), batch_size, generator):
        yield collate([dataset[i] for i in idx], dtype=dtype)


def batch_indices(n: int, batch_size: int, generator: torch.Generator | None = None):
    """Index lists of consecutive batches of a permutation of range(n) drawn with ``generator``
    (identity order without one). The same generator state gives the same global batches
    whatever the number of processes."""
    order = torch.randperm(n, generator=generator).tolist() if generator is not None else list(range(n))
    for k in range(0, n, batch_size):
        yield order[k : k + batch_size]


def evaluate_dataset(
    potential: Potential,
    dataset,
    targets: list[str],
    batch_size: int,
    dtype,
    ctx: DistContext | None = None,
    device: torch.device | str | None = None,
) -> dict:
    """MAE/RMSE of every target over ``dataset`` (model in eval mode, no graph kept).

    In a process group each rank evaluates a contiguous share and the sums are all-reduced.
    """
    was_training = potential.training
    potential.eval()
    metrics = Metrics(targets)
    if ctx is not None and ctx.enabled:
        dataset = Subset(dataset, ctx.shard(list(range(len(dataset)))))
    for idx in batch_indices(len(dataset), batch_size):
        batch = collate([dataset[i] for i in idx], dtype=dtype, device=device)
        metrics.update(potential(batch, forces=K.FORCES in targets), batch)
    if ctx is not None:
        distributed.reduce_metrics(metrics, ctx)
    potential.train(was_training)
    return metrics.result()


def loss_from_metrics(result: dict, weights: dict[str, float], kind: str) -> float:
    key = "rmse" if kind == "mse" else "mae"
    return sum(
        w * (result[t][key] ** 2 if kind == "mse" else result[t][key])
        for t, w in weights.items()
        if t in result
    )


def _build(cfg: Config, stats: dict, dtype) -> Potential:
    spec = {"model": {k: v for k, v in cfg.model.items() if k != "heads"}, "heads": cfg.model.get("heads")}
    spec["model"] = {"name": spec["model"].pop("name"), "options": spec["model"]}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.training.seed)
        potential = build_potential(spec)
    for p in potential.parameters():
        p.data = p.data.to(dtype)
    for head in potential.heads:
        if isinstance(head, EnergyHead) and "atom_refs" in stats:
            head.set_statistics(energy_scale(stats), _refs(stats["atom_refs"], head.atom_refs.shape[0]))
        if K.POLARIZABILITY in head.outputs and "polarizability_refs" in stats:
            refs = _refs(stats["polarizability_refs"], head.atom_refs.shape[0])
            head.set_statistics(stats["polarizability_scale"], refs)
    return potential


#: head options that add no weights: a fine-tuned model may change them
WEIGHTLESS_HEAD_OPTIONS = ("repulsion", "repulsion_cutoff_factor")


def _spec_differences(theirs: dict, ours: dict) -> list[str]:
    """Where two model specs differ, ignoring head options without weights."""

    def heads(spec: dict) -> list[tuple[str, dict]]:
        out = []
        for h in spec.get("heads") or ["energy"]:
            h = h if isinstance(h, dict) else {"name": str(h)}
            opts = {k: v for k, v in (h.get("options") or {}).items() if k not in WEIGHTLESS_HEAD_OPTIONS}
            out.append((h["name"], opts))
        return out

    diffs = []
    a, b = theirs.get("model", {}), ours.get("model", {})
    if a.get("name") != b.get("name"):
        diffs.append(f"model {a.get('name')} vs {b.get('name')}")
    oa, ob = a.get("options") or {}, b.get("options") or {}
    diffs += [
        f"{k}: {oa.get(k)!r} vs {ob.get(k)!r}" for k in sorted(set(oa) | set(ob)) if oa.get(k) != ob.get(k)
    ]
    if heads(theirs) != heads(ours):
        diffs.append(f"heads {heads(theirs)} vs {heads(ours)}")
    return diffs


def _load_initial_weights(potential: Potential, raw: dict, path: str) -> None:
    """Copy a checkpoint's weights and buffers into a freshly built network (fine-tuning)."""
    from equimol.io import migrate_spec

    meta = raw["metadata"]
    spec = migrate_spec(meta.get("spec") or {}, int(meta.get("version", 1)))
    diffs = _spec_differences(spec, potential.spec)
    if diffs:
        shown = "; ".join(diffs[:4]) + (" …" if len(diffs) > 4 else "")
        raise ConfigError(f"training.init_from {path}: not the same network as the config ({shown})")
    own = potential.state_dict()
    theirs = raw["model"]
    missing, extra = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
    wrong = [k for k in own if k in theirs and tuple(own[k].shape) != tuple(theirs[k].shape)]
    if missing or extra or wrong:
        detail = "; ".join(
            f"{what}: {', '.join(keys[:4])}{' …' if len(keys) > 4 else ''}"
            for what, keys in (("missing", missing), ("unexpected", extra), ("other shape", wrong))
            if keys
        )
        raise ConfigError(f"training.init_from {path}: not the same network as the config ({detail})")
    potential.load_state_dict({k: v.to(own[k].dtype) for k, v in theirs.items()})


def energy_scale(stats: dict) -> float:
    """Scale (eV) of the energy head's atomwise outputs: the force RMS (eV/Å · 1 Å) when training
    on forces (SchNetPack/PaiNN), else the per-atom energy standard deviation (Miller et al.'s
    S-Eqs.; it replaced a fixed 1 eV), 1 eV if neither is known."""
    if stats.get("force_rms"):
        return float(stats["force_rms"])
    return float(stats.get("energy_std_per_atom") or 1.0)


def _refs(table: dict, size: int) -> torch.Tensor:
    refs = torch.zeros(size, dtype=torch.float64)
    for z, e in table.items():
        refs[int(z)] = e
    return refs


class EMA:
    """Exponential moving average of parameters, used for validation and checkpoints."""

    def __init__(self, potential: Potential, decay: float):
        self.decay = decay
        self.shadow = [p.detach().clone() for p in potential.parameters()]

    @torch.no_grad()
    def update(self, potential: Potential) -> None:
        torch._foreach_lerp_(self.shadow, [p.detach() for p in potential.parameters()], 1 - self.decay)

    @torch.no_grad()
    def swap(self, potential: Potential) -> None:
        for s, p in zip(self.shadow, potential.parameters(), strict=False):
            tmp = p.detach().clone()
            p.copy_(s)
            s.copy_(tmp)


def train(cfg: Config, resume: bool = False, log=print) -> dict:
    """Train according to ``cfg``; writes best.pt, last.pt, log.csv, split.json, config.json
    into ``cfg.output_dir``. With ``resume``, continues exactly from last.pt.

    Under ``torchrun`` (RANK/WORLD_SIZE in the environment) every process runs this function:
    data-parallel training over the same global batches (see :mod:`.distributed`); only
    rank 0 writes files. A checkpoint holds no per-rank state, so a run can be resumed with
    any number of processes.
    """
    ctx = distributed.from_environment()
    try:
        return _train(cfg, resume, log if ctx.is_main else (lambda *_: None), ctx)
    finally:
        ctx.close()


def _train(cfg: Config, resume: bool, log, ctx: DistContext) -> dict:
    t_cfg = cfg.training
    run_dir = Path(cfg.output_dir)
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    ctx.barrier()
    if ctx.enabled:
        log(
            f"data-parallel training on {ctx.world_size} processes ({ctx.device.type}); "
            f"global batch {t_cfg.batch_size}"
        )
    dtype, device = DTYPES[t_cfg.dtype], ctx.device
    cutoff = float(cfg.model.get("cutoff", 5.0))
    data = prepare_data(cfg, cutoff, run_dir, write_split=ctx.is_main)
    last_path, best_path, log_path = run_dir / "last.pt", run_dir / "best.pt", run_dir / "log.csv"
    resuming = resume and last_path.exists()
    raw = read_checkpoint(last_path) if resuming else None
    init = None
    if t_cfg.init_from and raw is None:  # a resumed run has its own weights
        if not Path(t_cfg.init_from).exists():
            raise ConfigError(f"training.init_from: checkpoint {t_cfg.init_from} not found")
        init = read_checkpoint(t_cfg.init_from)
    stats = (raw or init or {}).get("metadata", {}).get("statistics") or data.statistics
    potential = _build(cfg, stats, dtype)
    if init is not None:
        _load_initial_weights(potential, init, t_cfg.init_from)
        log(f"initial weights from {t_cfg.init_from}")
    if abs(potential.cutoff - cutoff) > 1e-12:
        data = prepare_data(cfg, potential.cutoff, run_dir, write_split=ctx.is_main)
    potential.to(device).train()
    # the fused AdamW kernel: one update over all parameters instead of a Python loop over 41
    # (PaiNN) to 173 (So3krates) tensors; the same arithmetic to float32 rounding (2e-7 after 20
    # steps); one CPU thread: PaiNN 3.3 -> 0.45 ms, So3krates 8.4 -> 1.1 ms per step
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(
        potential.parameters(), lr=t_cfg.lr, weight_decay=t_cfg.weight_decay, fused=fused
    )
    kw = dict(
        factor=t_cfg.lr_factor,
        patience=t_cfg.lr_patience,
        smoothing=t_cfg.smoothing,
        min_lr=t_cfg.min_lr,
        stop_patience=t_cfg.early_stopping_patience,
    )
    schedule = (
        PlateauSchedule(t_cfg.lr, **kw)
        if t_cfg.scheduler == "plateau"
        else ExponentialSchedule(t_cfg.lr, _decay_steps(t_cfg, len(data.train)), t_cfg.lr_decay_factor, **kw)
    )
    ema = EMA(potential, t_cfg.ema_decay) if t_cfg.ema_decay else None
    generator = torch.Generator().manual_seed(t_cfg.seed)
    epoch, step, wall = 0, 0, 0.0
    if raw is not None:
        potential.load_state_dict(raw["model"])
        st = raw["training"]
        if ema is not None:  # checkpoints hold EMA weights; the raw ones are in training state
            ema.shadow = [p.detach().clone() for p in potential.parameters()]
            for p, q in zip(potential.parameters(), st["raw_params"], strict=False):
                p.data.copy_(q)
        # a state saved by the unfused optimizer (fused None) would switch the kernel off, and
        # torch places each saved `step` by the saved flag: set it before loading
        for g in st["optimizer"]["param_groups"]:
            g["fused"] = fused
        optimizer.load_state_dict(st["optimizer"])
        run_lr = saved_lr(raw, t_cfg.lr)
        if run_lr != t_cfg.lr:
            log(
                f"training.lr {t_cfg.lr:g} instead of the run's {run_lr:g}: "
                "the learning rate is scaled by that ratio"
            )
        schedule.load_state_dict(st["schedule"], t_cfg.lr / run_lr)
        generator.set_state(st["generator"])
        epoch, step, wall = st["epoch"], st["step"], st["wall_time_s"]
        if ctx.is_main:
            _truncate_log(log_path, epoch)
        log(f"resuming from {last_path} at epoch {epoch}")
    model = distributed.wrap(potential, ctx)
    if ctx.is_main:
        write_text(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=1))
    targets = [t for t in cfg.data.targets]
    weights = {t: w for t, w in t_cfg.weights.items() if t in targets}
    compiled_loss = None
    if t_cfg.compile and ctx.enabled:
        log("training.compile is not used in data-parallel training; training eagerly")
    elif t_cfg.compile:
        backend = "inductor" if t_cfg.compile is True else str(t_cfg.compile)
        compiled_loss = CompiledLoss(potential, weights, t_cfg.loss, backend=backend)
        log(
            f"training step compiled with torch.compile ({backend}); the first steps compile (minutes on CPU)"
        )
    t_start = time.perf_counter() - wall
    bar = tqdm(
        total=t_cfg.epochs,
        initial=epoch,
        disable=not (t_cfg.progress and ctx.is_main),
        unit="epoch",
        dynamic_ncols=True,
    )
    # a resumed run whose schedule (with the config's settings) already says stop trains no epoch
    stop_reason = schedule.should_stop() if raw is not None else None
    guard = None
    if t_cfg.skip_loss_spikes:
        signature = json.dumps([weights, t_cfg.loss], sort_keys=True)
        guard = SpikeGuard(float(t_cfg.skip_loss_spikes), loss_signature=signature)
    if guard is not None and raw is not None and "spike_guard" in raw["training"]:
        guard.load_state_dict(raw["training"]["spike_guard"])
    while stop_reason is None and epoch < t_cfg.epochs:
        train_sum, n_b = 0.0, 0
        for idx in batch_indices(len(data.train), t_cfg.batch_size, generator):
            for g in optimizer.param_groups:
                g["lr"] = schedule.lr_at_step(step)
            if ctx.enabled:
                loss_value = _distributed_step(
                    model, data.train, idx, ctx, dtype, weights, t_cfg.loss, optimizer
                )
            else:
                batch = collate([data.train[i] for i in idx], dtype=dtype, device=device)
                # forces only when they are trained on (energy-only QM9 runs skip the double backward)
                if compiled_loss is not None:
                    loss, _ = compiled_loss(batch)
                else:
                    pred = potential(batch, forces=K.FORCES in weights, create_graph=True)
                    loss, _ = weighted_loss(pred, batch, weights, t_cfg.loss)
                optimizer.zero_grad(set_to_none=True)
                backward_to_parameters(loss, potential.parameters())
                loss_value = float(loss.detach())
            if not math.isfinite(loss_value) and guard is None:
                _diverged(f"training loss is {loss_value}", epoch, step)
            grad_norm = None
            if t_cfg.grad_clip:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(potential.parameters(), t_cfg.grad_clip))
            elif guard is not None:
                grad_norm = float(
                    torch.nn.utils.get_total_norm(
                        [p.grad for p in potential.parameters() if p.grad is not None]
                    )
                )
            if guard is not None:
                if not guard.accept(loss_value, grad_norm, step, epoch):
                    step += 1  # the batch is consumed (the schedule goes on), the weights stay
                    continue
            elif grad_norm is not None and not math.isfinite(grad_norm):
                _diverged(f"gradient norm is {grad_norm} (loss {loss_value:.4g})", epoch, step)
            optimizer.step()
            if ema is not None:
                ema.update(potential)
            train_sum += loss_value
            n_b += 1
            step += 1
        epoch += 1
        if guard is not None and (note := guard.epoch_summary()):
            log(f"epoch {epoch}: {note}")
        if ema is not None:
            ema.swap(potential)
        val = evaluate_dataset(potential, data.val, targets, t_cfg.val_batch_size, dtype, ctx, device)
        # decisions (schedule, time limit) must agree on every rank: take rank 0's numbers
        val_loss = ctx.broadcast_float(loss_from_metrics(val, weights, t_cfg.loss))
        improved = schedule.step(val_loss)
        wall = ctx.broadcast_float(time.perf_counter() - t_start)
        if ctx.is_main:
            row = {
                "epoch": epoch,
                "lr": optimizer.param_groups[0]["lr"],
                "train_loss": train_sum / n_b if n_b else math.nan,  # skipped batches left out
                "val_loss": val_loss,
                "time_s": round(wall, 2),
            }
            for t, m in val.items():
                row[f"val_{t}_mae"], row[f"val_{t}_rmse"] = m["mae"], m["rmse"]
            _append_log(log_path, row)
            meta = {
                "config": cfg.to_dict(),
                "statistics": stats,
                "epoch": epoch,
                "val_metrics": val,
                "best_val_loss": schedule.best_raw,
                "wall_time_s": wall,
            }
            training = {
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "generator": generator.get_state(),
                "epoch": epoch,
                "step": step,
                "wall_time_s": wall,
                "world_size": ctx.world_size,
            }
            if guard is not None:
                training["spike_guard"] = guard.state_dict()
            if ema is not None:
                training["raw_params"] = [s.clone() for s in ema.shadow]
            if improved:
                save_checkpoint(best_path, potential, meta, training)
            save_checkpoint(last_path, potential, meta, training)
        if ema is not None:
            ema.swap(potential)
        bar.update(1)
        bar.set_postfix(_postfix(val, optimizer.param_groups[0]["lr"]))
        for g in optimizer.param_groups:
            g["lr"] = schedule.lr_at_step(step)
        stop_reason = schedule.should_stop()
        if stop_reason:
            break
        if t_cfg.max_time_minutes is not None and wall > 60 * t_cfg.max_time_minutes:
            stop_reason = f"time limit of {t_cfg.max_time_minutes} min reached (continue with --resume)"
            break
    bar.close()
    if stop_reason:
        log(f"stopped after epoch {epoch}: {stop_reason}")
    ctx.barrier()  # rank 0 has written its last checkpoint
    best = read_checkpoint(best_path)["metadata"] if best_path.exists() else {}
    return {
        "epochs": epoch,
        "best_val_metrics": best.get("val_metrics"),
        "wall_time_s": wall,
        "stop_reason": stop_reason,
        "run_dir": str(run_dir),
        "world_size": ctx.world_size,
    }


def _distributed_step(
    model, dataset, idx: list[int], ctx: DistContext, dtype, weights: dict[str, float], kind: str, optimizer
) -> float:
    """Forward/backward of this rank's share of the global batch ``idx``; returns the global loss.

    The loss is normalised by global component counts, so the sum over ranks is the
    single-process loss; DDP averages gradients, hence the factor world_size.
    """
    local = ctx.shard(idx)
    batch = collate([dataset[i] for i in (local or idx[:1])], dtype=dtype, device=ctx.device)
    names = list(weights)
    counts = distributed.target_counts(batch, names) if local else [0.0] * len(names)
    global_counts = dict(zip(names, ctx.all_reduce_sum(counts), strict=False))
    pred = model(batch, forces=K.FORCES in weights, create_graph=True)
    loss = distributed.global_loss(pred, batch, weights, kind, global_counts)
    if not local:  # empty share of a short last batch: take part in the all-reduce with zeros
        loss = loss * 0.0
    optimizer.zero_grad(set_to_none=True)
    with warnings.catch_warnings():  # (1, F) parameters: DDP notes a harmless stride mismatch
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        # a full backward here (not backward_to_parameters): DDP's reducer hooks are checked
        # with it, and data-parallel training was not measured with the restricted one
        (loss * ctx.world_size).backward()
    return ctx.all_reduce_sum([float(loss.detach())])[0]


def _diverged(what: str, epoch: int, step: int) -> NoReturn:
    """Stop before the optimiser step, so that no non-finite weights reach a checkpoint."""
    raise TrainingDivergedError(
        f"{what} at epoch {epoch + 1} (step {step}); stopped before the optimiser step, so last.pt "
        "and best.pt in the run folder keep the last finite weights: resume with a smaller "
        "training.lr or training.grad_clip, or set training.skip_loss_spikes"
    )


def _postfix(val: dict, lr: float) -> dict:
    out = {"lr": f"{lr:.1e}"}
    if K.ENERGY in val:
        out["E_mae_meV"] = f"{1000 * val[K.ENERGY]['mae']:.2f}"
    if K.FORCES in val:
        out["F_mae_meV/Å"] = f"{1000 * val[K.FORCES]['mae']:.2f}"
    for t in (K.DIPOLE, K.POLARIZABILITY, K.DIPOLE_MAGNITUDE):
        if t in val:
            out[t] = f"{val[t]['mae']:.4f}"
    return out


def _append_log(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(
            {k: (f"{v:.8g}" if isinstance(v, float) and math.isfinite(v) else v) for k, v in row.items()}
        )


def _decay_steps(t_cfg, n_train: int) -> int:
    """Optimizer steps per exponential decay: ``lr_decay_steps``, else ``lr_decay_epochs`` epochs."""
    if t_cfg.lr_decay_steps:
        return int(t_cfg.lr_decay_steps)
    return max(1, round(t_cfg.lr_decay_epochs * math.ceil(n_train / t_cfg.batch_size)))


def _truncate_log(path: Path, epoch: int) -> None:
    """Drop log rows after ``epoch`` (written by a run killed before its checkpoint)."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    keep = [lines[0]] + [ln for ln in lines[1:] if int(ln.split(",")[0]) <= epoch]
    write_text(path, "\n".join(keep) + "\n")
