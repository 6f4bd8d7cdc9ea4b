"""What the binary autoregressive models (FVSBN, MADE) share: exact log-likelihood, ancestral sampling in the
model's order, the measured Jacobian and the arrays the panel draws.

A subclass provides `logits(x) -> (B, D)` where logit d depends only on the variables before d in `self.order`
(that is what makes p(x) = Π_d Bernoulli(x_d; σ(logit_d)) normalized); everything else follows from it.
Sampling may be made incremental by overriding `sampling_state` / `next_logit` / `after_draw`.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from genviz.core import fast_ops
from genviz.core.autoregressive.orders import image_hw, positions
from genviz.core.model import GenerativeModel

UNDRAWN = -1.0  # value of a variable not yet generated in `reveal`


class AutoregressiveModel(GenerativeModel):
    """Bernoulli conditionals over D = prod(data_shape) binary variables; x may be (B, D) or (B, *data_shape)."""

    family = "autoregressive"
    order: torch.Tensor  # (D,) long, order[t] = variable generated t-th

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) in nats, (B,): Σ_d log Bernoulli(x_d; σ(logit_d(x_<d)))."""
        x = x.flatten(1)  # fast_ops: the stock float32 Bernoulli log-likelihood costs ~2 ms a batch on a CPU
        return fast_ops.log_bernoulli_with_logits(x, self.logits(x))

    # -- sampling, one variable at a time in the order ------------------------------------------------
    def sampling_state(self, x: torch.Tensor):
        return None

    def next_logit(self, x: torch.Tensor, d: int, state):
        """Logit of variable d given the variables already drawn into x; (B,). Default: a full pass."""
        return self.logits(x)[:, d]

    def after_draw(self, x: torch.Tensor, d: int, state):
        return state

    @torch.no_grad()
    def sample_in_order(self, n: int, generator: torch.Generator | None = None):
        """Ancestral sampling: (x (n, D) in {0,1}, p (n, D)) with p[:, d] = p(x_d = 1 | x_<d) when d was drawn."""
        dev = self.device
        dtype = next(self.parameters()).dtype
        u = torch.rand(n, self.data_dim, generator=generator, dtype=dtype).to(dev)  # CPU generator: same on any device
        x = torch.zeros(n, self.data_dim, device=dev, dtype=dtype)
        p = torch.zeros_like(x)
        state = self.sampling_state(x)
        for d in self.order.tolist():
            p[:, d] = torch.sigmoid(self.next_logit(x, d, state))
            x[:, d] = (u[:, d] < p[:, d]).to(dtype)
            state = self.after_draw(x, d, state)
        return x, p

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n binary examples, (n, *data_shape), each drawn variable by variable in the model's order."""
        return self.sample_in_order(n, generator)[0].reshape(n, *self.data_shape)

    @staticmethod
    def reveal(x: torch.Tensor, order: torch.Tensor, t: int) -> torch.Tensor:
        """The intermediate state after t sampling steps: variables order[:t] as drawn, the rest UNDRAWN."""
        out = torch.full_like(x, UNDRAWN)
        idx = order[:t]
        out[:, idx] = x[:, idx]
        return out

    # -- inspection -------------------------------------------------------------------------------------
    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """Measured ∂logit_i/∂x_j at one input x (D,), by autograd: (D, D), variable coordinates."""
        with torch.enable_grad():
            return torch.autograd.functional.jacobian(lambda v: self.logits(v[None])[0], x, vectorize=True)

    def in_order(self, m: torch.Tensor) -> torch.Tensor:
        """A (D, D) matrix over variables re-indexed by generation step: triangular for an autoregressive map."""
        o = self.order.to(m.device)
        return m[o][:, o]

    def visualize(self, data, view: dict) -> dict[str, np.ndarray]:
        """Ordering, measured Jacobian, a sample grid and one sample with its conditionals for the animation."""
        dev = self.device
        h, w = image_hw(self.data_shape)
        x0 = _fixed_example(data, dev).to(self.dtype)
        jac = self.jacobian(x0).abs()
        pixel = int(view.get("pixel", self.data_dim // 2 + w // 2)) % self.data_dim
        g = torch.Generator().manual_seed(int(view.get("sample_seed", 0)))
        n_grid = int(view.get("n_grid", 16))
        drawn = self.sample(n_grid, g).reshape(n_grid, 1, h, w)
        grid = _image_grid(drawn)
        anim_x, anim_p = self.sample_in_order(1, torch.Generator().manual_seed(int(view.get("anim_seed", 1))))
        out = {"ordering": positions(self.order).reshape(h, w).float().cpu().numpy(),
               "jacobian": self.in_order(jac).float().cpu().numpy(),
               "receptive_field": jac[pixel].reshape(h, w).float().cpu().numpy(),
               "pixel": float(pixel),
               "sample_grid": grid, "samples": drawn[:, 0].float().cpu().numpy(),  # the grid's, for export
               "anim_sample": anim_x[0].cpu().numpy(), "anim_probs": anim_p[0].cpu().numpy(),
               "order": self.order.float().cpu().numpy()}
        return out


def _fixed_example(data, device) -> torch.Tensor:
    """One validation example, binarized with a fixed seed: the input at which the Jacobian is measured."""
    x = data.val[:1].flatten(1).float().cpu()
    if getattr(data, "binarize", False):
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(0))
    return x[0].to(device)


def _image_grid(x: torch.Tensor) -> np.ndarray:
    """(n, 1, h, w) -> one (H, W) float image of a square-ish grid (torchvision's make_grid, 1 px padding)."""
    from torchvision.utils import make_grid

    nrow = max(1, int(math.ceil(math.sqrt(len(x)))))
    return make_grid(x.float().cpu(), nrow=nrow, padding=1, pad_value=0.5)[0].numpy()
