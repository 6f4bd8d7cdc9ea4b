"""Test NLL (nats) of RealNVP, NICE, MAF and IAF on moons, 8gaussians and checkerboard, beside the true entropy.

Each model trains with its registry defaults (config + train_defaults) through a real core.session.Session
on data.load(name, n=30000) (24k/3k/3k split), then the test split is scored. Targets (issue 3): MAF on
moons ≤ 1.25 nats; the best flow on 8gaussians ≤ 2.95 nats.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_flows_quality.py [--quick] [--jobs 3]
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from genviz.core import data, registry
from genviz.core.session import Session

MODELS = ("realnvp", "nice", "maf", "iaf")
DATASETS = ("moons", "8gaussians", "checkerboard")
TARGETS = {("maf", "moons"): 1.25, ("best", "8gaussians"): 2.95}


def train_and_score(model: str, dataset: str, steps: int | None, seed: int) -> tuple[float, float, int]:
    """(test NLL in nats, training seconds, steps) for one model on one dataset."""
    torch.set_num_threads(1)
    ds = data.load(dataset, n=30000, seed=seed)
    train = dict(registry.get(model).train_defaults)
    train.update(seed=seed, **({"steps": steps} if steps else {}))
    train["snapshot_every"] = registry.train_config(model, train).steps  # no snapshots mid-run
    session = Session(model, ds, train=train)
    t0 = time.perf_counter()
    for snap in session.run():
        if snap.status == "error":
            raise RuntimeError(f"{model} on {dataset}: {snap.message}")
    seconds = time.perf_counter() - t0
    session.model.eval()
    nll = session.model.evaluate(ds.test)["nll"]
    return nll, seconds, session.step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="300 steps per run: a smoke test, not the figures")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--steps", type=int, default=0, help="override every model's default step count")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel processes (1 thread each)")
    args = ap.parse_args()
    steps = 300 if args.quick else (args.steps or None)
    load = os.getloadavg()[0]
    print(f"flows quality bench: torch {torch.__version__}, {args.jobs} job(s) x 1 thread, "
          f"{os.cpu_count()} cores, "
          f"load avg {load:.2f} at start{' (QUICK: not the figures)' if args.quick else ''}")
    header = f"{'dataset':<13}{'true H':>8}  {'model':<8}{'steps':>7}{'test NLL':>10}{'gap':>8}{'train s':>9}"
    print(header)
    print("-" * len(header))
    runs = [(m, d) for d in args.datasets.split(",") for m in args.models.split(",")]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(train_and_score, m, d, steps, args.seed) for m, d in runs]
        results = {}
        for (model, dataset), fut in zip(runs, futures):  # printed in a fixed order as runs finish
            nll, secs, n = fut.result()
            results[(model, dataset)] = nll
            h = data.TRUE_ENTROPY[dataset]
            print(f"{dataset:<13}{h:>8.3f}  {model:<8}{n:>7}{nll:>10.3f}{nll - h:>8.3f}{secs:>9.1f}", flush=True)
    print(f"load avg {os.getloadavg()[0]:.2f} at end")
    for (model, dataset), target in TARGETS.items():
        got = [v for (m, d), v in results.items() if d == dataset and (model == "best" or m == model)]
        if got:
            best = min(got)
            verdict = "PASS" if best <= target else "FAIL"
            print(f"target {model} on {dataset}: {best:.3f} ≤ {target} nats: {verdict}")


if __name__ == "__main__":
    main()
