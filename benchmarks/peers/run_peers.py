"""Time the peer implementations on the inputs the equimol harness wrote (runs in the peers' venv).

    peers/venv/bin/python benchmarks/peers/run_peers.py INPUTS.npz --config '{"repeats": 20, ...}'

Prints one JSON object on the last line of stdout: {"peers": {...versions}, "results": [...]}.
This script must not import equimol (it is not installed in the peers' venv); it only reads
the .npz written by ``equimol.benchmark.peers.write_inputs``:

    cases            names of the systems, e.g. ["ethanol", "aspirin", "qm9_50", "ring_polymer_64"]
    <case>/z         (N,) atomic numbers          <case>/pos  (N, 3) Å
    <case>/n_atoms   (B,) atoms per structure     <case>/energy (B,) eV, <case>/forces (N, 3) eV/Å
    train/...        the training batch (same keys, with targets)

Models (hyperparameters aligned with equimol's; see benchmarks/README.md):
  schnetpack PaiNN  F=128, 3 interactions, 20 Bessel (sin(nπr/rc)/r) RBFs, cosine cutoff 5 Å, SiLU
  schnetpack SchNet F=128, 6 interactions, 50 Gaussians, cosine cutoff 5 Å, shifted softplus
  schnetpack SO3net F=128, 3 interactions, l_max 2, 20 Gaussians, cosine cutoff 5 Å (schnetpack's
                    default config; no equimol counterpart, absolute times only)
  so3krates-torch   F=132, 6 layers, degrees 1..3, 4 heads, 32 RBFs, cosine cutoff 5 Å

Modes: "model" times the model call (energy + forces by autograd) on an input dict prepared
once by the peer's own pipeline (neighbour list included in the preparation, not in the
timing); "with_nl" times the way users call it from structures: the peer's converter
(schnetpack AtomsConverter + MatScipyNeighborList; so3krates-torch AtomicData.from_config +
its matscipy neighbourhood + torch_geometric collate, as its ASE calculator does) plus the
model call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from importlib.metadata import version

import numpy as np
import torch

CUTOFF = 5.0


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_fn(fn, warmup: int, repeats: int, device: str) -> dict:
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "iqr_s": float(np.subtract(*np.percentile(times, [75, 25]))),
        "repeats": repeats,
        "warmup": warmup,
    }


def load_cases(path: str) -> dict[str, dict[str, np.ndarray]]:
    raw = np.load(path)
    cases = {}
    for name in [str(c) for c in raw["cases"]]:
        cases[name] = {k.split("/", 1)[1]: raw[k] for k in raw.files if k.startswith(name + "/")}
    return cases


def to_atoms(case: dict[str, np.ndarray]):
    from ase import Atoms

    out, start = [], 0
    for n in case["n_atoms"]:
        out.append(Atoms(numbers=case["z"][start : start + n], positions=case["pos"][start : start + n]))
        start += n
    return out


# --- schnetpack -------------------------------------------------------------------------------


def build_schnetpack(name: str):
    import schnetpack as spk

    cutoff_fn = spk.nn.CosineCutoff(CUTOFF)
    if name == "painn":
        rep = spk.representation.PaiNN(
            n_atom_basis=128, n_interactions=3, radial_basis=spk.nn.BesselRBF(20, CUTOFF), cutoff_fn=cutoff_fn
        )
    elif name == "schnet":
        rep = spk.representation.SchNet(
            n_atom_basis=128,
            n_interactions=6,
            radial_basis=spk.nn.GaussianRBF(50, CUTOFF),
            cutoff_fn=cutoff_fn,
            n_filters=128,
        )
    elif name == "so3net":
        rep = spk.representation.SO3net(
            n_atom_basis=128, n_interactions=3, lmax=2, radial_basis=spk.nn.GaussianRBF(20, CUTOFF), cutoff_fn=cutoff_fn
        )
    else:
        raise ValueError(name)
    return spk.model.NeuralNetworkPotential(
        representation=rep,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=128, output_key="energy"), spk.atomistic.Forces()],
    )


def schnetpack_cases(name, cases, cfg, device, dtype):
    import schnetpack as spk

    model = build_schnetpack(name).to(device=device, dtype=dtype)
    converter = spk.interfaces.AtomsConverter(
        neighbor_list=spk.transform.MatScipyNeighborList(cutoff=CUTOFF), device=device, dtype=dtype
    )
    results = []
    for case_name in cfg["inference_cases"]:
        atoms = to_atoms(cases[case_name])
        model.eval()
        prepared = converter(atoms)

        def model_only():
            out = model(dict(prepared))
            return out["forces"]

        def with_nl():
            return model(converter(atoms))["forces"]

        n_edges = int(prepared[spk.properties.idx_i].shape[0])
        for mode, fn in (("model", model_only), ("with_nl", with_nl)):
            if mode == "with_nl" and not cfg.get("with_nl", True):
                continue
            r = time_fn(fn, cfg["warmup"], cfg["repeats"], device)
            results.append({"peer": "schnetpack", "model": name, "case": case_name, "mode": mode, "edges": n_edges, **r})
    if cfg.get("train") and name in cfg.get("train_models", ["painn", "schnet"]):
        results.append(schnetpack_train(model, converter, cases["train"], cfg, device, dtype, name))
    return results


def loss_fn(e, f, e_ref, f_ref, rho=0.95):
    return (1 - rho) * ((e - e_ref) ** 2).mean() + rho * ((f - f_ref) ** 2).mean()


def schnetpack_train(model, converter, case, cfg, device, dtype, name):
    model.train()
    prepared = converter(to_atoms(case))
    e_ref = torch.as_tensor(case["energy"], dtype=dtype, device=device)
    f_ref = torch.as_tensor(case["forces"], dtype=dtype, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)

    def step():
        out = model(dict(prepared))
        loss = loss_fn(out["energy"], out["forces"], e_ref, f_ref)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    r = time_fn(step, cfg["warmup"], cfg["repeats"], device)
    model.eval()
    return {"peer": "schnetpack", "model": name, "case": "train_step", "mode": "model", **r}


# --- so3krates-torch --------------------------------------------------------------------------


def so3krates_cases(cases, cfg, device, dtype):
    from so3krates_torch.data.atomic_data import AtomicData
    from so3krates_torch.data.utils import config_from_atoms
    from so3krates_torch.modules.models import So3krates
    from so3krates_torch.tools import torch_geometric
    from so3krates_torch.tools.utils import AtomicNumberTable

    torch.manual_seed(0)
    model = So3krates(
        r_max=CUTOFF,
        num_radial_basis_fn=32,
        degrees=[1, 2, 3],
        num_features=132,
        num_heads=4,
        num_layers=6,
        cutoff_fn="cosine",
        activation_fn="silu",
        device=device,
        dtype=dtype,
    ).to(device)
    z_table = AtomicNumberTable(list(range(1, 119)))

    def convert(atoms):
        data = [AtomicData.from_config(config_from_atoms(a), z_table=z_table, cutoff=CUTOFF) for a in atoms]
        loader = torch_geometric.dataloader.DataLoader(dataset=data, batch_size=len(data), shuffle=False)
        return next(iter(loader)).to(device)

    results = []
    for case_name in cfg["inference_cases"]:
        atoms = to_atoms(cases[case_name])
        prepared = convert(atoms)

        def model_only():
            return model(prepared.clone().to_dict(), training=False)["forces"]

        def with_nl():
            return model(convert(atoms).to_dict(), training=False)["forces"]

        n_edges = int(prepared["edge_index"].shape[1])
        for mode, fn in (("model", model_only), ("with_nl", with_nl)):
            if mode == "with_nl" and not cfg.get("with_nl", True):
                continue
            r = time_fn(fn, cfg["warmup"], cfg["repeats"], device)
            results.append(
                {"peer": "so3krates-torch", "model": "so3krates", "case": case_name, "mode": mode, "edges": n_edges, **r}
            )
    if cfg.get("train") and "so3krates" in cfg.get("train_models", ["so3krates"]):
        case = cases["train"]
        prepared = convert(to_atoms(case))
        e_ref = torch.as_tensor(case["energy"], dtype=dtype, device=device)
        f_ref = torch.as_tensor(case["forces"], dtype=dtype, device=device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-5)

        def step():
            out = model(prepared.clone().to_dict(), training=True)
            loss = loss_fn(out["energy"], out["forces"], e_ref, f_ref)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        r = time_fn(step, cfg["warmup"], cfg["repeats"], device)
        results.append({"peer": "so3krates-torch", "model": "so3krates", "case": "train_step", "mode": "model", **r})
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs")
    p.add_argument("--config", default="{}", help="JSON: repeats, warmup, threads, device, dtype, models, ...")
    args = p.parse_args(argv)
    cfg = {
        "repeats": 20,
        "warmup": 3,
        "threads": None,
        "device": "cpu",
        "dtype": "float32",
        "models": ["painn", "schnet", "so3net", "so3krates"],
        "train": True,
        "with_nl": True,
        **json.loads(args.config),
    }
    if cfg["threads"]:
        torch.set_num_threads(int(cfg["threads"]))
    device, dtype = cfg["device"], getattr(torch, cfg["dtype"])
    cases = load_cases(args.inputs)
    cfg.setdefault("inference_cases", [c for c in cases if c != "train"])
    versions = {"torch": torch.__version__, "python": sys.version.split()[0]}
    results, errors = [], []
    for name in cfg["models"]:
        try:
            if name == "so3krates":
                versions["so3krates-torch"] = version("so3krates-torch")
                results += so3krates_cases(cases, cfg, device, dtype)
            else:
                versions["schnetpack"] = version("schnetpack")
                results += schnetpack_cases(name, cases, cfg, device, dtype)
        except Exception as e:  # report and go on with the other peers
            errors.append({"model": name, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()})
    print(json.dumps({"peers": versions, "threads": torch.get_num_threads(), "results": results, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
