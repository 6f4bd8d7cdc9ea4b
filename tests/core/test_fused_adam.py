"""fused_adam.FusedAdam loading a state saved by the for-loop Adam or FlatAdam (an older run's checkpoint).

torch decides where a loaded `step` lives from the saved groups' `fused` flag: the fused kernel needs a float32
on the parameter's device, and on a GPU refuses the for-loop's CPU step (pytorch/pytorch#104767).
"""
from __future__ import annotations

import copy

import pytest
import torch

from genviz.core import fused_adam


def _for_loop_state(params, step_dtype=torch.float32):
    opt = torch.optim.Adam(params, lr=1e-2, foreach=False)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    saved = copy.deepcopy(opt.state_dict())
    for st in saved["state"].values():  # as the for-loop saves it under a float64 default dtype
        st["step"] = st["step"].to(step_dtype)
    return saved


def test_a_for_loop_states_step_is_loaded_as_the_fused_kernel_holds_it():
    params = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(3))]
    opt = fused_adam.FusedAdam(params, lr=1e-2)
    opt.load_state_dict(_for_loop_state(params, torch.float64))
    assert opt.param_groups[0]["fused"] and opt.param_groups[0]["foreach"] is None
    for p in params:
        step = opt.state[p]["step"]
        assert step.dtype == torch.float32 and step.device == p.device and float(step) == 1.0
    opt.step()
    assert all(float(opt.state[p]["step"]) == 2.0 for p in params)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_for_loop_state_resumes_fused_on_a_gpu():
    params = [torch.nn.Parameter(torch.randn(4, 3, device="cuda"))]
    saved = _for_loop_state(params)
    assert saved["state"][0]["step"].device.type == "cpu"  # the for-loop keeps its step on the CPU
    opt = fused_adam.FusedAdam(params, lr=1e-2)
    opt.load_state_dict(saved)
    params[0].grad = torch.ones_like(params[0])
    opt.step()  # the CUDA kernel would refuse a CPU step
    assert opt.state[params[0]]["step"].device == params[0].device and float(opt.state[params[0]]["step"]) == 2.0
