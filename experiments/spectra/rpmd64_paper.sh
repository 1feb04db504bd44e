#!/bin/sh
# Issue #18: the PaiNN paper's RPMD protocol for ethanol: 64 beads, 0.2 fs, 300 K, ring-polymer
# Nose-Hoover chains (chain 3, tau 100 fs), 25 000 steps = 5 ps, through `equimol md`.
# Resumable: rerun to continue from runs/rpmd64_paper/traj.h5.restart.pt.
#   OMP_NUM_THREADS=1 sh experiments/spectra/rpmd64_paper.sh [CHECKPOINT]
#   python experiments/spectra/rpmd64_check.py runs/rpmd64_paper/traj.h5 [OUT.json]
# CHECKPOINT defaults to experiments/spectra/painn_spectra.pt: the spectra PaiNN (classical and
# 16-bead PIMD GFN2-xTB frames, fine-tuned with the energy head's ZBL repulsion; an earlier model
# without it fell into an O-H hole at 2.84 ps, see README.md). The start is the GFN2-xTB minimum
# committed beside this script.
set -e
cd "$(dirname "$0")/../.."
mkdir -p runs/rpmd64_paper
# the model of a run in progress stays unless one is given
if [ -n "$1" ]; then cp "$1" runs/rpmd64_paper/model.pt; fi
[ -f runs/rpmd64_paper/model.pt ] || cp experiments/spectra/painn_spectra.pt runs/rpmd64_paper/model.pt
exec .venv/bin/equimol md runs/rpmd64_paper/model.pt experiments/spectra/ethanol_xtb_min.xyz --beads 64 \
    --thermostat nhc --dt-fs 0.2 --steps 25000 --temperature-k 300 --tau-fs 100 --chain-length 3 \
    --stride 50 -o runs/rpmd64_paper/traj.h5 --no-progress
