"""Which of torch's CPU kernels are the fast ones on this machine: decided once, from the instruction set torch
dispatches to and the CPU's maker, so that a machine always computes a run with the same kernels (a timing
probe could pick differently from one process to the next and change the last bits of every number).

Two choices depend on it (#17), both measured on the AMD EPYC machines genviz is developed on (the first
machine's capability was not recorded; both of its gaps fit AVX-512 kernels against MKL's AVX2 path on AMD,
and the AVX2 machine that replaced it shows neither):
- `ONEDNN_GEMM` (core/gemm.py): with AVX-512 kernels on an AMD CPU, oneDNN computed the VAE's 128x784x400
  products 2.1-2.3x faster than MKL's sgemm (MKL keeps a slower path on AMD). On an AMD EPYC with AVX2 only,
  MKL was the faster one (oneDNN 0.82-1.02x its speed; `bench/bench_gemm.py`), so there torch's own is used.
- `F64_TRANSCENDENTALS` (core/fast_ops.py): torch's AVX-512 float32 expm1 / log1p took ~25 ns an element,
  their float64 forms ~4 ns, so ELU and the Bernoulli likelihood rounded a float64 evaluation to float32. The
  AVX2 kernels take 1.9-2.2 ns in float32 against 5-15 ns for the float64 round trip, so there float32 stays.
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch


@functools.cache
def vendor() -> str:
    """The CPU's maker as the kernel reports it ("AuthenticAMD", "GenuineIntel"), or "" where unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def capability() -> str:
    """The instruction set torch's CPU kernels dispatch to: "AVX512", "AVX2", "DEFAULT", ... (ATEN_CPU_CAPABILITY
    can lower it)."""
    try:
        return torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        return "DEFAULT"


def prefers_onednn_gemm(cap: str, maker: str) -> bool:
    return cap.startswith("AVX512") and maker == "AuthenticAMD"


def prefers_f64_transcendentals(cap: str) -> bool:
    return cap.startswith("AVX512")


ONEDNN_GEMM = prefers_onednn_gemm(capability(), vendor())
F64_TRANSCENDENTALS = prefers_f64_transcendentals(capability())
