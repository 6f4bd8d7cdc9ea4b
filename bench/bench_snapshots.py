"""What snapshots cost: for each registered model at its defaults (model config, training config and the
snapshot rate the app uses), the time the Session spent computing snapshots (held-out metrics, the verified
state, the panel's arrays) as a fraction of the time it spent training, in one run. Target (#17): ≤ 10%.

Both numbers come from the same Session (`session.seconds`), so machine noise hits them alike.

    python bench/bench_snapshots.py [--models realnvp,maf,...] [--max-steps 5000] [--headless]
    GENVIZ_DATA=../shared/data python bench/bench_snapshots.py --models made,vae   # image models need MNIST
"""
from __future__ import annotations

import argparse

import torch

from genviz.core import data, registry
from genviz.core.data import DataError
from genviz.core.session import Session

TARGET = 0.10


def measure(name: str, max_steps: int, headless: bool) -> tuple | str:
    spec = registry.get(name)
    try:
        ds = data.load(spec.default_dataset)
    except DataError as e:
        return f"skipped: {str(e)[:60]}…"
    train = registry.train_config(name)
    every = train.snapshot_every
    steps = min(train.steps, max_steps)  # a run as the app trains it (its first and last views included)
    s = Session(name, ds, {}, {"steps": steps}, with_arrays=not headless)
    for _ in s.run():
        pass
    return s.seconds["snapshot"], s.seconds["train"], every, steps, s.seconds["arrays"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(registry.names()))
    p.add_argument("--max-steps", type=int, default=5000, help="train each model's default steps, at most this")
    p.add_argument("--headless", action="store_true", help="no panel arrays (what genviz train computes)")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"{'model':12s} {'every':>6s} {'steps':>6s} {'train s':>8s} {'snap s':>8s} {'views s':>8s} "
          f"{'snap/train':>10s}  target ≤ {TARGET:.0%}")
    missed = []
    for name in args.models.split(","):
        r = measure(name, args.max_steps, args.headless)
        if isinstance(r, str):
            print(f"{name:12s} {r}")
            continue
        snap, tr, every, steps, views = r
        ratio = snap / tr
        verdict = "met" if ratio <= TARGET else "missed"
        if ratio > TARGET:
            missed.append(name)
        print(f"{name:12s} {every:6d} {steps:6d} {tr:8.2f} {snap:8.2f} {views:8.2f} {ratio:10.1%}  {verdict}",
              flush=True)
    print(f"\n{'headless' if args.headless else 'with panel arrays (the app)'}; one torch thread; "
          f"missed: {', '.join(missed) or 'none'}")


if __name__ == "__main__":
    main()
