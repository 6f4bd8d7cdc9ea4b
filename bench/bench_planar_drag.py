"""Single-layer lab latency and MAF-vs-IAF sampling speed.

1. Time from a parameter change to a recomputed 200 x 200 density of one planar layer and of one affine
   coupling layer (genviz.core.flows.lab, what the flows panel runs on the GUI thread while the user drags);
   budget 33 ms (30 Hz). With --gui, also the panel end to end (handle moved -> image set), offscreen.
2. Samples/s and densities/s of MAF and IAF of the course size (5 MADE blocks x 100 units) at several data
   dimensions: MAF samples in D sequential passes per block, IAF in one (and the reverse for densities).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_planar_drag.py [--gui]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from genviz.core import registry
from genviz.core.flows import lab
from genviz.core.flows.maf import rates

BUDGET_MS = 33.0
BOX = (-4.0, 4.0, -4.0, 4.0)


def timings(fn, params, repeats: int) -> np.ndarray:
    """Milliseconds per call, one parameter set per call (each a fresh 'drag event')."""
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(*params[i % len(params)])
        out.append((time.perf_counter() - t0) * 1e3)
    return np.asarray(out)


def lab_rows(repeats: int, gui: bool) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    planar = [(rng.normal(size=2) * 2, rng.normal(size=2) * 2, rng.normal()) for _ in range(50)]
    coupling = [tuple(rng.normal(size=4) * 0.5) for _ in range(50)]
    rows = [("planar layer, core",
             timings(lambda w, u, b: lab.planar_density(w, u, b, BOX, 200), planar, repeats)),
            ("affine coupling, core", timings(lambda *p: lab.coupling_density(*p, BOX, 200), coupling, repeats))]
    if gui:
        rows += gui_rows(planar, coupling, repeats)
    return rows


def gui_rows(planar, coupling, repeats):
    """The panel's lab end to end: set a handle / slider as a drag would, until the image holds the result."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from genviz.gui.app import application
    from genviz.gui.panels.flows import FlowsPanel

    app = application()
    panel = FlowsPanel()
    panel.resize(1200, 700)
    panel.show()
    labw = panel.lab
    rows = [("planar layer, panel (drag w)", timings(lambda w, u, b: labw.set_planar(w=w), planar, repeats)),
            ("affine coupling, panel (slider)",
             timings(lambda *p: labw.set_coupling(s0=p[0]), coupling, repeats))]
    app.processEvents()
    panel.close()
    return rows


def speed_rows(dims, n: int) -> list[tuple[int, tuple, tuple]]:
    rows = []
    for d in dims:
        torch.manual_seed(0)
        maf, iaf = registry.build("maf", data_dim=d), registry.build("iaf", data_dim=d)
        rows.append((d, rates(maf, n, repeats=5), rates(iaf, n, repeats=5)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gui", action="store_true", help="also time the panel's lab end to end (offscreen Qt)")
    ap.add_argument("--repeats", type=int, default=60)
    ap.add_argument("--dims", default="2,8,32")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"planar drag bench: torch {torch.__version__}, 1 thread, load avg {os.getloadavg()[0]:.2f}")
    print(f"{'200x200 density after a change':<34}{'median ms':>10}{'p95 ms':>9}{'median/33ms':>13}")
    for name, ms in lab_rows(args.repeats, args.gui):
        med, p95 = np.median(ms), np.percentile(ms, 95)
        print(f"{name:<34}{med:>10.1f}{p95:>9.1f}{med / BUDGET_MS:>13.2f}")
    print()
    print(f"{'D':>3}{'MAF samples/s':>15}{'IAF samples/s':>15}{'IAF/MAF':>9}"
          f"{'MAF dens/s':>13}{'IAF dens/s':>13}{'MAF/IAF':>9}")
    for d, (ms, md), (is_, id_) in speed_rows([int(v) for v in args.dims.split(",")], 10000):
        print(f"{d:>3}{ms:>15,.0f}{is_:>15,.0f}{is_ / ms:>9.1f}{md:>13,.0f}{id_:>13,.0f}{md / id_:>9.1f}")
    print(f"(5 MADE blocks x 100 units, n = 10000, best of 5; load avg {os.getloadavg()[0]:.2f} at end)")


if __name__ == "__main__":
    main()
