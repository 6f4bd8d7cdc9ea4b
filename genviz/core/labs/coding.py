"""KL divergence as expected extra bits: code symbols from p with a code designed for q.

An ideal code for q spends ℓ_q(x) = −log₂ q(x) bits on x. Its expected length under p is the cross-entropy
E_p[ℓ_q] = H(p) + KL(p‖q) (bits), so KL(p‖q) is the price of the wrong model; Gibbs' inequality
E_p[−log q] ≥ H(p), with equality iff q = p, is KL ≥ 0. Real (integer) Shannon codes ℓ = ⌈−log₂ q(x)⌉ meet
Kraft's inequality Σ 2^−ℓ ≤ 1 and cost between H + KL and H + KL + 1 bits. Distributions: (K,) arrays.
"""
from __future__ import annotations

import numpy as np


def normalize(p) -> np.ndarray:
    p = np.asarray(p, float)
    return p / p.sum()


def entropy_bits(p) -> float:
    p = normalize(p)
    nz = p > 0
    return float(-(p[nz] * np.log2(p[nz])).sum())


def cross_entropy_bits(p, q) -> float:
    """E_p[−log₂ q] (inf when q misses a symbol p uses)."""
    p, q = normalize(p), normalize(q)
    nz = p > 0
    with np.errstate(divide="ignore"):
        return float(-(p[nz] * np.log2(q[nz])).sum())


def kl_bits(p, q) -> float:
    """KL(p‖q) = Σ p log₂(p/q) in bits, summed directly (not as a difference of the two above)."""
    p, q = normalize(p), normalize(q)
    nz = p > 0
    with np.errstate(divide="ignore"):
        return float((p[nz] * (np.log2(p[nz]) - np.log2(q[nz]))).sum())


def code_lengths(q) -> np.ndarray:
    """Ideal code lengths −log₂ q(x) in bits, (K,)."""
    with np.errstate(divide="ignore"):
        return -np.log2(normalize(q))


def shannon_lengths(q) -> np.ndarray:
    """Integer Shannon code lengths ⌈−log₂ q(x)⌉ (a prefix code with these lengths exists: Kraft)."""
    return np.ceil(code_lengths(q) - 1e-12)


def kraft_sum(lengths) -> float:
    return float(np.sum(2.0 ** -np.asarray(lengths, float)))


def pair(k: int, mismatch: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(p, q) on k symbols: p skewed, q = p^(1−t)·r^t renormalized (t = mismatch) for another skewed r;
    t = 0 gives q = p."""
    rng = np.random.default_rng(seed)
    p = normalize(rng.dirichlet(np.full(k, 0.8)) + 1e-3)
    r = normalize(rng.dirichlet(np.full(k, 0.8)) + 1e-3)
    return p, normalize(p ** (1 - mismatch) * r ** mismatch)


def encode_stream(p, q, n: int, seed: int = 0) -> dict:
    """Draw n symbols from p; their ideal lengths under q's code and p's code and the Shannon lengths under
    q's code, each (n,) in bits."""
    x = np.random.default_rng(seed).choice(len(p), size=n, p=normalize(p))
    return {"x": x, "len_q": code_lengths(q)[x], "len_p": code_lengths(p)[x], "shannon_q": shannon_lengths(q)[x]}
