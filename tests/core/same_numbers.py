"""How the flows' fast paths are held to the plain formulas (test_flows_fast_path.py, test_flows_fused_step.py)."""
import torch


def same(a, b, rtol=1e-4):
    """Bit for bit in float64. In float32 to rounding: its products run through core/gemm.py (oneDNN's, whose
    sums run in another order than the plain path's MKL), and these randomized flows amplify a last-bit
    difference (NLLs ~1e5, samples ~1e3: a sample's rtol is 2e-3)."""
    return torch.equal(a, b) if a.dtype == torch.float64 else torch.allclose(a, b, rtol=rtol, atol=1e-5)
