"""Adam as one vectorized kernel per parameter tensor: torch's fused Adam, where this torch has it (#17).

torch.optim.Adam(fused=True) runs each tensor's whole update (both moments, the bias corrections, the square
root and the step) in one pass over memory; the for-loop form, and FlatAdam's (flows/flat_adam.py), make about
ten passes. For a model of a few large weight matrices that is most of the optimizer's time: MADE on MNIST
(1.4M weights) ~3.4 -> ~1.0 ms a step, the 784-400-20 VAE ~1.0 -> ~0.35 ms (one CPU thread). The formulas
are Adam's; the fused kernel rounds some intermediate steps differently, so parameters agree with the
for-loop's to float rounding, not bit for bit (tests/core/test_made_staircase.py and test_vae_mlp_step.py
train both ways). Masked-out weights of a MADE get zero gradients, so with weight_decay 0 their moments stay
exactly zero and the weights unchanged, as with the for-loop (Adam's L2 term moves them on both paths). A torch without fused Adam for these parameters' device
(before 2.4 on a CPU), and a float64 model, get FlatAdam. The state_dict is Adam's either way: checkpoints
move between them (each class keeps its own fused setting when it loads the other's state).
"""
from __future__ import annotations

import torch

from genviz.core.flows.flat_adam import FlatAdam


class FusedAdam(torch.optim.Adam):
    """Adam(fused=True) that stays fused when it loads a state saved by another Adam (an older run's
    checkpoint from FlatAdam or the for-loop: their groups say fused=None, which would be taken over)."""

    def __init__(self, params, lr: float = 1e-3, **kwargs):
        super().__init__(params, lr=lr, fused=True, **kwargs)

    def load_state_dict(self, state_dict) -> None:
        # marked fused before loading: the saved groups decide where torch puts each `step`, and the fused kernel
        # needs it as a float32 on the parameter's device (a for-loop state's stays on the CPU, which the CUDA
        # kernel refuses: "found at least two devices ... state_steps", pytorch/pytorch#104767)
        groups = [{**g, "fused": True, "foreach": None} for g in state_dict["param_groups"]]
        super().load_state_dict({**state_dict, "param_groups": groups})


class UnfusedAdam(FlatAdam):
    """FlatAdam that stays unfused when it loads a fused run's state (its groups say fused=True): a run written
    where torch has fused Adam and resumed under one without it (< 2.4) would otherwise call it and fail."""

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["fused"], group["foreach"] = None, False


def adam(params, lr: float) -> torch.optim.Adam:
    params = list(params)
    if any(p.dtype != torch.float32 for p in params):  # the fused kernel counts steps in a float32 tensor
        return UnfusedAdam(params, lr=lr)  # (a float64 model would mix dtypes: the float64 contract test)
    try:
        return FusedAdam(params, lr=lr)
    except (RuntimeError, ValueError, TypeError):  # this torch has no fused Adam for these tensors
        return UnfusedAdam(params, lr=lr)
