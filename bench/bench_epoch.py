"""VAE and MADE epoch speed on MNIST: genviz's real training path against the loops people write (#17, target 4).

One process, one thread, the same architecture on every side, interleaved repetitions (in each repetition the
sides take turns of 100 steps, in an order that rotates; these machines are shared and noisy), and the median of the per-
repetition ratios of genviz's time to the other side's time for the same number of steps:

  VAE 784-400-20 (one hidden layer of 400 ELUs in encoder and decoder, z = 20), batch 128, Adam 1e-3,
  dynamically binarized MNIST:
    genviz      a core Session, as `genviz train` runs it (registry model, its fetch_batch and train_step,
                held-out metrics at every 100th step and at the start and end, no plot arrays)
    plain       a hand-written loop over preloaded tensors: a permutation per epoch, index, binarize,
                nn.ELU / F.binary_cross_entropy_with_logits, torch.optim.Adam
    DataLoader  the pytorch/examples loop: torchvision MNIST + ToTensor through a DataLoader (shuffle=True),
                then the same model, loss and Adam as `plain`
    targets: genviz ≤ 0.8× plain and ≤ 0.33× DataLoader
  MADE (genviz's default: 784-500-784 with direct connections, one mask set), batch 100:
    genviz      a core Session with the registry's defaults
    plain       a masked-linear loop (weight * mask in every forward) with the same masks, torch.optim.Adam
    target: genviz ≤ 0.8× plain
  NADE (500 hidden units, the NADE paper's), batch 100, `--only nade`:
    genviz      a core Session (its log p(x) and gradient written by hand, autoregressive/nade.py)
    autograd    the same model and batches with log p(x) through its logits and autograd (what it ran before)
    no target: the ratio says what the hand-written backward buys

Each ratio is printed twice: by wall-clock time and by this process's CPU time (the steadier of the two on a
machine shared with other work; the same on an idle one). With `--device cuda` (target 6: "report the VAE epoch
time there") every side trains on the GPU: the preloaded tensors live there, the DataLoader side copies each batch
in as pytorch/examples does (pinned memory, one worker), each turn ends with a synchronize, and the wall clock is
the figure that counts (the CPU time is mostly waiting). The last column is an epoch's seconds at that rate.

    GENVIZ_DATA=... OMP_NUM_THREADS=1 python bench/bench_epoch.py [--steps 150] [--repeats 3] [--only vae,made,nade]
        [--device cuda]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

from genviz.core import data as data_mod
from genviz.core.session import Session

VAE_CFG = {"z_dim": 20, "hidden": 400, "depth": 1}
TARGETS = {("vae", "plain"): 0.8, ("vae", "DataLoader"): 0.33, ("made", "plain"): 0.8}


class PlainVAE(nn.Module):
    """The VAE as one writes it by hand: the same layers, loss and noise as genviz's, in stock PyTorch ops."""

    def __init__(self, d: int = 784, h: int = 400, z: int = 20):
        super().__init__()
        self.z = z
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ELU(), nn.Linear(h, 2 * z))
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ELU(), nn.Linear(h, d))

    def loss(self, x):
        m, h = self.enc(x).split(self.z, 1)
        v = F.softplus(h) + 1e-8
        z = m + v.sqrt() * torch.randn_like(m)
        rec = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none").sum(1)
        kl = 0.5 * (-v.log() + v + m ** 2 - 1).sum(1)
        return (rec + kl).mean()


class PlainMADE(nn.Module):
    """A masked-linear MADE written by hand with genviz's masks: weight * mask in every forward."""

    def __init__(self, masks: list[torch.Tensor], direct_mask: torch.Tensor | None):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(m.shape[1], m.shape[0]) for m in masks)
        for i, m in enumerate(masks):
            self.register_buffer(f"m{i}", m.clone())
        self.direct = None
        if direct_mask is not None:
            self.direct = nn.Linear(direct_mask.shape[1], direct_mask.shape[0], bias=False)
            self.register_buffer("dm", direct_mask.clone())

    def loss(self, x):
        h = x
        for i, layer in enumerate(self.layers):
            h = F.linear(h, layer.weight * getattr(self, f"m{i}"), layer.bias)
            if i < len(self.layers) - 1:
                h = F.relu(h)
        if self.direct is not None:
            h = h + F.linear(x, self.direct.weight * self.dm)
        return F.binary_cross_entropy_with_logits(h, x, reduction="none").sum(1).mean()


class AutogradNADE(nn.Module):
    """genviz's NADE with log p(x) through its logits (the blocked recurrence) and autograd."""

    def __init__(self, nade):
        super().__init__()
        self.nade = nade

    def loss(self, x):
        from genviz.core.autoregressive.base import AutoregressiveModel

        return -AutoregressiveModel.log_prob(self.nade, x).mean()


TURN = 100  # steps a side runs before the next side takes its turn (genviz's held-out metrics come every 100)


def plain_loop(model, x_all: torch.Tensor, batch: int, steps: int, seed: int, turn: int = TURN):
    """Preloaded tensors (on the model's device): a fresh permutation per epoch, index, binarize, step; a
    generator that pauses every `turn` steps."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator(device=x_all.device).manual_seed(seed)

    def run():
        done = 0
        while done < steps:
            perm = torch.randperm(len(x_all), generator=g, device=x_all.device)
            for i in range(0, len(perm) - batch + 1, batch):
                if done == steps:
                    break
                x = torch.bernoulli(x_all[perm[i:i + batch]], generator=g)
                opt.zero_grad()
                model.loss(x).backward()
                opt.step()
                done += 1
                if done % turn == 0:
                    yield
    return run


def dataloader_loop(model, batch: int, steps: int, device: str = "cpu"):
    """pytorch/examples/vae: torchvision's MNIST with ToTensor through a DataLoader (no workers on a CPU; on a
    GPU one worker and pinned memory, each batch copied to the device)."""
    from torchvision import datasets, transforms

    from genviz.core.images import data_root

    root, _ = data_root()
    ds = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    extra = {"num_workers": 1, "pin_memory": True} if device != "cpu" else {}
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, **extra)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        done = 0
        while done < steps:
            for xb, _ in loader:
                if done == steps:
                    break
                x = torch.bernoulli(xb.view(-1, 784).to(device, non_blocking=True))
                opt.zero_grad()
                model.loss(x).backward()
                opt.step()
                done += 1
                if done % TURN == 0:
                    yield
    return run


def genviz_loop(name: str, ds, model_cfg, train: dict):
    """A Session as `genviz train` drives it (no plot arrays); built here, iterated by the returned generator,
    which pauses at every snapshot (every 100 steps: `snapshot_every`)."""
    session = Session(name, ds, model_cfg, train, with_arrays=False)

    def run():
        for snap in session.run():
            if snap.status in ("error", "diverged"):
                raise RuntimeError(snap.message)
            yield
    return run


def sides(which: str, ds, steps: int, seed: int, device: str = "cpu") -> dict:
    """Fresh runners (model and optimizer built outside the timing) for every side of one comparison."""
    x_all = ds.train.flatten(1).to(device)
    if which == "vae":
        train = {"batch_size": 128, "steps": steps, "lr": 1e-3, "snapshot_every": 100, "seed": seed,
                 "device": device}
        torch.manual_seed(seed)  # a bench script: the plain models initialise from the global stream
        return {"genviz": genviz_loop("vae", ds, VAE_CFG, train),
                "plain": plain_loop(PlainVAE().to(device), x_all, 128, steps, seed),
                "DataLoader": dataloader_loop(PlainVAE().to(device), 128, steps, device)}
    from genviz.core import registry

    if which == "nade":
        return {"genviz": genviz_loop("nade", ds, None, {"steps": steps, "seed": seed, "batch_size": 100,
                                                         "snapshot_every": 100, "device": device}),
                "autograd": plain_loop(AutogradNADE(registry.build("nade", data_shape=ds.shape, seed=seed)).to(device),
                                       x_all, 100, steps, seed)}
    train = {"steps": steps, "seed": seed, "device": device}  # the registry's defaults otherwise (batch 100, ...)
    made = registry.build("made", data_shape=ds.shape, seed=seed)
    direct = made.direct.mask if made.direct is not None else None
    torch.manual_seed(seed)
    return {"genviz": genviz_loop("made", ds, None, train),
            "plain": plain_loop(PlainMADE(made.masks(), direct).to(device), x_all, 100, steps, seed,
                                turn=registry.train_config("made", train).snapshot_every)}


def compare(which: str, ds, steps: int, repeats: int, device: str = "cpu") -> tuple[dict[str, list[float]],
                                                                                      dict[str, list[float]]]:
    """Per repetition: every side's wall-clock and CPU seconds for `steps` steps. The sides take turns of
    ~TURN steps (a second or so each), in an order that rotates over repetitions, so a burst of load from
    another job falls on all of them (in blocks of a whole run, one side once took 9.5 ms a step in one
    minute and 12 in the next). The CPU time (this process's, one thread) leaves out the time other
    processes take the core."""
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for r in range(repeats):
        runners = {name: run() for name, run in sides(which, ds, steps, seed=r, device=device).items()}
        sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)  # a turn's kernels count in its time
        names = list(runners)
        names = names[r % len(names):] + names[:r % len(names)]
        spent = {name: [0.0, 0.0] for name in names}
        while names:
            for name in list(names):
                t0, c0 = time.perf_counter(), time.process_time()
                if next(runners[name], StopIteration) is StopIteration:
                    names.remove(name)
                sync()
                spent[name][0] += time.perf_counter() - t0
                spent[name][1] += time.process_time() - c0
        for name, (w, c) in spent.items():
            wall.setdefault(name, []).append(w)
            cpu.setdefault(name, []).append(c)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="steps per side and repetition (an epoch is ~430)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="vae,made")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (every side on it)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = data_mod.load("mnist")
    where = torch.cuda.get_device_name() if args.device != "cpu" else "CPU"
    print(f"epoch bench: torch {torch.__version__}, {where}, 1 thread, {args.steps} steps x {args.repeats} "
          f"interleaved repeats, load avg {os.getloadavg()[0]:.2f} at start")
    print(f"{'model':6s} {'vs':11s} {'clock':5s} {'genviz ms/step':>15s} {'theirs ms/step':>15s} {'ratio':>6s} "
          f"{'target':>7s}         {'genviz epoch s':>14s}")
    for which in args.only.split(","):
        batch = 128 if which == "vae" else 100
        per_epoch = len(ds.train) / batch
        for clock, times in zip(("wall", "cpu"), compare(which, ds, args.steps, args.repeats, args.device)):
            ours = times["genviz"]
            for other, theirs in times.items():
                if other == "genviz":
                    continue
                ratio = statistics.median(a / b for a, b in zip(ours, theirs))
                target = TARGETS.get((which, other))
                verdict = "report" if target is None else ("met" if ratio <= target else "missed")
                print(f"{which:6s} {other:11s} {clock:5s} {1e3 * statistics.median(ours) / args.steps:15.2f} "
                      f"{1e3 * statistics.median(theirs) / args.steps:15.2f} {ratio:6.2f} "
                      f"{'≤ ' + str(target) if target else '':>7s}  {verdict:7s}"
                      f"{statistics.median(ours) / args.steps * per_epoch:14.2f}", flush=True)
    print(f"ratio = genviz's time ÷ theirs for the same steps (median over repeats; lower is faster); wall = "
          f"clock time, cpu = this process's CPU time; load avg {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
