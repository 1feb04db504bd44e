#!/bin/sh
# Issue #18: the PaiNN paper's RPMD protocol for ethanol with a model trained on classical + PIMD
# GFN2-xTB frames: 64 beads, 0.2 fs, 300 K, ring-polymer Nose-Hoover chains (chain 3, tau 100 fs),
# 25 000 steps = 5 ps. Resumable: rerun to continue from runs/rpmd64_paper/traj.h5.restart.pt.
#   OMP_NUM_THREADS=1 sh experiments/spectra/rpmd64_paper.sh [CHECKPOINT]
# CHECKPOINT defaults to the model already copied to runs/rpmd64_paper/model.pt; the record in
# experiments/spectra/README.md used the spectra model with the ZBL repulsion,
# runs/spectra_ethanol/model/best.pt (an earlier model without it fell into an O-H hole at 2.84 ps).
set -e
cd "$(dirname "$0")/../.."
mkdir -p runs/rpmd64_paper
if [ -n "$1" ]; then cp "$1" runs/rpmd64_paper/model.pt; fi
[ -f runs/ethanol_xtb_min.xyz ] || .venv/bin/python -c "
from equimol.data.formats import write_structures
from equimol.reference.molecules import ethanol
from equimol.reference.sampling import relax
s = relax(ethanol())
write_structures('runs/ethanol_xtb_min.xyz', [{'positions': s['positions'], 'atomic_numbers': s['atomic_numbers']}])"
exec .venv/bin/equimol md runs/rpmd64_paper/model.pt runs/ethanol_xtb_min.xyz --beads 64 --thermostat nhc \
    --dt-fs 0.2 --steps 25000 --temperature-k 300 --tau-fs 100 --chain-length 3 --stride 50 \
    -o runs/rpmd64_paper/traj.h5 --no-progress
