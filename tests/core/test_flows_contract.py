"""The contract every flow layer meets (like normflows' FlowTest): shapes, round trip, log-det vs autograd.

Each layer is built with its parameters moved away from the identity initialisation (a freshly built
coupling or MADE block is the identity map, for which these checks would be trivially true).
"""
from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian

from genviz.core.flows.actnorm import ActNorm
from genviz.core.flows.coupling import AdditiveCoupling, AffineCoupling, alternating_masks
from genviz.core.flows.maf import MaskedAffine
from genviz.core.flows.permute import Permutation
from genviz.core.flows.planar import PlanarLayer
from genviz.core.flows.scaling import Scaling


LAYERS = {
    "affine_coupling": lambda d: AffineCoupling(alternating_masks(d, 1)[0], hidden=16, depth=2),
    "additive_coupling": lambda d: AdditiveCoupling(alternating_masks(d, 2)[1], hidden=16, depth=2),
    "scaling": Scaling,
    "actnorm": ActNorm,
    "permutation": lambda d: Permutation(torch.randperm(d)),
    "maf_block": lambda d: MaskedAffine(d, (16,), "maf", order=torch.randperm(d)),
    "iaf_block": lambda d: MaskedAffine(d, (16, 16), "iaf", order=torch.randperm(d)),
    "maf_block_tanh": lambda d: MaskedAffine(d, (16,), "maf", order=torch.randperm(d), scale="tanh"),
    "iaf_block_tanh": lambda d: MaskedAffine(d, (16, 16), "iaf", order=torch.randperm(d), scale="tanh"),
    "planar": PlanarLayer,
}
DIMS = (2, 3, 5)
SEEDS = (0, 1, 2)


def make_layer(name: str, dim: int, seed: int) -> torch.nn.Module:
    """The layer with every parameter perturbed by N(0, 0.5²), in eval mode (ActNorm: no data init)."""
    torch.manual_seed(seed)
    layer = LAYERS[name](dim)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return layer.eval()


def inverse(layer, x):
    """The layer's inverse; planar layers have none in closed form, so their numerical one is checked."""
    return layer.inverse_numeric(x) if isinstance(layer, PlanarLayer) else layer.inverse(x)


def points(n: int, dim: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    return (1.5 * torch.randn(n, dim, generator=torch.Generator().manual_seed(seed + 100))).to(dtype)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_shapes_and_dtypes(name, dim, dtype):
    layer = make_layer(name, dim, 0).to(dtype)
    for n in (1, 7):
        z = points(n, dim, 0, dtype)
        x, ld = layer(z)
        assert x.shape == (n, dim) and x.dtype == dtype
        assert ld.shape == (n,) and ld.dtype == dtype
        back, ld_inv = inverse(layer, x)
        assert back.shape == (n, dim) and back.dtype == dtype and ld_inv.shape == (n,)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("seed", SEEDS)
def test_round_trip_float32(name, dim, seed):
    layer = make_layer(name, dim, seed)
    z = points(256, dim, seed)
    # a softplus-scaled MADE block's scale goes down to 1e-3 (as nflows' and zuko's), so undoing it amplifies
    # float32 rounding up to 1000x over its D passes; the float64 checks below hold it to 1e-6
    tol = 3e-3 if name in ("maf_block", "iaf_block") else 1e-4
    with torch.no_grad():
        x, _ = layer(z)
        back, _ = inverse(layer, x)
        assert (back - z).norm(dim=1).max() < tol
        z2, _ = inverse(layer, z)  # and the other way round: f(f⁻¹(x)) = x
        assert (layer(z2)[0] - z).norm(dim=1).max() < tol


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("seed", SEEDS)
def test_log_det_matches_autograd_jacobian(name, dim, seed):
    layer = make_layer(name, dim, seed).double()
    z = points(6, dim, seed, torch.float64)
    _, log_det = layer(z)
    for i in range(len(z)):
        jac = jacobian(lambda v: layer(v[None])[0][0], z[i])
        assert abs(torch.linalg.slogdet(jac).logabsdet - log_det[i]) < 1e-6
    if not isinstance(layer, PlanarLayer):  # exact inverses: their log-det against their own Jacobian
        _, log_det_inv = layer.inverse(z)
        for i in range(len(z)):
            jac = jacobian(lambda v: layer.inverse(v[None])[0][0], z[i])
            assert abs(torch.linalg.slogdet(jac).logabsdet - log_det_inv[i]) < 1e-6


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("seed", SEEDS)
def test_log_det_and_inverse_log_det_cancel(name, dim, seed):
    layer = make_layer(name, dim, seed).double()
    z = points(64, dim, seed, torch.float64)
    with torch.no_grad():
        x, ld = layer(z)
        _, ld_inv = inverse(layer, x)
    assert torch.allclose(ld + ld_inv, torch.zeros_like(ld), atol=1e-8)
    assert ld.abs().max() > 1e-3 or name in ("additive_coupling", "permutation")  # not a trivial identity


def test_layers_are_not_identity_after_perturbation():
    """Guards the contract itself: a perturbed layer really moves points."""
    for name in LAYERS:
        layer = make_layer(name, 3, 0)
        z = points(32, 3, 0)
        with torch.no_grad():
            assert (layer(z)[0] - z).abs().max() > 1e-2, name
