"""Launch and first Play, as ratios to `python -c "import torch"` measured in the same run.

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 python bench/bench_launch.py [--repeats 5]

Alternates, in fresh subprocesses: `python -c "import torch"` and the app (`python -m genviz` with
GENVIZ_LAUNCH_PROBE set: it prints the unix time of its first paint, of Play becoming enabled and of the first
snapshot drawn after pressing Play, then quits; see genviz/gui/app.py). Times run from the subprocess's start.
Prints medians and the targets of issue #17:
  painted <= 0.6 x import torch;  Play enabled <= 1.3 x import torch;  first Play -> snapshot drawn <= 0.5 s
(Play pressed once the background warm-up has finished; Play pressed the instant it is enabled is shown too).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def timed(cmd: list[str], env: dict) -> tuple[float, dict]:
    """Seconds until the process ends, and its probe events (seconds after its start)."""
    t0 = time.time()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    total = time.time() - t0
    events = {}
    for line in out.stdout.splitlines():
        if line.startswith("genviz-launch "):
            _, name, stamp = line.split()
            events[name] = float(stamp) - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr[-2000:]}")
    return total, events


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="genviz-bench-")}  # never the user's settings
    torch_s, painted, ready, play_now, play_warm = [], [], [], [], []
    app = [sys.executable, "-m", "genviz"]
    for _ in range(args.repeats):
        torch_s.append(timed([sys.executable, "-c", "import torch"], env)[0])
        _, ev = timed(app, {**env, "GENVIZ_LAUNCH_PROBE": "1"})
        painted.append(ev["painted"])
        ready.append(ev["ready"])
        torch_s.append(timed([sys.executable, "-c", "import torch"], env)[0])
        _, ev = timed(app, {**env, "GENVIZ_LAUNCH_PROBE": "warm-play"})
        play_warm.append(ev["drawn"] - ev["play"])
        _, ev = timed(app, {**env, "GENVIZ_LAUNCH_PROBE": "play"})
        play_now.append(ev["drawn"] - ev["play"])
    t = float(np.median(torch_s))
    rows = [("window painted", np.median(painted) / t, 0.6, "x import torch"),
            ("Play enabled", np.median(ready) / t, 1.3, "x import torch"),
            ("first Play -> drawn (warm)", np.median(play_warm), 0.5, "s")]
    print(f"import torch: median {t:.2f} s over {len(torch_s)} runs ({os.cpu_count()} CPUs); app medians: "
          f"painted {np.median(painted):.2f} s, Play enabled {np.median(ready):.2f} s")
    ok = True
    for name, value, target, unit in rows:
        met = value <= target
        ok &= met
        print(f"{name:<28}{value:>6.2f} {unit:<15} target <= {target:<4} {'met' if met else 'MISSED'}")
    print(f"{'first Play -> drawn (at once)':<28}{np.median(play_now):>6.2f} s               (Play pressed the "
          "instant it is enabled: waits for the warm-up's imports)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
