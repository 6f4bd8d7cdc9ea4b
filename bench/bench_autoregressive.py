"""Binarized-MNIST test NLL of the autoregressive models (FVSBN, MADE) with parameter counts and training time.

Trains in a headless genviz Session (dynamic binarization of training batches, as in the app) with the
registry's cosine learning-rate decay, then evaluates exact NLL in nats on the 10k test images (fixed-seed binarization).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_autoregressive.py           # full (tens of minutes)
    .venv/bin/python bench/bench_autoregressive.py --quick                                  # smoke run (~1 min)
    ... --runs made --save rows.jsonl   (one run per process, in parallel) then  ... --report rows.jsonl

Parameter counts are trainable tensor sizes: made-direct's D×D direct weight is stored whole although its
mask keeps only D(D−1)/2 of it. Train seconds are wall-clock on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from genviz.core import data as data_mod
from genviz.core.session import Session

# name, config overrides, lr, batch, steps (full run), target NLL (nats)
RUNS = {
    "fvsbn": ("fvsbn", {}, 3e-3, 100, 12000, 100.0),
    "made": ("made", {"hidden": 500, "depth": 1, "direct": False}, 1e-3, 100, 12000, 90.0),
    "made-direct": ("made", {"hidden": 500, "depth": 1, "direct": True}, 1e-3, 100, 16000, 90.0),  # the default
    "made-8masks": ("made", {"hidden": 500, "depth": 1, "num_masks": 8, "direct": False}, 1e-3, 100, 12000, 90.0),
}


def train(name, overrides, lr, batch, steps, data, seed=0, log_every=1000):
    """Train one model in a genviz Session (headless, as `genviz train` does) with cosine decay of lr to 2%
    over `steps`; returns (model, seconds)."""
    train_cfg = {"lr": lr, "batch_size": batch, "steps": steps, "seed": seed, "lr_schedule": "cosine",
                 "snapshot_every": log_every or steps}
    session = Session(name, data, overrides, train_cfg, with_arrays=False)
    t0 = time.perf_counter()
    for snap in session.run():
        if log_every and snap.losses:
            print(f"  {name} step {snap.step}/{steps} train nll {float(snap.losses['nll'][-1]):.2f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return session.model, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few hundred steps and 1000 test images")
    ap.add_argument("--runs", default="fvsbn,made-direct", help=f"comma-separated, from {', '.join(RUNS)}")
    ap.add_argument("--steps", type=int, default=0, help="override the number of steps of every run")
    ap.add_argument("--save", default="", help="also append the rows to this JSON-lines file")
    ap.add_argument("--report", nargs="*", default=None,
                    help="print one table from rows saved by runs done in separate processes, then exit")
    args = ap.parse_args(argv)
    if args.report is not None:
        rows = [tuple(json.loads(line)) for f in args.report for line in open(f) if line.strip()]
        print_table(rows, n_test=10000, quick=False)
        return
    data = data_mod.load("mnist")
    test = data.test if not args.quick else data.test[:1000]
    rows = []
    for key in args.runs.split(","):
        name, over, lr, batch, steps, target = RUNS[key]
        steps = args.steps or (300 if args.quick else steps)
        model, secs = train(name, over, lr, batch, steps, data, log_every=100 if args.quick else 1000)
        model.eval()
        with torch.no_grad():
            nll = model.evaluate(test)["nll"]
        n_par = sum(p.numel() for p in model.parameters() if p.requires_grad)
        rows.append((key, n_par, steps, secs, nll, target, float(torch.get_num_threads())))
        print(f"  {key}: test NLL {nll:.2f} nats after {steps} steps, {secs:.0f} s", flush=True)
        if args.save:
            with open(args.save, "a") as fh:
                fh.write(json.dumps(rows[-1]) + "\n")
    print_table(rows, len(test), args.quick)


def print_table(rows, n_test, quick):
    """Train time is wall-clock on a shared machine; the ratio column compares seconds per step to row 1."""
    base = rows[0][3] / rows[0][2]
    print(f"\nbinarized MNIST, test NLL on {n_test} images (fixed-seed binarization), torch "
          f"{torch.__version__}, {int(rows[0][6])} thread(s){' [QUICK]' if quick else ''}")
    print(f"{'model':<12} {'params':>9} {'steps':>6} {'train s':>8} {'s/step ratio':>12} {'test NLL':>9} "
          f"{'target':>7}  met")
    for key, n_par, steps, secs, nll, target, _ in rows:
        print(f"{key:<12} {n_par:>9,} {steps:>6} {secs:>8.0f} {secs / steps / base:>12.2f} {nll:>9.2f} "
              f"{'≤' + format(target, '.0f'):>7}  {'yes' if nll <= target else f'no (+{nll - target:.2f})'}")


if __name__ == "__main__":
    main()
