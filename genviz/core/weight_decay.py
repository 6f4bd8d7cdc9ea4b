"""Weight decay as genviz applies it: an L2 (and optionally L1) pull on a model's weights, never on its biases or
scales.

TrainConfig.weight_decay = λ adds λ·w to the gradient of each weight just before the optimizer's step: the
term Adam's own weight_decay adds, on `model.decayed_parameters()` only (nanoGPT's rule by default: tensors of
two or more dimensions). TrainConfig.l1 = μ adds μ·sign(w), the gradient of μ·|w|: a Laplace prior, under
which weak weights go to 0 (FVSBN on fixed-binarized MNIST: L1 beat every L2 strength, README Benchmarks).
A bias pulled towards 0 is a prior that every output is on half the time; FVSBN's
border pixels are almost always off, and decaying its biases cost ~0.12 nats of test NLL on binarized MNIST
(bench_papers' recipe, weight_decay 1e-4, plain loop: 97.87 -> 97.75). MADE 1 x 500's row did not move (90.90 ->
90.89, through a Session); why the one gains and the other does not was not studied.

A step pre-hook rather than two Adam groups: a second group would take the flows off FlatAdam's one-group fast
path, and change the layout of every optimizer state saved before. Each group carries its λ as "l2" (written by
session.apply_optimizer_settings, the one owner of lr and decay) and its μ as "l1"; Adam's own weight_decay
stays 0.
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
        l2, l1 = group.get("l2", 0.0), group.get("l1", 0.0)
        for w in ws:
            if w.grad is None:  # Adam skips a parameter without a gradient; so does its decay
                continue
            if l2:
                w.grad.add_(w, alpha=l2)
            if l1:  # the subgradient of l1·|w| (0 at w = 0: a masked-out weight stays put)
                w.grad.add_(torch.sign(w), alpha=l1)
