"""Random streams with one owner each: a run's training stream, seeded construction, saved states.

Models draw their training noise (VAE ε, GAN z, dropout, ...) from torch's global generator, so that a
model's `loss` stays plain PyTorch. The Session owns that stream: `TrainingStream` keeps the run's own
state and swaps it into the global generator only while a training step runs, then swaps the caller's
state back. Everything else (validation, views, labs, other threads' code) must use its own
`torch.Generator`; it then neither disturbs the run nor replays it, and a checkpoint that stores the
stream's state resumes it exactly.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import torch

# torch's global generator is process-wide: whoever swaps its state (a run's training step on the worker
# thread, a seeded build on the GUI thread) holds this lock, so the two can never interleave.
_GLOBAL = threading.RLock()


@contextmanager
def seeded(seed: int, device: torch.device | str | None = None):
    """Run a block (e.g. weight initialisation) on a generator seeded `seed`; the global state is restored after."""
    devices = _cuda_devices(device)
    with _GLOBAL, torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


def _cuda_devices(device) -> list[int]:
    if device is None:
        return []
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


class TrainingStream:
    """A run's training noise: `with stream:` makes it the global generator's state for one step.

    `state()` / `load(state)` give and take plain tensors for checkpoints. Exceptions inside the block
    (a dying torchrun peer, an out-of-memory step) roll the stream back to where the step started, so a
    checkpoint written after a failed step is the state before it.
    """

    def __init__(self, seed: int, device: torch.device | str = "cpu"):
        self.devices = _cuda_devices(device)
        with _GLOBAL, torch.random.fork_rng(devices=self.devices):
            torch.manual_seed(int(seed))
            self._cpu = torch.get_rng_state()
            self._cuda = [torch.cuda.get_rng_state(d) for d in self.devices]
        self._outer = None

    def __enter__(self):
        _GLOBAL.acquire()
        self._outer = (torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in self.devices])
        torch.set_rng_state(self._cpu)
        for d, s in zip(self.devices, self._cuda):
            torch.cuda.set_rng_state(s, d)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:  # keep where the step left the stream; on failure keep the pre-step state
            self._cpu = torch.get_rng_state()
            self._cuda = [torch.cuda.get_rng_state(d) for d in self.devices]
        cpu, cuda = self._outer
        torch.set_rng_state(cpu)
        for d, s in zip(self.devices, cuda):
            torch.cuda.set_rng_state(s, d)
        self._outer = None
        _GLOBAL.release()
        return False

    def state(self) -> dict:
        return {"cpu": self._cpu.clone(), "cuda": [s.clone() for s in self._cuda]}

    def load(self, state: dict) -> None:
        cpu = state["cpu"]
        if not isinstance(cpu, torch.Tensor) or cpu.dtype != torch.uint8:
            raise ValueError("the training stream's state must be a uint8 tensor")
        self._cpu = cpu.clone()
        cuda = list(state.get("cuda") or [])
        if len(cuda) == len(self.devices):  # a CUDA state only resumes on the same number of devices
            self._cuda = [s.clone() for s in cuda]


def generator_state(g: torch.Generator) -> torch.Tensor:
    return g.get_state().clone()


def load_generator_state(g: torch.Generator, state) -> None:
    if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8:
        raise ValueError("a generator state must be a uint8 tensor")
    g.set_state(state.clone())
