"""A (10664 x 32) @ (32 x 1936) float32 matmul with normal and with subnormal inputs (1 thread).

.venv/bin/python benchmarks/ab/matmul_subnormal.py
"""

import time

import torch

torch.set_num_threads(1)
a, b = torch.randn(10664, 32), torch.randn(32, 1936)


def ms(x, n=10):
    x @ b
    t = time.perf_counter()
    for _ in range(n):
        x @ b
    return (time.perf_counter() - t) / n * 1e3


print(f"normal inputs {ms(a):.0f} ms, subnormal inputs {ms(a * 1e-39):.0f} ms")
