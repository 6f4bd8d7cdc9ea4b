"""How the flows' fast paths are held to the plain formulas (test_flows_fast_path.py, test_flows_fused_step.py)."""
import torch


def same(a, b, rtol=1e-4, exact64=True):
    """Bit for bit in float64 (or, with exact64=False, to float64 rounding: a path whose products have other
    shapes, e.g. MAF sampling's 2-row output products, sums in another order). In float32 to rounding: its
    products run through core/gemm.py (oneDNN's, whose sums run in another order than the plain path's MKL),
    and these randomized flows amplify a last-bit difference (NLLs ~1e5, samples ~1e3: a sample's rtol is 2e-3)."""
    if a.dtype == torch.float64:
        return torch.equal(a, b) if exact64 else torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    return torch.allclose(a, b, rtol=rtol, atol=1e-5)
