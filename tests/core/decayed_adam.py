"""The reference for genviz's weight decay: torch's for-loop Adam with the model's decayed_parameters() in a group
with Adam's own weight_decay and every other parameter in a group without it."""
from __future__ import annotations

import torch


def decayed_adam(model, train) -> torch.optim.Adam:
    weights = {id(p) for p in model.decayed_parameters()}
    return torch.optim.Adam([{"params": [p for p in model.parameters() if id(p) in weights],
                              "weight_decay": train.weight_decay},
                             {"params": [p for p in model.parameters() if id(p) not in weights]}],
                            lr=train.lr, foreach=False)
