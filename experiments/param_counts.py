"""Parameter counts of equimol's models at the papers' sizes, next to the papers' numbers.

    python experiments/param_counts.py          # prints the table and writes experiments/param_counts.md

The papers' numbers are those the issues quote (PaiNN: 588k for the full model, ≈ 590k for
every Table IV row); where the paper's table was not readable here the column says so. The
same counts are pinned by tests/models/test_painn.py::test_parameter_counts_at_the_papers_sizes
and tests/models/test_so3krates_equations.py.
"""

from __future__ import annotations

from pathlib import Path

import equimol
from equimol.param_count import count_parameters

HERE = Path(__file__).resolve().parent
NOT_READ = "not readable here"

ROWS = [
    ("PaiNN", "full, F 128, 3 interactions", "painn", {}, "588k"),
    (
        "PaiNN Table IV",
        "no scalar product, F 134",
        "painn",
        {"n_features": 134, "scalar_product": False},
        "≈ 590k",
    ),
    (
        "PaiNN Table IV",
        "no vector propagation, F 135",
        "painn",
        {"n_features": 135, "vector_propagation": False},
        "≈ 590k",
    ),
    (
        "PaiNN Table IV",
        "neither, F 142",
        "painn",
        {"n_features": 142, "scalar_product": False, "vector_propagation": False},
        "≈ 590k",
    ),
    (
        "PaiNN Table IV",
        "no vectors, F 174 (the paper's F)",
        "painn",
        {"n_features": 174, "vectors": False},
        "≈ 590k",
    ),
    (
        "PaiNN Table IV",
        "no vectors, F 210 (equal count)",
        "painn",
        {"n_features": 210, "vectors": False},
        "≈ 590k",
    ),
    ("So3krates", "MD17: F 132, 6 layers, l 1..3, 4 heads, K 32", "so3krates", {}, NOT_READ),
    (
        "So3krates",
        "cumulenes (Fig. 2): F 128, 4 layers, l 1",
        "so3krates",
        {"n_features": 128, "n_layers": 4, "l_max": 1},
        NOT_READ,
    ),
    (
        "L1Net",
        "authors' configuration: 64 × l0 + 21 × l1, 2 + 1 layers, radial 2 × 128",
        "l1net",
        {},
        NOT_READ,
    ),
    ("L0Net", "parameter-matched to L1Net (TFNConfig)", "l0net", {}, NOT_READ),
    (
        "L1Net",
        "experiments/l0l1 (quarter width): 32 × l0 + 8 × l1",
        "l1net",
        {"n_features": 32, "n_scalars": 32, "n_vectors": 8},
        NOT_READ,
    ),
]


def main() -> None:
    lines = [
        "# Parameter counts at the papers' sizes",
        "",
        "`python experiments/param_counts.py` (energy head included).",
        "",
        "| paper | model | equimol | paper |",
        "|---|---|---:|---|",
    ]
    for paper, what, name, options, theirs in ROWS:
        n = count_parameters(equimol.build_model(name, **options))
        lines.append(f"| {paper} | {what} | {n:,} | {theirs} |")
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "param_counts.md").write_text(text)


if __name__ == "__main__":
    main()
