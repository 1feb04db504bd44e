"""Speed and memory benchmark harness (``equimol benchmark``; see benchmarks/README.md).

systems.py   input geometries (rMD17, QM9, ring polymer, water droplets, training batch)
timing.py    timers (warm-up, median; CUDA-synchronised), environment, memory, matmul peak
cases.py     what is timed: energy + forces, a training step, FLOP counts, profiles
fast.py      the fast path: torch.compile of the energy for fixed-size inputs (MD)
peers.py     runs schnetpack / so3krates-torch in their own venv on the same inputs
runner.py    the whole measurement -> results dict;  report.py  JSON and Markdown
"""
