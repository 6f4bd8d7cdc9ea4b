"""Random draws for any device taken from the CPU's streams, so that a CUDA run and a CPU run see the same noise.

CPU and CUDA generators are different algorithms (mt19937 against Philox): seeded alike, a run's VAE ε, GAN z
and Langevin noise differ between devices, and so would everything trained on them. Under `RandomOnCpu` every
draw meant for a CUDA tensor is made on the CPU, from the CPU global generator (a run's `TrainingStream` swaps
its CPU state in as it does on a CPU run) or from a CPU twin of the CUDA generator passed (seeded the same), and
then moved. What is left between the two runs is the arithmetic itself, which is what test_cuda.py compares.

`always=True` sends CPU draws through the same copies too: on a machine without CUDA the mechanics can still
be checked (the numbers must then be bit for bit those of a plain run).
"""
from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

T = torch.Tensor
# new tensors from a device= argument (or the default device)
FACTORIES = {torch.randn, torch.rand, torch.randint, torch.randperm, torch.normal}
# tensors drawn from (or shaped like) an input tensor
ON_INPUT = {torch.randn_like, torch.rand_like, torch.randint_like, torch.bernoulli, torch.multinomial,
            torch.poisson, torch.normal, T.bernoulli, T.multinomial}
IN_PLACE = {T.uniform_, T.normal_, T.bernoulli_, T.exponential_, T.random_, T.cauchy_, T.log_normal_,
            T.geometric_}


class RandomOnCpu(TorchFunctionMode):
    def __init__(self, always: bool = False):
        super().__init__()
        self.always = always
        self.twins: dict[int, tuple[torch.Generator, torch.Generator]] = {}
        self.redirected = 0  # draws that went through the CPU (a test can check the mode saw any)

    def _moves(self, device) -> bool:
        return self.always or (device is not None and torch.device(device).type != "cpu")

    def _cpu_generator(self, g):
        if g is None or g.device.type == "cpu":
            return g
        # keyed by id with the CUDA generator kept alive, so that a freed generator's id is never reused
        if id(g) not in self.twins:
            self.twins[id(g)] = (g, torch.Generator().manual_seed(g.initial_seed()))
        return self.twins[id(g)][1]

    def _cpu_args(self, args, kwargs):
        args = tree_map(lambda a: a.cpu() if isinstance(a, T) else a, args)
        kwargs = tree_map(lambda a: a.cpu() if isinstance(a, T) else a, kwargs)
        if "generator" in kwargs:
            kwargs["generator"] = self._cpu_generator(kwargs["generator"])
        if "device" in kwargs:
            kwargs["device"] = "cpu"
        return args, kwargs

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        tensors = [a for a in args if isinstance(a, T)]
        if func in IN_PLACE:
            x = args[0]
            if not self._moves(x.device):
                return func(*args, **kwargs)
            self.redirected += 1
            cpu = x.detach().cpu()
            rest, kw = self._cpu_args(args[1:], kwargs)
            func(cpu, *rest, **kw)
            with torch.no_grad():
                x.copy_(cpu)
            return x
        if func in ON_INPUT and tensors:
            device = tensors[0].device
        elif func in FACTORIES:
            device = kwargs.get("device") or torch.get_default_device()
        else:
            return func(*args, **kwargs)
        if not self._moves(device):
            return func(*args, **kwargs)
        self.redirected += 1
        args, kw = self._cpu_args(args, kwargs)
        return func(*args, **kw).to(device)
