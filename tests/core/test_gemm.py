"""core/gemm.py: oneDNN's product where it applies (float32 CPU, no autograd), torch's elsewhere; same sums."""
import pytest
import torch

from genviz.core import gemm

REAL_MIN_MACS = gemm.MIN_MACS


@pytest.fixture(autouse=True)
def every_size(monkeypatch):
    """These tests' small products go to oneDNN too (the size gate has its own test), also on a machine whose
    choice is torch's own product (cpu_kernels.ONEDNN_GEMM)."""
    monkeypatch.setattr(gemm, "MIN_MACS", 0)
    monkeypatch.setattr(gemm, "ENABLED", True)


def _args(dtype, n=37, k=53, m=29):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(n, k, generator=g, dtype=dtype), torch.randn(m, k, generator=g, dtype=dtype),
            torch.randn(m, generator=g, dtype=dtype))


def test_linear_and_mm_are_torchs_products_to_float_rounding():
    x, w, b = _args(torch.float32)
    ref = torch.addmm(b, x, w.t())
    torch.testing.assert_close(gemm.linear(x, w, b), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gemm.linear(x, w), x @ w.t(), rtol=1e-5, atol=1e-5)
    # transposed views on either side, as the hand-written backwards pass them
    g = torch.randn(37, 29, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(gemm.mm(g.t(), x), g.t() @ x, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gemm.mm(g, w), g @ w, rtol=1e-5, atol=1e-5)


def test_out_is_written_also_when_strided():
    x, w, b = _args(torch.float32)
    big = torch.full((37, 40), 7.0)
    out = big[:, 5:34]  # a column slice: not contiguous
    r = gemm.linear(x, w, b, out=out)
    assert r.data_ptr() == out.data_ptr()
    torch.testing.assert_close(big[:, 5:34], torch.addmm(b, x, w.t()), rtol=1e-5, atol=1e-5)
    assert (big[:, :5] == 7).all() and (big[:, 34:] == 7).all()


def test_float64_and_autograd_take_torchs_own_product():
    x, w, b = _args(torch.float64)
    assert torch.equal(gemm.linear(x, w, b), torch.addmm(b, x, w.t()))  # bit for bit: torch's path
    x, w, b = _args(torch.float32)
    w.requires_grad_(True)
    y = gemm.linear(x, w, b)
    assert y.grad_fn is not None  # differentiable: oneDNN's op has no derivative, so it is not used here
    y.sum().backward()
    torch.testing.assert_close(w.grad, torch.ones(37, 29).t() @ x)


def test_float32_cpu_goes_through_onednn_and_the_switch_turns_it_off(onednn_calls, monkeypatch):
    calls = onednn_calls
    x, w, b = _args(torch.float32)
    gemm.linear(x, w, b)
    assert calls == [1]
    monkeypatch.setattr(gemm, "ENABLED", False)
    assert torch.equal(gemm.linear(x, w, b), torch.addmm(b, x, w.t()))
    assert calls == [1]


def test_a_sub_block_view_takes_torchs_product(onednn_calls, monkeypatch):
    """oneDNN runs a reference kernel, ~300x slower, on a view whose rows are longer than its width."""
    calls = onednn_calls
    h, w = torch.randn(100, 784), torch.randn(500, 784)
    assert torch.equal(gemm.linear(h[:, :130], w[:83, :130]), torch.mm(h[:, :130], w[:83, :130].t()))
    assert calls == []
    gemm.linear(h[:, :130].contiguous(), w[:83, :130].t().contiguous().t())  # dense: transposed is fine
    assert calls == [1]


def test_small_products_take_torchs_product(onednn_calls, monkeypatch):
    """Below MIN_MACS multiply-adds oneDNN's per-call cost loses (a flow's batch-256 step ran 0.65x as fast)."""
    calls = onednn_calls
    monkeypatch.setattr(gemm, "MIN_MACS", REAL_MIN_MACS)
    gemm.linear(torch.randn(256, 64), torch.randn(64, 64))
    assert calls == []
    gemm.linear(torch.randn(4096, 64), torch.randn(64, 64))
    assert calls == [1]


def test_the_library_is_chosen_by_the_machine_not_by_timing():
    """oneDNN only where it was measured faster: AVX-512 kernels on an AMD CPU (2.1-2.3x MKL there); an AVX2
    EPYC and Intel's CPUs keep MKL. A fixed rule, so every process on a machine computes the same bits."""
    from genviz.core import cpu_kernels

    assert cpu_kernels.prefers_onednn_gemm("AVX512", "AuthenticAMD")
    assert not cpu_kernels.prefers_onednn_gemm("AVX2", "AuthenticAMD")
    assert not cpu_kernels.prefers_onednn_gemm("AVX512", "GenuineIntel")
    assert not cpu_kernels.prefers_onednn_gemm("DEFAULT", "")
    assert cpu_kernels.ONEDNN_GEMM == cpu_kernels.prefers_onednn_gemm(cpu_kernels.capability(), cpu_kernels.vendor())
