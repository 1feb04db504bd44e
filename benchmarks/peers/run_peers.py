"""Time the peer implementations on the inputs the equimol harness wrote (runs in the peers' venv).

    peers/venv/bin/python benchmarks/peers/run_peers.py INPUTS.npz --config '{"repeats": 20}'
    peers/venv/bin/python benchmarks/peers/run_peers.py INPUTS.npz --serve     # used by the harness

Batch mode prints one JSON object (versions, results, errors) on the last line of stdout.
Serve mode answers JSON requests on stdin, one per line, {"model", "case", "mode", "repeats",
"warmup", "threads"?}, with one JSON line each ({"times_s": [...], "edges": E} or {"error": ...}),
so the harness can interleave peer and equimol timings of the same case under the same load.
This script must not import equimol (it is not installed here); it reads the .npz written by
``equimol.benchmark.peers.write_inputs``:

    cases            names of the systems, e.g. ["ethanol", "aspirin", "qm9_50", "ring_polymer_64", "train"]
    <case>/z         (N,) atomic numbers          <case>/pos  (N, 3) Å
    <case>/n_atoms   (B,) atoms per structure     <case>/energy (B,) eV, <case>/forces (N, 3) eV/Å

Models (hyperparameters aligned with equimol's; see benchmarks/README.md):
  painn      schnetpack PaiNN: F=128, 3 interactions, 20 Bessel sin(nπr/rc)/r RBFs, cosine cutoff 5 Å, SiLU
  schnet     schnetpack SchNet: F=128, 6 interactions, 50 Gaussians, cosine cutoff 5 Å, shifted softplus
  so3net     schnetpack SO3net: F=128, 3 interactions, l_max 2, 20 Gaussians, cosine cutoff 5 Å
             (schnetpack's default config; no equimol counterpart, absolute times only)
  so3krates  so3krates-torch: F=132, 6 layers, degrees 1..3, 4 heads, 32 RBFs, cosine cutoff 5 Å

Modes: "model" times the model call (energy + forces by autograd) on an input dict prepared once
by the peer's own pipeline (its neighbour list is built there, not timed); "with_nl" times what a
user calling it on structures runs: the peer's converter (schnetpack AtomsConverter +
MatScipyNeighborList; so3krates-torch AtomicData.from_config with its matscipy neighbourhood +
torch_geometric collate, as its ASE calculator does) plus the model call; "train" times one
optimisation step on case "train" (E+F loss, ρ = 0.95, forces with create_graph, Adam).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from importlib.metadata import version

import numpy as np
import torch

CUTOFF = 5.0
RHO = 0.95


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_fn(fn, warmup: int, repeats: int, device: str) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times


def load_cases(path: str) -> dict[str, dict[str, np.ndarray]]:
    raw = np.load(path)
    return {
        name: {k.split("/", 1)[1]: raw[k] for k in raw.files if k.startswith(name + "/")}
        for name in [str(c) for c in raw["cases"]]
    }


def to_atoms(case: dict[str, np.ndarray]):
    from ase import Atoms

    out, start = [], 0
    for n in case["n_atoms"]:
        out.append(Atoms(numbers=case["z"][start : start + n], positions=case["pos"][start : start + n]))
        start += n
    return out


def ef_loss(e, f, e_ref, f_ref):
    return (1 - RHO) * ((e - e_ref) ** 2).mean() + RHO * ((f - f_ref) ** 2).mean()


class SchnetpackPeer:
    name = "schnetpack"

    def __init__(self, model: str, device: str, dtype: torch.dtype):
        import schnetpack as spk

        self.spk, self.device, self.dtype = spk, device, dtype
        cutoff_fn = spk.nn.CosineCutoff(CUTOFF)
        if model == "painn":
            rep = spk.representation.PaiNN(
                n_atom_basis=128,
                n_interactions=3,
                radial_basis=spk.nn.BesselRBF(20, CUTOFF),
                cutoff_fn=cutoff_fn,
            )
        elif model == "schnet":
            rep = spk.representation.SchNet(
                n_atom_basis=128,
                n_interactions=6,
                n_filters=128,
                radial_basis=spk.nn.GaussianRBF(50, CUTOFF),
                cutoff_fn=cutoff_fn,
            )
        elif model == "so3net":
            rep = spk.representation.SO3net(
                n_atom_basis=128,
                n_interactions=3,
                lmax=2,
                radial_basis=spk.nn.GaussianRBF(20, CUTOFF),
                cutoff_fn=cutoff_fn,
            )
        else:
            raise ValueError(f"unknown schnetpack model {model!r}")
        torch.manual_seed(0)
        self.model = spk.model.NeuralNetworkPotential(
            representation=rep,
            input_modules=[spk.atomistic.PairwiseDistances()],
            output_modules=[spk.atomistic.Atomwise(n_in=128, output_key="energy"), spk.atomistic.Forces()],
        ).to(device=device, dtype=dtype)
        self.converter = spk.interfaces.AtomsConverter(
            neighbor_list=spk.transform.MatScipyNeighborList(cutoff=CUTOFF), device=device, dtype=dtype
        )
        self.optimizer = None

    def edges(self, inputs) -> int:
        return int(inputs[self.spk.properties.idx_i].shape[0])

    def callable(self, mode: str, case: dict):
        atoms = to_atoms(case)
        prepared = self.converter(atoms)
        if mode == "model":
            self.model.eval()
            return (lambda: self.model(dict(prepared))["forces"]), self.edges(prepared)
        if mode == "with_nl":
            self.model.eval()
            return (lambda: self.model(self.converter(atoms))["forces"]), self.edges(prepared)
        if mode == "train":
            e_ref = torch.as_tensor(case["energy"], dtype=self.dtype, device=self.device)
            f_ref = torch.as_tensor(case["forces"], dtype=self.dtype, device=self.device)
            self.optimizer = self.optimizer or torch.optim.Adam(self.model.parameters(), lr=1e-5)

            def step():
                self.model.train()  # Forces uses create_graph=self.training
                out = self.model(dict(prepared))
                loss = ef_loss(out["energy"], out["forces"], e_ref, f_ref)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()

            return step, self.edges(prepared)
        raise ValueError(f"unknown mode {mode!r}")


class So3kratesPeer:
    name = "so3krates-torch"

    def __init__(self, model: str, device: str, dtype: torch.dtype):
        from so3krates_torch.modules.models import So3krates
        from so3krates_torch.tools.utils import AtomicNumberTable

        if model != "so3krates":
            raise ValueError(f"unknown so3krates-torch model {model!r}")
        torch.manual_seed(0)
        self.model = So3krates(
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
        self.z_table = AtomicNumberTable(list(range(1, 119)))
        self.device, self.dtype = device, dtype
        self.optimizer = None

    def convert(self, atoms):
        from so3krates_torch.data.atomic_data import AtomicData
        from so3krates_torch.data.utils import config_from_atoms
        from so3krates_torch.tools import torch_geometric

        data = [
            AtomicData.from_config(config_from_atoms(a), z_table=self.z_table, cutoff=CUTOFF) for a in atoms
        ]
        loader = torch_geometric.dataloader.DataLoader(dataset=data, batch_size=len(data), shuffle=False)
        return next(iter(loader)).to(self.device)

    def callable(self, mode: str, case: dict):
        atoms = to_atoms(case)
        prepared = self.convert(atoms)
        edges = int(prepared["edge_index"].shape[1])
        if mode == "model":
            return (lambda: self.model(prepared.clone().to_dict(), training=False)["forces"]), edges
        if mode == "with_nl":
            return (lambda: self.model(self.convert(atoms).to_dict(), training=False)["forces"]), edges
        if mode == "train":
            e_ref = torch.as_tensor(case["energy"], dtype=self.dtype, device=self.device)
            f_ref = torch.as_tensor(case["forces"], dtype=self.dtype, device=self.device)
            self.optimizer = self.optimizer or torch.optim.Adam(self.model.parameters(), lr=1e-5)

            def step():
                out = self.model(prepared.clone().to_dict(), training=True)
                loss = ef_loss(out["energy"], out["forces"], e_ref, f_ref)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()

            return step, edges
        raise ValueError(f"unknown mode {mode!r}")


class Peers:
    """Lazily built peer models and prepared inputs, keyed by (model, case, mode)."""

    def __init__(self, cases: dict, device: str, dtype: torch.dtype):
        self.cases, self.device, self.dtype = cases, device, dtype
        self.models: dict = {}
        self.calls: dict = {}

    def get(self, model: str, case: str, mode: str):
        key = (model, case, mode)
        if key not in self.calls:
            if model not in self.models:
                cls = So3kratesPeer if model == "so3krates" else SchnetpackPeer
                self.models[model] = cls(model, self.device, self.dtype)
            self.calls[key] = self.models[model].callable(mode, self.cases[case])
        return self.models[model], self.calls[key]

    def time(self, req: dict) -> dict:
        peer, (fn, edges) = self.get(req["model"], req["case"], req["mode"])
        times = time_fn(fn, int(req.get("warmup", 0)), int(req.get("repeats", 1)), self.device)
        return {
            "peer": peer.name,
            "model": req["model"],
            "case": req["case"],
            "mode": req["mode"],
            "edges": edges,
            "times_s": times,
        }


def versions() -> dict:
    out = {"torch": torch.__version__, "python": sys.version.split()[0]}
    for pkg in ("schnetpack", "so3krates-torch"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing peer is reported as None
            out[pkg] = None
    return out


def serve(peers: Peers) -> int:
    print(json.dumps({"ready": True, "peers": versions(), "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if req.get("quit"):
            break
        try:
            if req.get("threads"):
                torch.set_num_threads(int(req["threads"]))
            out = peers.time(req)
        except Exception as e:  # noqa: BLE001 - reported to the harness, the server goes on
            out = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(), **req}
        print(json.dumps(out), flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs")
    p.add_argument(
        "--config", default="{}", help="JSON: repeats, warmup, threads, device, dtype, models, modes"
    )
    p.add_argument("--serve", action="store_true", help="answer timing requests on stdin (JSON lines)")
    args = p.parse_args(argv)
    cfg = {
        "repeats": 20,
        "warmup": 3,
        "threads": None,
        "device": "cpu",
        "dtype": "float32",
        "models": ["painn", "schnet", "so3net", "so3krates"],
        "modes": ["model", "with_nl"],
        **json.loads(args.config),
    }
    if cfg["threads"]:
        torch.set_num_threads(int(cfg["threads"]))
    cases = load_cases(args.inputs)
    peers = Peers(cases, cfg["device"], getattr(torch, cfg["dtype"]))
    if args.serve:
        return serve(peers)
    results, errors = [], []
    for model in cfg["models"]:
        for case in cases:
            for mode in ["train"] if case == "train" else cfg["modes"]:
                try:
                    r = peers.time(
                        {
                            "model": model,
                            "case": case,
                            "mode": mode,
                            "repeats": cfg["repeats"],
                            "warmup": cfg["warmup"],
                        }
                    )
                    r["median_s"] = float(np.median(r["times_s"]))
                    results.append(r)
                except Exception as e:  # noqa: BLE001 - reported to the harness, the server goes on
                    errors.append({"model": model, "case": case, "error": f"{type(e).__name__}: {e}"})
    print(
        json.dumps(
            {"peers": versions(), "threads": torch.get_num_threads(), "results": results, "errors": errors}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
