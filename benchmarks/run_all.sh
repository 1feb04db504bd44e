#!/usr/bin/env bash
# The full speed measurement of issue 9, one command (run from the repository root on a quiet
# machine; about 1.5–2 h on 2 cores, see benchmarks/README.md):
#
#   bash benchmarks/run_all.sh              # THREADS=1 by default (see below)
#   THREADS=2 bash benchmarks/run_all.sh
#
# One torch thread for every contestant by default: on the 2-vCPU VM of this project a second
# thread made PaiNN's compiled energy + forces slower, not faster (64-bead ring polymer: 48 ms
# with 1 thread, 76 ms with 2 and OMP_WAIT_POLICY=ACTIVE, 82 ms with PASSIVE; eager 104 / 62 /
# 91 ms), because inductor's parallel loops over memory-bound edge work do not scale here.
#
# 1. installs the peers' venv if it is missing (benchmarks/peers/setup.sh, once);
# 2. `equimol benchmark`: PaiNN, So3krates, SchNet and the peers (schnetpack, so3krates-torch)
#    on identical inputs, the torch.compile fast path, FLOP rate, profile
#    -> benchmarks/results/benchmark.{json,md};
# 3. the size scan (100 … 10,000 atoms; So3krates also with local_slices=2)
#    -> benchmarks/results/scan.{json,md};
# 4. MD throughput (classical and 64-bead RPMD, eager and compiled) -> benchmarks/md/results.json;
# 5. where a training step's time goes, equimol and schnetpack (benchmarks/train_profile.py)
#    -> benchmarks/results/train_profile.{json,md};
# 6. one against two threads, equimol and the peers in one run (benchmarks/threads_scaling.py;
#    it sets the thread counts itself) -> benchmarks/results/threads.{json,md}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
THREADS="${THREADS:-1}"
PY="${PYTHON:-.venv/bin/python}"
export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"
# Busy-waiting OpenMP threads are ~100x slower for small calls when another process holds a
# core (see benchmarks/README.md); on a machine that is not idle, let them sleep instead.
LOAD1="$(cut -d' ' -f1 /proc/loadavg)"
if [ "$THREADS" -gt 1 ] && [ -z "${OMP_WAIT_POLICY:-}" ] && awk "BEGIN{exit !($LOAD1 > 0.5)}"; then
  echo "load average $LOAD1: setting OMP_WAIT_POLICY=PASSIVE (export OMP_WAIT_POLICY=ACTIVE to override)"
  export OMP_WAIT_POLICY=PASSIVE
fi
[ -x peers/venv/bin/python ] || bash benchmarks/peers/setup.sh
"$PY" -m equimol.cli.main benchmark --threads "$THREADS" --stages energy_forces,train,flops \
  --output benchmarks/results "$@"
# the size scan (one process per size; PaiNN at 10,000 atoms holds ~18 GiB with the retained heap)
"$PY" -m equimol.cli.main benchmark --threads "$THREADS" --stages scan --no-peers \
  --output benchmarks/results --name scan "$@"
"$PY" benchmarks/md_throughput.py --threads "$THREADS" --steps 200 --compile --output benchmarks/md/results.json \
  | tee benchmarks/md/results.md
"$PY" benchmarks/train_profile.py --output benchmarks/results
env -u OMP_NUM_THREADS -u MKL_NUM_THREADS "$PY" benchmarks/threads_scaling.py --output benchmarks/results
