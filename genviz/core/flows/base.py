"""A flow model = base distribution + a list of invertible layers, generative direction z -> x.

`log_prob(x)` runs the layers' inverses from data back to base space and adds their log-dets:
log p_X(x) = log p_Z(f⁻¹(x)) + log |det ∂f⁻¹/∂x|.
"""
from __future__ import annotations

import torch
from torch import nn

from genviz.core.flows import viz
from genviz.core.flows.flat_adam import FlatAdam
from genviz.core.model import GenerativeModel, standard_normal_log_prob


class StandardNormal(nn.Module):
    """N(0, I) over `dim` dimensions."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.register_buffer("_anchor", torch.zeros(()))  # gives the module a device

    def log_prob(self, z):
        return standard_normal_log_prob(z)

    def sample(self, n, generator=None):
        return torch.randn(n, self.dim, device=self._anchor.device, dtype=self._anchor.dtype, generator=generator)


class DiagGaussian(nn.Module):
    """N(mu, diag(exp(2 log_sigma))) with learnable mu and log_sigma."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mu = nn.Parameter(torch.zeros(dim))
        self.log_sigma = nn.Parameter(torch.zeros(dim))

    def log_prob(self, z):
        u = (z - self.mu) * torch.exp(-self.log_sigma)
        return standard_normal_log_prob(u) - self.log_sigma.sum()

    def sample(self, n, generator=None):
        eps = torch.randn(n, self.dim, device=self.mu.device, dtype=self.mu.dtype, generator=generator)
        return self.mu + eps * torch.exp(self.log_sigma)


def make_base(kind: str, dim: int) -> nn.Module:
    return DiagGaussian(dim) if kind == "diag" else StandardNormal(dim)


def _add_log_det(total, layer, ld):
    """total + ld, skipping the zeros of volume-preserving layers and the add to the first term (adding an
    exact zero changes no number, so the sum is the same as 0 + ld₁ + ld₂ + ...)."""
    if getattr(layer, "volume_preserving", False):
        return total
    return ld if total is None else total + ld


def _log_det_tensor(total, like):
    if total is None:
        return like.new_zeros(len(like))
    return total.contiguous() if total.stride(0) == 0 else total  # a layer's .expand() is not a sum to keep


class FlowModel(GenerativeModel):
    """Base + layers. Subclasses build `self.layers` (an nn.ModuleList) in __init__."""

    family = "flows"
    layers: nn.ModuleList
    layer_inverse = "inverse"  # the layer method that pulls data back (planar flows solve it numerically)

    def forward_with_trace(self, z):
        """Push base samples through every layer: [z0, z1, ..., x] and the summed log-det."""
        trace, total = [z], None
        for layer in self.layers:
            z, ld = layer(z)
            trace.append(z)
            total = _add_log_det(total, layer, ld)
        return trace, _log_det_tensor(total, z)

    def inverse_with_trace(self, x):
        """Pull data back layer by layer: [x, ..., z0] and the summed log-det of the inverse."""
        trace, total = [x], None
        for layer in reversed(self.layers):
            x, ld = getattr(layer, self.layer_inverse)(x)
            trace.append(x)
            total = _add_log_det(total, layer, ld)
        return trace, _log_det_tensor(total, x)

    def configure_optimizers(self, train):
        # Adam run once over flat buffers instead of once per small tensor; the same numbers (see flat_adam)
        return [FlatAdam(self.parameters(), lr=train.lr)]

    def train_step(self, x, optimizers, train):
        """The plain step, with the loss and gradients from fused_step (no autograd graph) where it covers
        this model; anything it does not cover takes GenerativeModel's autograd step."""
        from genviz.core.flows import fused_step  # it imports the layer modules, which import this one

        ws = fused_step.plan(self, x) if len(optimizers) == 1 else None
        if ws is None:
            return super().train_step(x, optimizers, train)
        (opt,) = optimizers
        if isinstance(opt, FlatAdam) and any(p.grad is None for p in ws.params):  # a run's (or resume's) first step
            opt.bind()  # the gradients at the addresses of every later step: the same rounding (see bind)
        loss = fused_step.nll_and_grads(self, x, ws)  # sets every entry of every grad: no zero_grad needed
        if train.grad_clip > 0:
            nn.utils.clip_grad_norm_(ws.params, train.grad_clip)  # self.parameters(), in the same order
        opt.step()
        return {"loss": loss, "nll": loss}

    def log_prob(self, x):
        if not torch.is_grad_enabled():  # no graph: one set of buffers for all layers, the same numbers
            from genviz.core.flows import fused_eval

            out = fused_eval.log_prob(self, x)
            if out is not None:
                return out
        trace, ld = self.inverse_with_trace(x)
        return self.base.log_prob(trace[-1]) + ld

    def sample(self, n: int, generator=None):
        if not torch.is_grad_enabled():
            from genviz.core.flows import fused_eval

            out = fused_eval.sample(self, n, generator)
            if out is not None:
                return out
        z = self.base.sample(n, generator)
        return self.forward_with_trace(z)[0][-1]

    def visualize(self, data, view):
        """Density, samples and the layer-by-layer traces the flows panel draws (see flows.viz)."""
        return viz.flow_arrays(self, data, view)
