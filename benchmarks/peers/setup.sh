#!/usr/bin/env bash
# Install the peer implementations (schnetpack 2.2, so3krates-torch) into their own virtual
# environment, benchmarks/peers/../../peers/venv (git-ignored), never into equimol's.
#
#   bash benchmarks/peers/setup.sh            # creates /path/to/repo/peers/venv
#   PEERS_VENV=/somewhere bash benchmarks/peers/setup.sh
#
# torch is installed FIRST and pinned (constraints file) so that no peer dependency pulls a
# different torch (a CUDA build would be GBs). schnetpack 2.2 declares Python >= 3.12 but
# runs on 3.11: it is installed with --no-deps --ignore-requires-python and its runtime
# imports (hydra, pytorch-lightning, torchmetrics, ...) are installed explicitly.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${PEERS_VENV:-$ROOT/peers/venv}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_WHEEL="${TORCH_WHEEL:-$(ls /opt/wheels/torch-${TORCH_VERSION}+cpu-*.whl 2>/dev/null | head -n1 || true)}"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
echo "torch==${TORCH_VERSION}" > "$CONSTRAINTS"

# 1. torch first: the local CPU wheel if there is one, else the CPU index.
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(not torch.__version__.startswith('${TORCH_VERSION}'))" 2>/dev/null; then
  if [ -n "$TORCH_WHEEL" ]; then
    "${PIP[@]}" install "$TORCH_WHEEL"
  else
    "${PIP[@]}" install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu
  fi
fi

# 2. the peers' runtime dependencies, never upgrading torch.
"${PIP[@]}" install -c "$CONSTRAINTS" \
  "numpy>=2" "sympy>=1.13" "ase>=3.26" h5py pyyaml "hydra-core>=1.1" "pytorch-lightning>=2" \
  torchmetrics rich fasteners dirsync torch-ema "matscipy>=1.1" tensorboardX tqdm progressbar \
  vesin prettytable "pydantic>=2" "torch-geometric==2.7.0"

# 3. the peers themselves.
"${PIP[@]}" install -c "$CONSTRAINTS" --no-deps --ignore-requires-python "schnetpack==2.2.0"
"${PIP[@]}" install -c "$CONSTRAINTS" --no-deps "so3krates-torch==0.2.1"

# 4. check: both import, and torch is still the pinned version.
"$VENV/bin/python" - <<'PY'
import torch, schnetpack, so3krates_torch
from importlib.metadata import version
print(f"peers ok: torch {torch.__version__}, schnetpack {version('schnetpack')}, so3krates-torch {version('so3krates-torch')}")
PY
