"""Where a flow's training step spends its time, one thread (#17): milliseconds per step of the model's own
train_step (what `genviz train` and the GUI run: fused_step where it covers the model) and of the autograd
step it replaces, split into forward / backward / optimizer (medians of repeats), and torch.profiler's top
operators of the step named by --profile.

    python bench/profile_flow_step.py [--model realnvp] [--batch 256] [--steps 100] [--top 15]
                                      [--profile train_step|autograd]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

from genviz.core import config, data, registry

ARCH = {"realnvp": {"n_layers": 8, "hidden": 64, "depth": 2}, "maf": {"n_blocks": 5, "hidden": 100, "depth": 1},
        "nice": {}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="realnvp", choices=sorted(ARCH))
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--profile", default="train_step", choices=("train_step", "autograd"))
    args = p.parse_args()
    torch.set_num_threads(1)
    ds = data.load("moons", n=30000)
    g = torch.Generator().manual_seed(0)
    xs = [ds.batch(args.batch, g) for _ in range(args.steps)]
    model = registry.build(args.model, data_dim=2, seed=0, **ARCH[args.model])
    train = config.make(config.TrainConfig, {"lr": 1e-3, "grad_clip": 0.0})
    (opt,) = model.configure_optimizers(train)
    print(f"{args.model}, batch {args.batch}, optimizer {type(opt).__name__}")

    def step(x, clock=None):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = -model.log_prob(x).mean()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        if clock is not None:
            clock.append((t1 - t0, t2 - t1, time.perf_counter() - t2))

    def train_step(x):
        model.train_step(x, [opt], train)

    for x in xs[:10]:
        step(x)
        train_step(x)
    parts, fused = [], []
    for _ in range(args.repeats):
        clock = []
        for x in xs:
            step(x, clock)
        parts.append([sum(c[i] for c in clock) / len(clock) * 1e3 for i in range(3)])
        t0 = time.perf_counter()
        for x in xs:
            train_step(x)
        fused.append((time.perf_counter() - t0) / len(xs) * 1e3)
    med = [statistics.median(p[i] for p in parts) for i in range(3)]
    print(f"autograd step, ms/step: forward {med[0]:.3f}, backward {med[1]:.3f}, optimizer {med[2]:.3f}, "
          f"total {sum(med):.3f}")
    print(f"model.train_step, ms/step: {statistics.median(fused):.3f}")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for x in xs:
            (train_step if args.profile == "train_step" else step)(x)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))


if __name__ == "__main__":
    main()
