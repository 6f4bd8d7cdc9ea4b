"""Mode coverage of the vanilla GAN vs the shipped preset on ring8 and grid25, over several seeds.

For each (model, dataset, seed): train with the model's registry defaults, sample 2,500 points, count
captured modes and the high-quality fraction (within 3 sigma of a centre). Prints per-seed rows and means.
Target for the preset: 8/8 and 25/25 modes with >= 90 % high-quality samples.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_gan_modes.py          # full (minutes)
    .venv/bin/python bench/bench_gan_modes.py --quick                                # smoke run
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from genviz.core import data as data_mod
from genviz.core import registry
from genviz.core.gan import metrics


def train_once(model_name: str, dataset: str, seed: int, steps: int | None, overrides: dict) -> dict:
    """Train through the same calls a Session makes (fetch_batch / train_step), without snapshots."""
    train = registry.train_config(model_name, {"seed": seed, **({"steps": steps} if steps else {})})
    data = data_mod.load(dataset, seed=seed)
    torch.manual_seed(seed)
    model = registry.build(model_name, data_shape=data.shape, **overrides)
    opts = model.configure_optimizers(train)
    gen = torch.Generator().manual_seed(seed + 1)
    t0 = time.perf_counter()
    for _ in range(train.steps):
        model.train_step(model.fetch_batch(data, train.batch_size, gen), opts, train)
    model.eval()
    with torch.no_grad():
        x = model.sample(2500, generator=torch.Generator().manual_seed(seed + 100)).numpy()
    cov = metrics.mode_coverage(x, *metrics.BENCHMARKS[dataset])
    return {**cov, "steps": train.steps, "secs": time.perf_counter() - t0}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="gan,gan_preset")
    ap.add_argument("--datasets", default="ring8,grid25")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds run first-seed .. first-seed + seeds - 1")
    ap.add_argument("--steps", type=int, default=None, help="override the registry's default steps")
    ap.add_argument("--set", nargs="*", default=[], metavar="K=V", help="config overrides (all models)")
    ap.add_argument("--quick", action="store_true", help="1 seed, 300 steps: checks the script runs")
    a = ap.parse_args(argv)
    if a.quick:
        a.seeds, a.steps = 1, a.steps or 300
    overrides = dict(kv.split("=", 1) for kv in a.set)
    torch.set_num_threads(1)
    print(f"{'model':<11} {'dataset':<7} {'seed':>4} {'steps':>6} {'modes':>7} {'HQ %':>6} {'secs':>6}")
    for ds in a.datasets.split(","):
        for name in a.models.split(","):
            rows = []
            for seed in range(a.first_seed, a.first_seed + a.seeds):
                r = train_once(name, ds, seed, a.steps, overrides)
                rows.append(r)
                print(f"{name:<11} {ds:<7} {seed:>4} {r['steps']:>6} {r['modes']:>3}/{r['n_modes']:<3} "
                      f"{100 * r['hq']:>6.1f} {r['secs']:>6.0f}", flush=True)
            modes = np.mean([r["modes"] for r in rows])
            hq = 100 * np.mean([r["hq"] for r in rows])
            full = sum(r["modes"] == r["n_modes"] for r in rows)
            print(f"{name:<11} {ds:<7} {'mean':>4} {'':>6} {modes:>7.1f} {hq:>6.1f}   all modes in {full}/{len(rows)} seeds",
                  flush=True)


if __name__ == "__main__":
    main()
