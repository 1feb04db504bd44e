"""The main job: xTB reference data → PaiNN (energy, forces, dipole, polarizability) → MD and
RPMD → IR and Raman spectra, compared with MD driven by GFN2-xTB itself and with harmonic
spectra, with plots and a report. Every stage caches its output in ``output_dir``, so an
interrupted demo continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from equimol import keys as K
from equimol.io import write_text
from equimol.md.config import SPECTRA_ROTATION_RESAMPLE_FS, free_molecule


@dataclass
class DemoSettings:
    output_dir: str = "demo_output"
    n_frames_300k: int = 500  # xTB MD frames at 300 K (0.5 fs steps)
    n_frames_500k: int = 150  # and at 500 K for coverage
    # ring-polymer (PIMD) bead geometries at 300 K: the zero-point spread that RPMD explores and
    # classical frames miss (issue #19); pimd_beads beads, all beads of every pimd_every-th step
    n_frames_pimd: int = 160
    pimd_beads: int = 8
    pimd_every: int = 20
    sample_every: int = 10  # MD steps between sampled frames
    n_test: int = 100
    n_features: int = 64
    n_interactions: int = 3
    cutoff: float = 5.0
    epochs: int = 400
    train_minutes: float = 5.0
    # gradient-norm clipping (So3krates' recipe, App. A.13): PIMD bead geometries carry forces up
    # to ≈ 20 eV/Å, whose squared errors once blew a PaiNN run up (loss 1e-2 → 3e7 in one epoch,
    # experiments/spectra/README.md); None: no clipping
    grad_clip: float | None = 1.0
    # the energy head's ZBL repulsion (equimol.nn.repulsion; not in the PaiNN paper): "zbl" keeps
    # 64-bead ring polymers out of the short-bond region where the network may turn attractive
    repulsion: str | None = None
    # start training from this checkpoint's weights (training.init_from; fine-tuning)
    init_from: str | None = None
    # committee (issue #19): the model plus committee - 1 members trained committee_minutes each
    # (None: train_minutes) with other seeds and splits; their force disagreement along every ML
    # trajectory is reported against the disagreement on the held-out frames. 1: no committee
    committee: int = 3
    committee_minutes: float | None = 2.5
    committee_frames: int = 100  # recorded frames per trajectory (every bead) to evaluate
    md_steps: int = 6000  # classical MD, per replica
    md_replicas: int = 4
    dt_fs: float = 0.5
    rpmd_beads: int = 8
    rpmd_steps: int = 2000
    rpmd_thermostat: str = "nhc"  # the paper's ring-polymer NHC; "nhc_pile", "pile_l", "trpmd" are options
    # RPMD driven by GFN2-xTB itself, the known answer for ML-RPMD: xtb_rpmd_steps steps at
    # rpmd_ref_beads beads (0: rpmd_beads) with the same protocol; 0 steps: none (a reference
    # made by experiments/spectra/xtb_rpmd.py in the same output_dir is used when present)
    xtb_rpmd_steps: int = 2000
    # a second ML-RPMD at the reference's bead count when it differs from rpmd_beads (0: none)
    rpmd_ref_beads: int = 0
    rpmd_ref_steps: int = 0
    xtb_md_steps: int = 6000
    stride: int = 4
    depth_fs: float = 1000.0
    discard_fs: float = 500.0
    temperature_k: float = 300.0
    # treat the start's centre-of-mass motion and rotation (of the centroid), which a global
    # thermostat never thermalises (equimol.md.config.free_molecule): the centre of mass removed,
    # the rotation as rotation_resample_fs says; False keeps both, as the runs made before session
    # 13 did (their vibrations were off T by up to 30 %, docs/equations.md)
    remove_rigid_motion: bool = True
    # keep the rotation and redraw it at T every this many fs (an Andersen step on the three
    # rotations, MDConfig.rotation_resample_fs; with remove_rigid_motion, whose centre-of-mass
    # removal it keeps; ignored without): the bands' rotational contour, and replicas that agree
    # better than with the rotation removed (experiments/spectra/README.md). None: removed
    rotation_resample_fs: float | None = SPECTRA_ROTATION_RESAMPLE_FS
    seed: int = 0
    progress: bool = True

    @classmethod
    def full(cls, **kw) -> DemoSettings:
        """Closer to the paper: more data, F = 128, 0.2 fs, 50 ps MD, 64-bead RPMD (hours on a CPU)."""
        base = dict(
            n_frames_300k=6000,
            n_frames_500k=2000,
            n_frames_pimd=4000,
            pimd_beads=16,
            pimd_every=40,
            n_test=500,
            n_features=128,
            epochs=3000,
            train_minutes=240.0,
            committee_minutes=None,  # members train as long as the model
            dt_fs=0.2,
            md_steps=250_000,
            md_replicas=4,
            rpmd_beads=64,
            rpmd_steps=100_000,
            # the xTB-RPMD reference at 16 beads (64 beads of xTB: days), with ML-RPMD at 16 beads
            rpmd_ref_beads=16,
            rpmd_ref_steps=100_000,
            xtb_rpmd_steps=100_000,
            xtb_md_steps=250_000,
            stride=10,
            depth_fs=2048.0,
            discard_fs=10_000.0,
        )
        base.update(kw)
        return cls(**base)


def _log(msg: str) -> None:
    print(f"[equimol demo] {msg}", flush=True)


def stage_reference(cfg: DemoSettings, out: Path) -> Path:
    """xTB MD sampling of ethanol and GFN2-xTB labels (energy, forces, dipole, polarizability)."""
    from equimol.data.formats import read_structures, write_structures
    from equimol.reference.label import label_file
    from equimol.reference.molecules import ethanol
    from equimol.reference.sampling import md_sampling, pimd_sampling

    labelled = out / "reference.extxyz"
    if labelled.exists():
        return labelled
    geoms = out / "reference_geometries.extxyz"
    if not geoms.exists():
        _log(f"sampling {cfg.n_frames_300k} + {cfg.n_frames_500k} frames from GFN2-xTB MD of ethanol")
        frames = md_sampling(
            ethanol(), cfg.n_frames_300k, 300.0, every=cfg.sample_every, seed=cfg.seed, progress=cfg.progress
        )
        frames += md_sampling(
            ethanol(),
            cfg.n_frames_500k,
            500.0,
            every=cfg.sample_every,
            seed=cfg.seed + 1,
            progress=cfg.progress,
        )
        if cfg.n_frames_pimd:
            _log(f"and {cfg.n_frames_pimd} bead geometries from {cfg.pimd_beads}-bead GFN2-xTB PIMD at 300 K")
            frames += pimd_sampling(
                ethanol(),
                cfg.n_frames_pimd,
                300.0,
                beads=cfg.pimd_beads,
                every=cfg.pimd_every,
                seed=cfg.seed + 2,
                progress=cfg.progress,
            )
        write_structures(geoms, frames)
    _log("labelling with GFN2-xTB (tblite): energy, forces, dipole, polarizability")
    report = label_file(geoms, labelled, progress=cfg.progress, workers=1)
    if report.failures:
        _log(
            f"{len(report.failures)} structures failed to converge and were left out ({report.failures_path})"
        )
    _log(f"reference set: {len(read_structures(labelled))} structures -> {labelled}")
    return labelled


def train_config(
    cfg: DemoSettings,
    data: Path,
    run_dir: Path,
    *,
    seed: int,
    minutes: float,
    init_from: str | None = None,
    split_file: str | None = None,
) -> dict:
    """The demo's PaiNN training config (raw dict) for ``data`` into ``run_dir``."""
    if split_file:
        split = {"split_file": split_file}
    else:
        from equimol.data.formats import read_structures

        n = len(read_structures(data))
        split = {"n_val": 50, "n_test": cfg.n_test, "n_train": n - 50 - cfg.n_test}
    energy = (
        {"name": "energy", "options": {"repulsion": cfg.repulsion}} if cfg.repulsion else {"name": "energy"}
    )
    return {
        "data": {
            "train": str(data),
            **split,
            "seed": seed,
            "targets": ["energy", "forces", "dipole", "polarizability"],
        },
        "model": {
            "name": "painn",
            "n_features": cfg.n_features,
            "n_interactions": cfg.n_interactions,
            "cutoff": cfg.cutoff,
            "heads": [energy, {"name": "dipole"}, {"name": "polarizability"}],
        },
        "training": {
            "epochs": cfg.epochs,
            "batch_size": 10,
            "lr": 1e-3,
            "lr_patience": 15,
            "min_lr": 1e-5,
            "weights": {"energy": 0.05, "forces": 0.95, "dipole": 1.0, "polarizability": 1.0},
            "ema_decay": 0.99,
            "grad_clip": cfg.grad_clip,
            "init_from": init_from,
            "max_time_minutes": minutes,
            "seed": seed,
            "progress": cfg.progress,
        },
        "output_dir": str(run_dir),
    }


def stage_train(cfg: DemoSettings, out: Path, data: Path) -> Path:
    from equimol.train.config import config_from_dict
    from equimol.train.loop import train

    run_dir = out / "model"
    done = run_dir / "done.json"
    if done.exists():
        return run_dir / "best.pt"
    raw = train_config(cfg, data, run_dir, seed=cfg.seed, minutes=cfg.train_minutes, init_from=cfg.init_from)
    _log(
        f"training PaiNN (F={cfg.n_features}, {cfg.n_interactions} interactions) for at most "
        f"{cfg.train_minutes} min; resumable"
    )
    result = train(config_from_dict(raw), resume=True, log=_log)
    write_text(done, json.dumps(result, indent=1))
    return run_dir / "best.pt"


def _test_structures(out: Path, data: Path) -> list[dict]:
    """The demo model's held-out frames."""
    from equimol.data.formats import read_structures

    split = json.loads((out / "model" / "split.json").read_text())
    structures = read_structures(data)
    return [structures[i] for i in split["test"]]


def stage_evaluate(out: Path, test: list[dict], ckpt: Path) -> dict:
    from equimol.io import load
    from equimol.train.evaluate import evaluate_structures

    result = evaluate_structures(load(ckpt), test)
    write_text(out / "test_metrics.json", json.dumps(result, indent=1))
    return result


def rigid_motion_options(cfg: DemoSettings) -> dict:
    """The MDConfig options of ``cfg``'s treatment of a free molecule's rigid motion: the
    centre-of-mass motion removed and the rotation redrawn at T every ``rotation_resample_fs`` fs
    (the default) or removed (``rotation_resample_fs`` None), or (``remove_rigid_motion`` False)
    both kept."""
    if not cfg.remove_rigid_motion:
        return {}
    return free_molecule(cfg.rotation_resample_fs)


#: the MDConfig fields of the treatment of the rigid motion, at their defaults: both kept (what
#: a finished-run stamp written before they were recorded means)
_RIGID_KEPT = {"remove_com": False, "remove_rotation": False, "rotation_resample_fs": None}


def rigid_motion_record(cfg: DemoSettings) -> dict:
    """What a result records of ``cfg``'s treatment of the rigid motion: ``remove_com``,
    ``remove_rotation``, ``rotation_resample_fs`` (the finished-run stamp's keys)."""
    return {**_RIGID_KEPT, **rigid_motion_options(cfg)}


def same_rigid_motion(stamp: Path, cfg: DemoSettings) -> bool:
    """Whether the finished-run stamp ``stamp`` (``<trajectory>.time.json``) was made with
    ``cfg``'s treatment of the rigid motion (stamps written before it was recorded: kept; no
    stamp: False)."""
    if not Path(stamp).exists():
        return False
    done = json.loads(Path(stamp).read_text())
    return all(done.get(k, _RIGID_KEPT[k]) == v for k, v in rigid_motion_record(cfg).items())


def _same_rigid_motion_restart(restart: Path, config) -> bool:
    """Whether the MD checkpoint ``restart`` was made with ``config``'s rigid-motion options."""
    from equimol.md.checkpoint import load_checkpoint
    from equimol.md.config import MDConfig

    saved = MDConfig.from_dict(load_checkpoint(restart)["config"])
    return all(getattr(saved, f) == getattr(config, f) for f in _RIGID_KEPT)


def run_md(
    force_fn,
    start: dict,
    path: Path,
    cfg: DemoSettings,
    steps: int,
    beads: int,
    replicas: int,
    thermostat: str = "nhc",
) -> float:
    """Run (or resume, or skip when done) one MD/RPMD trajectory of ``start`` with ``force_fn`` at
    the protocol of ``cfg`` (dt, temperature, stride, seed; NHC chain 3, τ 100 fs) into ``path``;
    returns its wall time in s. A ``.restart.pt`` beside ``path`` holds the state of an
    interrupted run; a ``.time.json`` stamp marks a finished one with its settings."""
    from equimol.md.config import MDConfig
    from equimol.md.simulate import run_simulation

    config = MDConfig(
        dt_fs=cfg.dt_fs,
        n_steps=steps,
        temperature_k=cfg.temperature_k,
        thermostat=thermostat,
        tau_fs=100.0,
        chain_length=3,
        n_beads=beads,
        n_replicas=replicas,
        stride=cfg.stride,
        seed=cfg.seed,
        progress=cfg.progress,
        checkpoint_every=max(cfg.stride, 1000 // cfg.stride * cfg.stride),
        **rigid_motion_options(cfg),
    )
    restart = Path(f"{path}.restart.pt")
    stamp = Path(f"{path}.time.json")
    key = {
        "steps": steps,
        "beads": beads,
        "replicas": replicas,
        "dt_fs": cfg.dt_fs,
        "stride": cfg.stride,
        "thermostat": thermostat,
        **rigid_motion_record(cfg),
    }
    if path.exists() and not restart.exists() and stamp.exists():
        done = json.loads(stamp.read_text())
        # stamps written before the thermostat, and the rigid motion's treatment, were recorded
        done = {"thermostat": "nhc", **_RIGID_KEPT, **done}
        if all(done.get(k) == v for k, v in key.items()):
            return done["wall_time_s"]
    if restart.exists() and not _same_rigid_motion_restart(restart, config):
        # an interrupted run of another treatment of the rigid motion (e.g. before session 14's
        # spectra protocol) cannot be continued at this one: start again
        print(f"{restart.name}: made with another treatment of the rigid motion; starting {path.name} again")
        restart.unlink()
    t0 = time.perf_counter()
    run_simulation(
        force_fn,
        start[K.ATOMIC_NUMBERS],
        start[K.POSITIONS],
        config=config,
        output=path,
        restart=restart,
        overwrite=True,
    )
    wall = time.perf_counter() - t0
    restart.unlink(missing_ok=True)
    write_text(stamp, json.dumps({"wall_time_s": wall, **key}))
    return wall


def stage_md(cfg: DemoSettings, out: Path, ckpt: Path, start: dict) -> dict:
    from equimol.io import load
    from equimol.md.model_forces import ModelForceFn
    from equimol.reference.xtb_forces import XTBForceFn

    potential = load(ckpt)
    timings = {}
    _log(
        f"ML MD: {cfg.md_replicas} replicas x {cfg.md_steps} steps of {cfg.dt_fs} fs at {cfg.temperature_k} K (NHC)"
    )
    fn = ModelForceFn(potential, start[K.ATOMIC_NUMBERS])
    timings["ml_md"] = run_md(fn, start, out / "md_classical.h5", cfg, cfg.md_steps, 1, cfg.md_replicas)
    _log(f"reference MD driven by GFN2-xTB itself: 1 replica x {cfg.xtb_md_steps} steps, same protocol")
    fn = XTBForceFn(start[K.ATOMIC_NUMBERS], polarizability_every=cfg.stride)
    timings["xtb_md"] = run_md(fn, start, out / "md_xtb.h5", cfg, cfg.xtb_md_steps, 1, 1)
    _log(f"ML RPMD: {cfg.rpmd_beads} beads x {cfg.rpmd_steps} steps ({cfg.rpmd_thermostat})")
    fn = ModelForceFn(potential, start[K.ATOMIC_NUMBERS])
    timings["ml_rpmd"] = run_md(
        fn, start, out / "md_rpmd.h5", cfg, cfg.rpmd_steps, cfg.rpmd_beads, 1, thermostat=cfg.rpmd_thermostat
    )
    if cfg.xtb_rpmd_steps:
        p = cfg.rpmd_ref_beads or cfg.rpmd_beads
        _log(
            f"reference RPMD driven by GFN2-xTB itself: {p} beads x {cfg.xtb_rpmd_steps} steps, same protocol"
        )
        fn_xtb = XTBForceFn(start[K.ATOMIC_NUMBERS], polarizability_every=cfg.stride)
        timings["xtb_rpmd"] = run_md(
            fn_xtb,
            start,
            out / f"md_xtb_rpmd{p}.h5",
            cfg,
            cfg.xtb_rpmd_steps,
            p,
            1,
            thermostat=cfg.rpmd_thermostat,
        )
    if cfg.rpmd_ref_beads and cfg.rpmd_ref_beads != cfg.rpmd_beads:
        p = cfg.rpmd_ref_beads
        _log(
            f"ML RPMD at the reference's bead count: {p} beads x {cfg.rpmd_ref_steps} steps ({cfg.rpmd_thermostat})"
        )
        timings["ml_rpmd_ref"] = run_md(
            fn, start, out / f"md_rpmd{p}.h5", cfg, cfg.rpmd_ref_steps, p, 1, thermostat=cfg.rpmd_thermostat
        )
    return timings


def _ps(steps: int, cfg: DemoSettings) -> str:
    return f"{steps * cfg.dt_fs / 1000.0:g}"


def _short(cfg: DemoSettings) -> str:
    """RPMD shorter than the paper's 64 beads x 50 ps is said to be a demonstration."""
    return "; short demo run" if cfg.rpmd_beads < 64 or cfg.rpmd_steps * cfg.dt_fs < 50_000 else ""


def stage_spectra(cfg: DemoSettings, out: Path, ckpt: Path, start: dict) -> dict:
    from equimol.io import load
    from equimol.spectra.derivatives import harmonic_spectra, model_derivatives, xtb_derivatives
    from equimol.spectra.plot import DEFAULT_STACK_OFFSET, plot_spectra
    from equimol.spectra.trajectory import spectra_from_trajectory, write_csv
    from equimol.workflows.compare import band_centroids, band_positions, main_peaks, match_peaks, overlap

    lengths = {"classical": cfg.md_steps, "rpmd": cfg.rpmd_steps, "xtb": cfg.xtb_md_steps}
    p_ref = cfg.rpmd_ref_beads or cfg.rpmd_beads
    ml_ref = "rpmd" if p_ref == cfg.rpmd_beads else f"rpmd{p_ref}"  # the ML-RPMD at p_ref beads
    files = {name: out / f"md_{name}.h5" for name in lengths}
    if ml_ref != "rpmd":
        lengths[ml_ref] = cfg.rpmd_ref_steps
        files[ml_ref] = out / f"md_{ml_ref}.h5"
    xtb_rpmd = out / f"md_xtb_rpmd{p_ref}.h5"
    if xtb_rpmd.exists():
        from equimol.spectra.trajectory import read_trajectory

        data, attrs = read_trajectory(xtb_rpmd, ["time_fs"])
        n_frames = len(data["time_fs"])
        lengths[f"xtb_rpmd{p_ref}"] = (n_frames - 1) * int(attrs["stride"])
        files[f"xtb_rpmd{p_ref}"] = xtb_rpmd
    md = {}
    for name, steps in lengths.items():
        # the correlation depth can be at most half of the production part of the trajectory
        depth = min(cfg.depth_fs, 0.5 * (steps * cfg.dt_fs - cfg.discard_fs))
        if depth < 20 * cfg.stride * cfg.dt_fs:
            if name in ("classical", "rpmd", "xtb"):
                raise ValueError(
                    f"the {name} trajectory ({steps * cfg.dt_fs:g} fs) is too short for discard_fs "
                    f"{cfg.discard_fs:g}: lengthen it or discard less"
                )
            _log(
                f"{name}: {steps * cfg.dt_fs:g} fs is too short after discarding {cfg.discard_fs:g} fs; left out"
            )
            continue
        md[name] = spectra_from_trajectory(
            str(files[name]),
            ir=True,
            raman=True,
            power=True,
            depth_fs=depth,
            discard_fs=cfg.discard_fs,
            temperature_k=cfg.temperature_k,
        )
    for name, sp in md.items():
        write_csv(out / f"spectrum_{name}.csv", sp)
    # issue #19's file names: the xTB-RPMD reference and the ML-RPMD at its bead count
    for name, alias in ((f"xtb_rpmd{p_ref}", "xtb_rpmd"), (ml_ref, "rpmd_ref_beads")):
        if name in md:
            write_csv(out / f"spectrum_{alias}.csv", md[name])
    grid = md["classical"]["ir"].frequency_cm1
    z = start[K.ATOMIC_NUMBERS]
    harm_ml = harmonic_spectra(model_derivatives(load(ckpt), start), z, grid, label="PaiNN harmonic")
    harm_xtb = harmonic_spectra(xtb_derivatives(start), z, grid, label="xTB harmonic")
    figures = {}
    labels = {
        "classical": f"PaiNN MD ({_ps(cfg.md_steps, cfg)} ps x {cfg.md_replicas})",
        "rpmd": f"PaiNN RPMD ({cfg.rpmd_beads} beads, {_ps(cfg.rpmd_steps, cfg)} ps{_short(cfg)})",
        "xtb": f"GFN2-xTB MD, reference ({_ps(cfg.xtb_md_steps, cfg)} ps)",
    }
    if ml_ref != "rpmd":
        labels[ml_ref] = f"PaiNN RPMD ({p_ref} beads, {_ps(cfg.rpmd_ref_steps, cfg)} ps)"
    if f"xtb_rpmd{p_ref}" in md:
        labels[f"xtb_rpmd{p_ref}"] = (
            f"GFN2-xTB RPMD, reference ({p_ref} beads, {_ps(lengths[f'xtb_rpmd{p_ref}'], cfg)} ps)"
        )
    for kind, key in (("ir", "ir"), ("raman", "raman_iso")):

        def pick(name, kind=kind, key=key):
            s = md[name][key]
            if kind == "raman":  # unpolarised: iso + 7/45 aniso
                from equimol.spectra.raman import combine_raman

                s = combine_raman(md[name]["raman_iso"], md[name]["raman_aniso"])
            return dataclasses.replace(s, label=labels[name])

        # the classical figure: ML-MD against its known answer, xTB-MD (and both harmonic
        # spectra). RPMD curves are drawn only beside their own known answer, xTB-RPMD, below
        # (issue #19: an RPMD curve either agrees with a reference in the report or is not drawn)
        curves = [pick("classical"), pick("rpmd"), pick("xtb"), harm_xtb[kind], harm_ml[kind]]
        path = out / f"{kind}.png"
        plot_spectra(
            [c for i, c in enumerate(curves) if i != 1],
            path,
            xlim_cm1=(400.0, 4000.0),
            offset=DEFAULT_STACK_OFFSET,
            title=f"ethanol {kind.upper()}, {cfg.temperature_k:g} K",
        )
        figures[kind] = str(path)
        ref, ml = curves[2], curves[0]
        figures[f"{kind}_overlap_ml_md_vs_xtb_md"] = round(overlap(ml, ref), 3)
        figures[f"{kind}_overlap_ml_rpmd_vs_xtb_md"] = round(overlap(curves[1], ref), 3)
        figures[f"{kind}_peaks"] = match_peaks(main_peaks(ref), main_peaks(ml))
        if f"xtb_rpmd{p_ref}" in md:
            # the known answer for ML-RPMD: xTB-RPMD at the same bead count and protocol
            ref_q, ml_q = pick(f"xtb_rpmd{p_ref}"), pick(ml_ref)
            path_q = out / f"{kind}_rpmd.png"
            # the paper's bead count beside it when the reference has fewer beads
            extra = [curves[1]] if ml_ref != "rpmd" else []
            plot_spectra(
                [ml_q, ref_q, *extra, ref, ml],
                path_q,
                xlim_cm1=(400.0, 4000.0),
                offset=DEFAULT_STACK_OFFSET,
                title=f"ethanol {kind.upper()}, {cfg.temperature_k:g} K: RPMD vs classical",
            )
            figures[f"{kind}_rpmd"] = str(path_q)
            figures[f"{kind}_overlap_ml_rpmd{p_ref}_vs_xtb_rpmd{p_ref}"] = round(overlap(ml_q, ref_q), 3)
            figures[f"{kind}_rpmd_peaks"] = match_peaks(main_peaks(ref_q), main_peaks(ml_q))
            # red shift of each band, classical -> RPMD, for xTB and for the model
            figures[f"{kind}_xtb_md_to_rpmd_shift"] = match_peaks(main_peaks(ref), main_peaks(ref_q))
            figures[f"{kind}_ml_md_to_rpmd_shift"] = match_peaks(main_peaks(ml), main_peaks(ml_q))
        # the position of each band (C-H and O-H stretch, fingerprint) in every curve
        figures[f"{kind}_bands_cm1"] = {name: band_positions(pick(name)) for name in md if name in labels}
        # and their intensity-weighted centres (robust where a band has several peaks)
        figures[f"{kind}_band_centroids_cm1"] = {
            name: band_centroids(pick(name)) for name in md if name in labels
        }
    figures["harmonic_frequencies_cm1"] = {
        "xtb": [round(float(f), 1) for f in harm_xtb["frequencies_cm1"]],
        "painn": [round(float(f), 1) for f in harm_ml["frequencies_cm1"]],
    }
    return figures


def run_demo(cfg: DemoSettings) -> dict:
    """Run every stage; returns (and writes report.json / report.md) errors, timings, spectra."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "settings.json", json.dumps(dataclasses.asdict(cfg), indent=1))
    # stage wall times of the run that actually did the work (cached stages keep theirs)
    timings_path = out / "timings.json"
    timings: dict[str, float] = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    cached = (out / "reference.extxyz").exists()
    t = time.perf_counter()
    data = stage_reference(cfg, out)
    if not cached or "reference_data_s" not in timings:
        timings["reference_data_s"] = time.perf_counter() - t
    cached = (out / "model" / "done.json").exists()
    t = time.perf_counter()
    ckpt = stage_train(cfg, out, data)
    if not cached or "training_s" not in timings:
        timings["training_s"] = time.perf_counter() - t
    write_text(timings_path, json.dumps(timings))
    test = _test_structures(out, data)  # read once: evaluation and committee use them
    metrics = stage_evaluate(out, test, ckpt)
    from equimol.workflows.demo_committee import stage_committee, stage_disagreement

    t = time.perf_counter()
    committee = stage_committee(cfg, out, data, ckpt, _log)
    if committee is not None and "committee_s" not in timings:
        timings["committee_s"] = time.perf_counter() - t
        write_text(timings_path, json.dumps(timings))
    from equimol.reference.molecules import ethanol
    from equimol.reference.sampling import relax

    start = relax(ethanol())
    t = time.perf_counter()
    md_times = stage_md(cfg, out, ckpt, start)
    timings["md_s"] = time.perf_counter() - t
    t = time.perf_counter()
    spectra = stage_spectra(cfg, out, ckpt, start)
    timings["spectra_s"] = time.perf_counter() - t
    if committee is not None:
        _log(f"committee disagreement on the test frames and along the ML trajectories ({committee})")
        p_ref = cfg.rpmd_ref_beads or cfg.rpmd_beads
        trajectories = {"classical": out / "md_classical.h5", "rpmd": out / "md_rpmd.h5"}
        if p_ref != cfg.rpmd_beads:
            trajectories[f"rpmd{p_ref}"] = out / f"md_rpmd{p_ref}.h5"
        # and the references' own paths: does the model cover what xTB visits?
        trajectories["xtb"] = out / "md_xtb.h5"
        trajectories[f"xtb_rpmd{p_ref}"] = out / f"md_xtb_rpmd{p_ref}.h5"
        spectra["committee_disagreement"] = stage_disagreement(
            committee, out, test, trajectories, cfg.committee_frames, cfg.discard_fs
        )
    per_step = {
        "ml_md_ms_per_step": 1000 * md_times["ml_md"] / cfg.md_steps,
        "ml_rpmd_ms_per_step": 1000 * md_times["ml_rpmd"] / cfg.rpmd_steps,
        "xtb_md_ms_per_step": 1000 * md_times["xtb_md"] / cfg.xtb_md_steps,
    }
    if "ml_rpmd_ref" in md_times:
        per_step["ml_rpmd_ref_ms_per_step"] = 1000 * md_times["ml_rpmd_ref"] / cfg.rpmd_ref_steps
    per_structure_ml = per_step["ml_md_ms_per_step"] / cfg.md_replicas
    report = {
        "settings": dataclasses.asdict(cfg),
        "test_metrics": metrics,
        "timings_s": timings,
        "md_timing": per_step,
        "speedup_ml_vs_xtb_per_structure": per_step["xtb_md_ms_per_step"] / per_structure_ml,
        "spectra": spectra,
    }
    write_text(out / "report.json", json.dumps(report, indent=1))
    write_text(out / "report.md", render_report(report))
    return report


def render_report(r: dict) -> str:
    m = r["test_metrics"]["metrics"]
    lines = [
        "# equimol demo: ethanol IR and Raman from PaiNN MD/RPMD vs GFN2-xTB",
        "",
        f"Test set: {r['test_metrics']['n_structures']} held-out xTB frames.",
        "",
        "| target | MAE | RMSE | unit |",
        "|---|---|---|---|",
    ]
    for t, v in m.items():
        lines.append(f"| {t} | {v['mae']:.4g} | {v['rmse']:.4g} | {v['unit']} |")
    lines += ["", "| stage | wall time (s) |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in r["timings_s"].items()]
    mt = r["md_timing"]
    lines += [
        "",
        f"ML MD {mt['ml_md_ms_per_step']:.2f} ms/step ({r['settings']['md_replicas']} replicas), "
        f"ML RPMD {mt['ml_rpmd_ms_per_step']:.2f} ms/step ({r['settings']['rpmd_beads']} beads), "
        f"xTB MD {mt['xtb_md_ms_per_step']:.2f} ms/step; speed-up per structure "
        f"{r['speedup_ml_vs_xtb_per_structure']:.1f}x.",
        "",
    ]
    s = r["spectra"]
    for kind in ("ir", "raman"):
        lines.append(
            f"{kind.upper()} overlap with xTB MD: PaiNN MD {s[f'{kind}_overlap_ml_md_vs_xtb_md']}, "
            f"PaiNN RPMD {s[f'{kind}_overlap_ml_rpmd_vs_xtb_md']} (1 = identical). Plot: {s[kind]}"
        )
        lines.append("")
        lines += ["| xTB MD peak (cm⁻¹) | PaiNN MD peak (cm⁻¹) | shift |", "|---|---|---|"]
        lines += [
            f"| {p['reference_cm1']} | {p['model_cm1']} | {p['shift_cm1']} |" for p in s[f"{kind}_peaks"]
        ]
        lines.append("")
        for key, value in s.items():
            if key.startswith(f"{kind}_overlap_ml_rpmd") and "_vs_xtb_rpmd" in key:
                lines += [
                    f"{kind.upper()} overlap, PaiNN RPMD vs GFN2-xTB RPMD at the same bead count: {value}",
                    "",
                ]
        if not any(k.startswith(f"{kind}_overlap_ml_rpmd") and "_vs_xtb_rpmd" in k for k in s):
            lines += [
                f"No GFN2-xTB RPMD reference in this run: the PaiNN RPMD {kind.upper()} curve is not drawn.",
                "",
            ]
        bands = s.get(f"{kind}_bands_cm1")
        if bands:
            names = list(next(iter(bands.values())))
            lines += ["| curve | " + " | ".join(f"{n} (cm⁻¹)" for n in names) + " |"]
            lines += ["|---|" + "---|" * len(names)]
            lines += [f"| {c} | " + " | ".join(str(b[n]) for n in names) + " |" for c, b in bands.items()]
            lines.append("")
    lines += _committee_lines(s.get("committee_disagreement"))
    return "\n".join(lines)


def _committee_lines(d: dict | None) -> list[str]:
    """The report's committee section: disagreement on the test frames and along each trajectory."""
    if not d:
        return []
    lines = [
        f"## Committee disagreement ({d['members']} models; largest force std of a structure, {d['unit']})",
        "",
        "| structures | n | mean | 95th percentile | max | 95th pct / test's |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in d.items():
        if isinstance(v, dict) and v.get("n"):
            ratio = v.get("p95_over_test_p95") or "—"
            lines.append(f"| {name} | {v['n']} | {v['mean']} | {v['p95']} | {v['max']} | {ratio} |")
    far = [n for n, v in d.items() if isinstance(v, dict) and (v.get("p95_over_test_p95") or 0) > 2]
    lines += [
        "",
        (
            f"Trajectories whose disagreement exceeds twice the test frames' (the model extrapolates there): "
            f"{', '.join(far)}."
            if far
            else "Every trajectory stays within twice the disagreement on the held-out frames."
        ),
        "",
    ]
    return lines
