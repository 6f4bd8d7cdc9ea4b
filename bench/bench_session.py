"""Session overhead: RealNVP on moons trained by (a) a plain hand-written torch loop and (b) genviz's
Session with snapshots every N steps. Runs alternate a/b in one process (this machine is noisy) and the
script prints the steps/s of each and the ratio (b)/(a); the target is ≥ 0.95.

    python bench/bench_session.py [--steps 1500] [--snapshot-every 100] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from genviz.core import data, registry
from genviz.core.session import Session


def plain_loop(ds, steps: int, batch: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = registry.build("realnvp", data_dim=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed + 1)
    losses = []
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(ds.train), (batch,), generator=gen)
        loss = -model.log_prob(ds.train[idx]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    torch.stack(losses).numpy()  # the plain loop also keeps its losses
    return steps / (time.perf_counter() - t0)


def session_loop(ds, steps: int, batch: int, seed: int, every: int) -> tuple[float, int]:
    s = Session("realnvp", ds, train={"steps": steps, "batch_size": batch, "seed": seed, "snapshot_every": every})
    t0 = time.perf_counter()
    n = sum(1 for _ in s.run())
    return steps / (time.perf_counter() - t0), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--snapshot-every", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ds = data.load("moons")
    plain_loop(ds, 50, args.batch, 0)  # warm-up: allocator, thread pools
    a_rates, b_rates, ratios = [], [], []
    for r in range(args.repeats):
        a = plain_loop(ds, args.steps, args.batch, r)
        b, n = session_loop(ds, args.steps, args.batch, r, args.snapshot_every)
        a_rates.append(a), b_rates.append(b), ratios.append(b / a)
        print(f"repeat {r}: plain {a:8.1f} steps/s   session {b:8.1f} steps/s ({n} snapshots)   ratio {b / a:.3f}")
    med = statistics.median(ratios)
    print(f"\nmedian ratio session/plain = {med:.3f}  (target ≥ 0.95: {'PASS' if med >= 0.95 else 'FAIL'}); "
          f"torch threads {torch.get_num_threads()}, snapshot every {args.snapshot_every} steps")


if __name__ == "__main__":
    main()
