"""Session overhead: RealNVP on moons trained by (a) a plain hand-written torch loop and (b) genviz's
Session with snapshots every N steps, headless as `genviz train` runs it (losses + validation NLL + last-good
state at each snapshot). (c) adds the plot data the app draws (density grid, samples, layer traces) for
reference. Runs alternate a/b/c in one process (this machine is noisy); the script prints each repeat's
steps/s and the median ratios. Target: (b)/(a) ≥ 0.95.

    python bench/bench_session.py [--steps 800] [--snapshot-every 100] [--repeats 7]
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


def session_loop(ds, steps: int, batch: int, seed: int, every: int, arrays: bool) -> tuple[float, int]:
    s = Session("realnvp", ds, train={"steps": steps, "batch_size": batch, "seed": seed, "snapshot_every": every},
                with_arrays=arrays)
    t0 = time.perf_counter()
    n = sum(1 for _ in s.run())
    return steps / (time.perf_counter() - t0), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--snapshot-every", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    ds = data.load("moons")
    plain_loop(ds, 50, args.batch, 0)  # warm-up: allocator, thread pools
    headless, plotted = [], []
    for r in range(args.repeats):
        a = plain_loop(ds, args.steps, args.batch, r)
        b, n = session_loop(ds, args.steps, args.batch, r, args.snapshot_every, arrays=False)
        c, _ = session_loop(ds, args.steps, args.batch, r, args.snapshot_every, arrays=True)
        headless.append(b / a), plotted.append(c / a)
        print(f"repeat {r}: plain {a:7.1f}  session {b:7.1f}  session+plots {c:7.1f} steps/s "
              f"({n} snapshots)  ratios {b / a:.3f} {c / a:.3f}")
    med_b, med_c = statistics.median(headless), statistics.median(plotted)
    print(f"\nmedian ratio session/plain (headless)     = {med_b:.3f}  target ≥ 0.95: "
          f"{'PASS' if med_b >= 0.95 else 'FAIL'}")
    print(f"median ratio session+plots/plain          = {med_c:.3f}  (what the app pays for live plots)")
    print(f"torch threads {torch.get_num_threads()}, snapshot every {args.snapshot_every} steps, "
          f"{args.steps} steps x {args.repeats} repeats")


if __name__ == "__main__":
    main()
