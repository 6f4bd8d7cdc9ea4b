"""Adam over one flat buffer: the same update as torch.optim.Adam, run once instead of once per parameter.

A small flow has dozens of small parameter tensors, and on a CPU Adam's for-loop (and its foreach form,
which loops in C++) costs about ten kernel launches per tensor: a quarter of a RealNVP training step. Here
the parameters, their gradients and Adam's two moments are views into four flat buffers, so one update of
each buffer does the work. Adam's update is elementwise, so the numbers are the for-loop's, bit for bit
(tests/core/test_flows_fast_path.py).

The optimizer stays a torch.optim.Adam: its state_dict holds one entry per parameter, as before, so
checkpoints written with plain Adam load here and the other way round. Whatever breaks the views (a
checkpoint loaded, grads set to None, the model moved or cast) is noticed at the next step, which then
copies everything back into fresh buffers; anything this path does not cover (several groups, amsgrad,
parameters without a gradient, mixed dtypes or devices) takes torch's own step. Frozen parameters
(requires_grad False) are left out, as torch's Adam skips them (they never get a gradient).

The update runs torch's for-loop formulas in place, with the denominator written into a buffer kept between
steps: for a large model (MADE on MNIST: 1.4M weights) the for-loop's two fresh tensors per parameter and
step cost more than their arithmetic (fresh pages from the allocator each time). torch's CPU sqrt takes
~10x longer on an exact zero than on a positive number, and a masked model's second moments are half zeros
(masked weights never get a gradient): there the step takes sqrt(v + 1) - 1 = 0, and everywhere else adds
and subtracts an exact 0, so every entry is still torch's sqrt(v) (MADE's Adam sqrt: ~11 -> ~2 ms).
"""
from __future__ import annotations

import torch
from torch.optim.adam import adam
from torch.optim.optimizer import _get_scalar_dtype


class FlatAdam(torch.optim.Adam):
    def __init__(self, params, lr: float = 1e-3, **kwargs):
        super().__init__(params, lr=lr, foreach=False, **kwargs)
        self._flat = None  # (params, grads, exp_avgs, exp_avg_sqs, step, denominator, zero flags) once bound
        self._views: list = []

    def _params(self):
        return [p for p in self.param_groups[0]["params"] if p.requires_grad]

    def _is_bound(self) -> bool:
        """Every parameter, grad and moment is still the view _bind made (identity checks: cheap)."""
        if self._flat is None:
            return False
        step, views = self._flat[4], self._views
        ps = self._params()
        if len(ps) != len(views):
            return False
        for p, (ptr, g, m, v) in zip(ps, views):
            st = self.state.get(p)
            if (p.grad is not g or p.data_ptr() != ptr or not st or st["exp_avg"] is not m
                    or st["exp_avg_sq"] is not v or st["step"] is not step):
                return False
        return True

    def _group_supported(self) -> bool:
        """The group's settings allow this path (they may change between steps; cheap to check)."""
        if len(self.param_groups) != 1:
            return False
        g = self.param_groups[0]
        return not (g["amsgrad"] or g["capturable"] or g["differentiable"] or g.get("fused")
                    or g.get("decoupled_weight_decay"))

    def _supported(self) -> bool:
        if not self._group_supported():
            return False
        ps = self._params()
        if not ps or any(p.grad is None or p.grad.is_sparse or p.is_complex() for p in ps):
            return False
        first = ps[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in ps):
            return False
        states = [self.state.get(p) for p in ps]
        if any(states) and not all(states):  # some parameters were stepped and others not
            return False
        return not any(states) or len({float(s["step"]) for s in states}) == 1

    @torch.no_grad()
    def _bind(self) -> None:
        """Copy parameters, grads and moments into flat buffers and make each a view of them."""
        ps = self._params()
        states = [self.state.get(p) for p in ps]
        fp = torch.cat([p.detach().reshape(-1) for p in ps])
        fg = torch.cat([p.grad.reshape(-1) for p in ps])
        if all(states):
            fm = torch.cat([s["exp_avg"].reshape(-1).to(fp) for s in states])
            fv = torch.cat([s["exp_avg_sq"].reshape(-1).to(fp) for s in states])
            step = states[0]["step"].detach().clone()
        else:
            fm, fv = torch.zeros_like(fp), torch.zeros_like(fp)
            step = torch.tensor(0.0, dtype=_get_scalar_dtype())  # as Adam's own first step makes it
        at, views = 0, []
        for p in ps:
            n = p.numel()
            p.data = fp[at:at + n].view_as(p)
            p.grad = fg[at:at + n].view_as(p)
            st = self.state[p]
            st["step"] = step
            st["exp_avg"] = fm[at:at + n].view_as(p)
            st["exp_avg_sq"] = fv[at:at + n].view_as(p)
            views.append((p.data_ptr(), p.grad, st["exp_avg"], st["exp_avg_sq"]))
            at += n
        self._flat, self._views = (fp, fg, fm, fv, step, torch.empty_like(fp), torch.empty_like(fp)), views

    def state_dict(self):
        """Adam's state_dict; each parameter gets its own step tensor (here they share one, and a plain Adam
        that loaded a shared one would count every step once per parameter)."""
        sd = super().state_dict()
        sd["state"] = {k: {**v, "step": v["step"].clone()} if "step" in v else v for k, v in sd["state"].items()}
        return sd

    @torch.no_grad()
    def bind(self) -> None:
        """Make the gradients the flat buffer's views now, before a step writes into them (fused_step writes
        its products straight into p.grad, and MKL rounds a product by its output's address: a resumed run's
        first step, written into fresh tensors, differed in the last bits from the straight run's, written into
        the views). Where the flat path does not apply, the gradients are left as zeros."""
        for p in self._params():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        if not self._is_bound() and self._supported():
            self._bind()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the flat gradient in one op (the views stay: the next backward adds into them)."""
        if self._is_bound():
            self._flat[1].zero_()
        else:
            super().zero_grad(set_to_none)

    @torch.no_grad()
    def step(self, closure=None):
        # bound views imply _supported's per-parameter checks (dense grads, one dtype, states stepped together):
        # the common case skips them, which cost a third of a small flow's step
        bound = closure is None and self._group_supported() and self._is_bound()
        if not bound:
            if closure is not None or not self._supported():
                self._flat = None
                return super().step(closure)
            self._bind()
        fp, fg, fm, fv, step, denom, zero = self._flat
        g = self.param_groups[0]
        (beta1, beta2), lr = g["betas"], g["lr"]
        if g["weight_decay"] or g["maximize"] or any(isinstance(v, torch.Tensor) for v in (beta1, beta2, lr)):
            adam([fp], [fg], [fm], [fv], [], [step], foreach=False, fused=False, capturable=False,
                 differentiable=False, has_complex=False, decoupled_weight_decay=False, amsgrad=False,
                 beta1=beta1, beta2=beta2, lr=lr, weight_decay=g["weight_decay"], eps=g["eps"],
                 maximize=g["maximize"])
            return None
        # torch.optim.adam._single_tensor_adam's steps, op for op, with `denom` written in place
        step += 1
        fm.lerp_(fg, 1 - beta1)
        fv.mul_(beta2).addcmul_(fg, fg, value=1 - beta2)
        t = step.item()
        bias_correction1, bias_correction2 = 1 - beta1 ** t, 1 - beta2 ** t
        torch.eq(fv, 0, out=zero)  # 1.0 where v == 0: sqrt(0 + 1) - 1 = 0, elsewhere sqrt(v + 0) - 0
        torch.add(fv, zero, out=denom).sqrt_().sub_(zero)
        denom.div_(bias_correction2 ** 0.5).add_(g["eps"])
        fp.addcdiv_(fm, denom, value=-(lr / bias_correction1))
        return None
