"""Coupling layers: half the coordinates pass unchanged and condition a transform of the other half.

The maths is written with a 0/1 mask m (1 = kept): x = m⊙z + (1−m)⊙(...). The code computes the same
numbers without multiplying by the mask: it takes the transformed coordinates (a view), transforms them and
interleaves them back with the kept ones, so each layer runs fewer small ops. The network still reads m⊙z
and computes all of its outputs: feeding it only the kept coordinates, or computing only the used output
rows, changes the matmul kernels' summation order (last-bit differences), and the parameters keep their
shapes, so old checkpoints and optimizer states still fit. tests/core/test_flows_fast_path.py checks the
outputs and gradients against the masked formula bit for bit.
"""
from __future__ import annotations

import torch
from torch import nn


def mlp(d_in: int, d_out: int, hidden: int, depth: int, act=nn.ReLU, zero_last: bool = True) -> nn.Sequential:
    """depth hidden layers of width hidden; the last layer starts at zero so a new flow is the identity.

    ReLU runs in place on its Linear's fresh output (which nothing else keeps): the same numbers, one
    (batch, hidden) allocation less per layer, which shows at large batches.
    """
    layers, d = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), act(inplace=True) if act is nn.ReLU else act()]
        d = hidden
    last = nn.Linear(d, d_out)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


def _index(idx: torch.Tensor):
    """A slice when idx is an increasing arithmetic progression (indexing then gives a view), else idx."""
    v = idx.tolist()
    if not v:
        return idx
    step = v[1] - v[0] if len(v) > 1 else 1
    if step > 0 and all(b - a == step for a, b in zip(v, v[1:])):
        return slice(v[0], v[-1] + 1, step)
    return idx


class _Coupling(nn.Module):
    """A mask's split into kept (`_keep`) and transformed (`_out`) coordinates, and the merge back."""

    def __init__(self, mask: torch.Tensor, net: nn.Sequential):
        super().__init__()
        self.register_buffer("mask", mask.float())
        self.net = net
        self._split()

    def _split(self) -> None:
        m = self.mask.detach().cpu() > 0.5
        dim = m.numel()
        keep, out = m.nonzero().flatten(), (~m).nonzero().flatten()
        self._keep, self._out = _index(keep), _index(out)
        # the indices as non-persistent buffers (they follow .to(device)), used where no slice fits
        for name, i in (("_keep_i", keep), ("_out_i", out)):
            self.register_buffer(name, i.to(self.mask.device), persistent=False)
        # 2·k coordinates kept and transformed alternately: interleave with one stack instead of a scatter
        first = int(keep[0]) if len(keep) else 0
        self._interleave = (dim % 2 == 0 and keep.tolist() == list(range(first, dim, 2))
                            and out.tolist() == list(range(1 - first, dim, 2)))
        self._keep_first = first == 0

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._split()  # a loaded mask (e.g. a random partition drawn under another seed) may differ

    def _ix(self, name):
        i = getattr(self, name)
        return i if isinstance(i, slice) else getattr(self, name + "_i")

    def _merge(self, z, z_keep, y):
        """z with its transformed coordinates replaced by y."""
        if self._interleave:
            pair = (z_keep, y) if self._keep_first else (y, z_keep)
            return torch.stack(pair, 2).flatten(1)
        x = z.clone()
        x[:, self._ix("_out")] = y
        return x


class AffineCoupling(_Coupling):
    """x = m⊙z + (1−m)⊙(z·exp(s(m⊙z)) + t(m⊙z)); log|det| = Σ(1−m)⊙s.

    s = scale · tanh(raw / scale) keeps |s| ≤ scale (a learnable per-dimension bound), which avoids the
    exp(s) blow-ups that make plain RealNVP diverge early in training.
    """

    def __init__(self, mask: torch.Tensor, hidden: int = 64, depth: int = 2):
        dim = mask.numel()
        super().__init__(mask, mlp(dim, 2 * dim, hidden, depth))
        self.scale = nn.Parameter(torch.full((dim,), 2.0))

    def _split(self) -> None:
        super()._split()
        # Σ over ≤ 2 nonzero terms is exact in any order; beyond that sum the masked row, as the formula does
        self._sum_out = len(self._out_i) <= 2

    def _s_t(self, z):
        """(s, t, log|det|) at the transformed coordinates."""
        out = self._ix("_out")
        s_raw, t = self.net(z * self.mask).chunk(2, dim=1)
        # the bound on all coordinates (the grad of `scale` is then a sum over the same (batch, dim) numbers)
        s_all = self.scale * torch.tanh(s_raw / self.scale)
        s = s_all[:, out]
        log_det = s.sum(1) if self._sum_out else (s_all * (1 - self.mask)).sum(1)
        return s, t[:, out], log_det

    def forward(self, z):
        z_keep, z_out = z[:, self._ix("_keep")], z[:, self._ix("_out")]
        s, t, log_det = self._s_t(z)
        return self._merge(z, z_keep, z_out * torch.exp(s) + t), log_det

    def inverse(self, x):
        x_keep, x_out = x[:, self._ix("_keep")], x[:, self._ix("_out")]
        s, t, log_det = self._s_t(x)
        return self._merge(x, x_keep, (x_out - t) * torch.exp(-s)), -log_det


class AdditiveCoupling(_Coupling):
    """NICE: x = m⊙z + (1−m)⊙(z + t(m⊙z)); volume preserving, log|det| = 0."""

    volume_preserving = True  # FlowModel skips adding its zero log-det

    def __init__(self, mask: torch.Tensor, hidden: int = 64, depth: int = 2):
        dim = mask.numel()
        super().__init__(mask, mlp(dim, dim, hidden, depth))

    def forward(self, z):
        z_keep, z_out = z[:, self._ix("_keep")], z[:, self._ix("_out")]
        t = self.net(z * self.mask)[:, self._ix("_out")]
        return self._merge(z, z_keep, z_out + t), z.new_zeros(len(z))

    def inverse(self, x):
        x_keep, x_out = x[:, self._ix("_keep")], x[:, self._ix("_out")]
        t = self.net(x * self.mask)[:, self._ix("_out")]
        return self._merge(x, x_keep, x_out - t), x.new_zeros(len(x))


def alternating_masks(dim: int, n: int) -> list[torch.Tensor]:
    """Checkerboard masks that flip each layer, so every coordinate gets transformed."""
    base = (torch.arange(dim) % 2).float()
    return [base if i % 2 == 0 else 1 - base for i in range(n)]


def random_masks(dim: int, n: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Random half/half partitions (each layer a fresh one)."""
    out = []
    for _ in range(n):
        m = torch.zeros(dim)
        m[torch.randperm(dim, generator=generator)[: dim // 2]] = 1
        out.append(m)
    return out
