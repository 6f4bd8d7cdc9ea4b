"""The papers' own benchmark: test NLL (nats) on the fixed-binarization MNIST (dataset `binarized-mnist`),
genviz next to the published numbers, each row trained with early stopping on the validation split and
evaluated from its best checkpoint (best.pt), as the papers do.

Every row is an ordinary run folder trained by `genviz train`'s own code, in legs: `--leg-steps N` trains
at most N more steps and stops (resumably), so a long row can be run in parts and the next call continues
it exactly. The table prints parameters, epochs, wall time and the command that reproduces each row.

    GENVIZ_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python bench/bench_papers.py --rows made-1 --leg-steps 20000
    GENVIZ_DATA=../shared/data .venv/bin/python bench/bench_papers.py --quick     # smoke run (~1 min): tiny, no targets
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from genviz.core import checkpoint, data, runs
from genviz.core.train import train

# name: (model, model config, training config, published NLL, target, what the published number is)
ROWS = {
    "fvsbn": ("fvsbn", {}, {"lr": 3e-3, "batch_size": 100, "steps": 200_000}, 97.45, 97.5, "NADE paper"),
    "made-1": ("made", {"hidden": 500, "depth": 1, "num_masks": 1, "direct": False},
               {"lr": 1e-3, "batch_size": 100, "steps": 200_000}, 88.4, 88.5, "MADE paper, one mask (about)"),
    "made-ens": ("made", {"hidden": 500, "depth": 1, "num_masks": 32, "order_agnostic": True, "ensemble": True,
                          "direct": False},
                 {"lr": 1e-3, "batch_size": 100, "steps": 400_000}, 86.64, 87.5, "MADE paper, best ensemble"),
    "vae": ("vae", {}, {"lr": 1e-3, "batch_size": 97, "steps": 200_000}, None, None, "report −IWAE k=5000"),
    "nade": (None, {}, {}, 88.86, 89.0, "NADE paper"),
}
EARLY_STOP = 20_000  # steps without a better validation NLL (checked every SNAPSHOT_EVERY steps)
SNAPSHOT_EVERY = 1000


def run_leg(name: str, root: Path, leg_steps: int, quick: bool) -> None:
    model, cfg, tcfg, *_ = ROWS[name]
    folder = root / name
    tcfg = {**tcfg, "snapshot_every": SNAPSHOT_EVERY, "early_stop": EARLY_STOP}
    if quick:
        cfg = {**cfg, "hidden": 16} if model != "fvsbn" else cfg
        tcfg = {**tcfg, "steps": 40, "snapshot_every": 10, "early_stop": 20}
    if runs.holds_run(folder):
        cp = checkpoint.read(folder / "checkpoint.pt")
        cfgj = json.loads((folder / "config.json").read_text())
        best = cfgj.get("best") or {}
        early_stopped = best.get("step") is not None and cfgj["step"] - best["step"] >= tcfg["early_stop"]
        if cfgj.get("status") in ("done", "diverged") or early_stopped:
            return
        until = min(cp["step"] + leg_steps, cp["train"]["steps"])
        train(None, None, {}, {}, folder, resume=folder, until=until if until < cp["train"]["steps"] else None,
              progress=not quick)
    else:
        ds = data.load("binarized-mnist")
        until = min(leg_steps, tcfg["steps"])
        train(model, ds, cfg, tcfg, folder, until=until if until < tcfg["steps"] else None, progress=not quick)


def report(name: str, root: Path, quick: bool) -> str:
    model, cfg, tcfg, published, target, what = ROWS[name]
    pub = f"{published:.2f}" if published else "—"
    if model is None:
        return f"{name:9s} {pub:>9s} {'not implemented in genviz yet':>40s}  ({what})"
    folder = root / name
    best = folder / "best.pt"
    if not best.exists():
        return f"{name:9s} {pub:>9s} {'not trained yet':>40s}  ({what})"
    m, payload = checkpoint.load_full(best)
    ds = data.load("binarized-mnist")
    t0 = time.perf_counter()
    with torch.no_grad():
        x = ds.test[:500] if quick else ds.test
        nll = (m.evaluate(x, k=5000 if not quick else 10)["nll"] if model == "vae" else m.evaluate(x)["nll"])
    params = sum(p.numel() for p in m.parameters())
    step = payload["step"]
    epochs = step * (tcfg.get("batch_size", 100)) / 50_000
    cfgj = json.loads((folder / "config.json").read_text())
    verdict = "" if target is None or quick else ("met" if nll <= target else "missed")
    cmd = (f"genviz train {model} --dataset binarized-mnist " + " ".join(f"--set {k}={v}" for k, v in cfg.items())
           + f" --early-stop {EARLY_STOP} --snapshot-every {SNAPSHOT_EVERY}")
    return (f"{name:9s} {pub:>9s} {nll:9.2f} {target or '':>7} {verdict:>7s} {params:>10,d} {epochs:7.1f} "
            f"step {step:,} of {cfgj['step']:,} ({what}; eval {time.perf_counter() - t0:.0f} s)\n          $ {cmd}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--root", default="runs/papers")
    p.add_argument("--leg-steps", type=int, default=50_000, help="train at most this many more steps per call")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    root = Path(args.root if not args.quick else "runs/papers-quick")
    names = args.rows.split(",")
    for name in names:
        if ROWS[name][0] is not None:
            run_leg(name, root, args.leg_steps, args.quick)
    print(f"{'row':9s} {'published':>9s} {'genviz':>9s} {'target':>7s} {'':>7s} {'params':>10s} {'epochs':>7s}")
    for name in names:
        print(report(name, root, args.quick), flush=True)
    print("\ntest NLL in nats on the 10k fixed-binarization test images, from each row's best validation "
          "checkpoint; rows not finished continue with the same command")


if __name__ == "__main__":
    main()
