"""Speed and memory benchmark harness (``equimol benchmark``; see benchmarks/README.md).

systems.py   input geometries (rMD17, QM9, ring polymer, water droplets, training batch)
timing.py    timers (warm-up, median, interleaved rounds; CUDA-synchronised), peak memory,
             machine description, matmul peak
cases.py     what is timed: energy + forces, a training step, FLOP counts, profiles
fast.py      the fast path: torch.compile of energy + forces (fixed-size MD), glibc allocator tuning
memory.py    one size-scan point per process (time and peak memory)
peers.py     schnetpack / so3krates-torch served from their own venv, on the same inputs
scan.py      the size scan (one process per point, memory guard)
runner.py    the whole measurement -> results dict;  report.py  JSON, Markdown, targets
"""
