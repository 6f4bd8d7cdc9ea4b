"""torch's float32 CPU product (MKL) against oneDNN's, at the sizes genviz's hand-written steps run, one thread,
interleaved in one process: time ratio MKL ÷ oneDNN (> 1: oneDNN faster), the largest relative difference of
the results (the same sums in another order), and which one core/gemm.py uses at that size (MIN_MACS) on this
machine (core/cpu_kernels.py: oneDNN only with AVX-512 kernels on an AMD CPU).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_gemm.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from genviz.core import cpu_kernels, gemm

# (name, rows, inner, outputs): x (rows, inner) @ wᵀ, w (outputs, inner)
SHAPES = [
    ("VAE 784-400 layer, batch 128", 128, 784, 400),
    ("VAE 400-784 layer, batch 128", 128, 400, 784),
    ("VAE weight gradient 784x400", 784, 128, 400),
    ("RealNVP hidden 64x64, 4096 points", 4096, 64, 64),
    ("RealNVP hidden 64x64, batch 1024", 1024, 64, 64),
    ("RealNVP hidden 64x64, batch 256", 256, 64, 64),
    ("MAF 2-100 layer, 4096 points", 4096, 2, 100),
    ("MAF 100-4 layer, 4096 points", 4096, 100, 4),
]


def best(f, n: int = 30) -> float:
    for _ in range(3):
        f()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if gemm._onednn() is None:
        print("this torch has no oneDNN linear: core/gemm.py uses torch's own product")
        return
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"load avg {os.getloadavg()[0]:.2f}; median over {args.repeats} interleaved repeats")
    print(f"{'product':38s} {'MKL µs':>8s} {'oneDNN µs':>10s} {'MKL ÷ oneDNN':>13s} {'max rel diff':>13s}  genviz uses")
    chosen = gemm.ENABLED  # this machine's choice (core/cpu_kernels.py)
    print(f"torch's CPU kernels: {cpu_kernels.capability()} on {cpu_kernels.vendor() or 'an unknown CPU'}: "
          f"genviz's products go through {'oneDNN' if chosen else 'torch (MKL)'}")
    gate, gemm.MIN_MACS = gemm.MIN_MACS, 0  # time oneDNN at every size
    g = torch.Generator().manual_seed(0)
    for name, n, k, m in SHAPES:
        x, w, b = torch.randn(n, k, generator=g), torch.randn(m, k, generator=g), torch.randn(m, generator=g)
        ratios, t_mkl, t_dnn = [], [], []
        for _ in range(args.repeats):
            gemm.ENABLED = False
            a = best(lambda: gemm.linear(x, w, b))
            gemm.ENABLED = True
            c = best(lambda: gemm.linear(x, w, b))
            ratios.append(a / c)
            t_mkl.append(a)
            t_dnn.append(c)
        gemm.ENABLED = False
        ref = gemm.linear(x, w, b)
        gemm.ENABLED = True
        diff = float(((gemm.linear(x, w, b) - ref).abs().max() / ref.abs().max()))
        print(f"{name:38s} {statistics.median(t_mkl) * 1e6:8.1f} {statistics.median(t_dnn) * 1e6:10.1f} "
              f"{statistics.median(ratios):13.2f} {diff:13.1e}  {'oneDNN' if chosen and n * k * m >= gate else 'torch'}")
    gemm.ENABLED, gemm.MIN_MACS = chosen, gate


if __name__ == "__main__":
    main()
