"""Weight decay as genviz applies it: an L2 pull on a model's weights, never on its biases or scales.

TrainConfig.weight_decay = λ adds λ·w to the gradient of each weight just before the optimizer's step: the
term Adam's own weight_decay adds, on `model.decayed_parameters()` only (nanoGPT's rule by default: tensors of
two or more dimensions). A bias pulled towards 0 is a prior that every output is on half the time; FVSBN's
border pixels are almost always off, and decaying its biases cost ~0.12 nats of test NLL on binarized MNIST
(bench_papers' recipe, weight_decay 1e-4, plain loop: 97.87 -> 97.75). MADE 1 x 500's row did not move (90.90 ->
90.89, through a Session); why the one gains and the other does not was not studied.

A step pre-hook rather than two Adam groups: a second group would take the flows off FlatAdam's one-group fast
path, and change the layout of every optimizer state saved before. Each group carries its λ as "l2" (written by
session.apply_optimizer_settings, the one owner of lr and decay); Adam's own weight_decay stays 0.
"""
from __future__ import annotations

import torch


def attach(model: torch.nn.Module, optimizers) -> None:
    """Give each optimizer the pull on the weights `model` names (strength: each group's "l2", 0 = off)."""
    decayed = {id(p) for p in model.decayed_parameters()}
    for opt in optimizers:
        weights = [[p for p in g["params"] if id(p) in decayed] for g in opt.param_groups]
        opt.register_step_pre_hook(lambda o, args, kwargs, weights=weights: _pull(o, weights))
        opt.decays_weights = True


@torch.no_grad()
def _pull(opt, weights) -> None:
    for group, ws in zip(opt.param_groups, weights):
        lam = group.get("l2", 0.0)
        if lam:
            for w in ws:
                if w.grad is not None:  # Adam skips a parameter without a gradient; so does its decay
                    w.grad.add_(w, alpha=lam)
