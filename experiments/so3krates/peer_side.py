"""so3krates-torch side of compare_peer.py: runs in the peers' venv (peers/venv), never imports equimol.

    peers/venv/bin/python experiments/so3krates/peer_side.py --describe '{"num_features": 96, "num_layers": 3}'
    peers/venv/bin/python experiments/so3krates/peer_side.py INPUTS.npz --serve --config '{"so3krates_options": {...}}'

It reuses benchmarks/peers/run_peers.py (imported, not copied): the serve protocol, the input
format, the timers and ``So3kratesPeer``'s "model" / "with_nl" / "train" closures. What it adds:
the so3krates-torch model is built with the hyperparameters in the config's "so3krates_options"
(so3krates-torch constructor names, on top of run_peers' F 132 / 6 layers / degrees 1..3 / 4 heads /
32 RBFs / cosine cutoff 5 Å / SiLU), optionally with frozen parameters ("freeze": true, as the
equimol side's ``equimol.benchmark.cases.freeze``), and ``--describe`` prints the parameter count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "peers"))
import run_peers  # noqa: E402

# run_peers.So3kratesPeer's hyperparameters, the defaults here
BASE = {
    "r_max": run_peers.CUTOFF,
    "num_radial_basis_fn": 32,
    "degrees": [1, 2, 3],
    "num_features": 132,
    "num_heads": 4,
    "num_layers": 6,
    "cutoff_fn": "cosine",
    "activation_fn": "silu",
}
SETTINGS: dict = {"options": {}, "freeze": False}


def build(device: str = "cpu", dtype: torch.dtype = torch.float32, **options):
    from so3krates_torch.modules.models import So3krates

    torch.manual_seed(0)
    return So3krates(**{**BASE, **options}, device=device, dtype=dtype).to(device)


class ConfiguredSo3kratesPeer(run_peers.So3kratesPeer):
    """run_peers' So3kratesPeer with the model built from SETTINGS (everything else inherited)."""

    def __init__(self, model: str, device: str, dtype: torch.dtype):
        from so3krates_torch.tools.utils import AtomicNumberTable

        if model != "so3krates":
            raise ValueError(f"unknown so3krates-torch model {model!r}")
        self.model = build(device, dtype, **SETTINGS["options"])
        if SETTINGS["freeze"]:
            for p in self.model.parameters():
                p.requires_grad_(False)
        self.z_table = AtomicNumberTable(list(range(1, 119)))
        self.device, self.dtype = device, dtype
        self.optimizer = None


GROUPS = (  # (name fragment, group), first match wins
    ("inv_feature_embedding", "embedding"),
    ("radial_embedding", "radial basis"),
    ("filter_net_inv", "feature filter"),
    ("filter_net_ev", "SPHC filter"),
    ("interaction_block", "atomwise interaction"),
    ("atomic_energy_output_block", "energy head"),
    ("_inv", "feature attention"),  # W_q_inv, W_k_inv, W_v_inv
    ("_ev", "SPHC attention"),  # W_q_ev, W_k_ev
)


def describe(options: dict) -> dict:
    model = build(**options)
    groups: dict[str, int] = {}
    frozen = 0
    for name, p in model.named_parameters():  # shared modules (filters) are listed once
        if not p.requires_grad:
            frozen += p.numel()
            continue
        group = next((g for frag, g in GROUPS if frag in name), "other")
        groups[group] = groups.get(group, 0) + p.numel()
    return {
        "hyperparameters": {**BASE, **options},
        "parameters": sum(groups.values()),
        "groups": groups,
        "non_trainable_parameters": frozen,
        "versions": run_peers.versions(),
    }


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--describe":
        print(json.dumps(describe(json.loads(argv[1]) if len(argv) > 1 else {})))
        return 0
    if "--config" in argv:
        cfg = json.loads(argv[argv.index("--config") + 1])
        SETTINGS["options"] = cfg.get("so3krates_options", {})
        SETTINGS["freeze"] = bool(cfg.get("freeze", False))
        if "r_max" in SETTINGS["options"]:
            run_peers.CUTOFF = float(SETTINGS["options"]["r_max"])  # its converter's neighbour list
    run_peers.So3kratesPeer = ConfiguredSo3kratesPeer  # what run_peers.Peers builds for "so3krates"
    return run_peers.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
