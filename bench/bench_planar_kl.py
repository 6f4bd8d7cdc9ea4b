"""Planar flows fitted by reverse KL to each target energy: KL(q‖p) in nats (0 = exact) and training time.

Registry defaults (16 layers, 4000 steps, β annealed over 1000 steps); KL from 4096 fixed-seed samples with
the target's log Z from a fine grid (genviz.core.flows.targets.log_normalizer).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_planar_kl.py [--quick] [--targets ring,...]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from genviz.core import data, registry
from genviz.core.flows import targets
from genviz.core.session import Session


def fit(target: str, steps: int | None, n_layers: int, seed: int) -> tuple[float, float, float, int]:
    """(KL at step 0, KL at the end, seconds, steps)."""
    torch.set_num_threads(1)
    steps = steps or registry.train_config("planar").steps
    train = {"seed": seed, "steps": steps, "snapshot_every": steps}  # snapshots at start and end only
    session = Session("planar", data.load("moons", n=2000), model_config={"target": target, "n_layers": n_layers},
                      train=train, view={"res": 16})  # the data are not used: the loss samples the base
    t0 = time.perf_counter()
    snaps = list(session.run())
    return snaps[0].metrics["kl"], snaps[-1].metrics["kl"], time.perf_counter() - t0, session.step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 steps: a smoke test, not the figures")
    ap.add_argument("--targets", default=",".join(targets.TARGETS))
    ap.add_argument("--layers", type=int, default=16)
    args = ap.parse_args()
    print(f"planar reverse-KL bench: {args.layers} layers, load avg {os.getloadavg()[0]:.2f}"
          f"{' (QUICK: not the figures)' if args.quick else ''}")
    print(f"{'target':<14}{'steps':>7}{'KL start':>10}{'KL end':>9}{'train s':>9}")
    for name in args.targets.split(","):
        k0, k1, secs, n = fit(name, 200 if args.quick else None, args.layers, 0)
        print(f"{name:<14}{n:>7}{k0:>10.3f}{k1:>9.3f}{secs:>9.1f}", flush=True)
    print(f"load avg {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
