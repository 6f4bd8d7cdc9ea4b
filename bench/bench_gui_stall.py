"""Event-loop stall while training in the real window (offscreen): a 10 ms heartbeat QTimer measures gaps.

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 python bench/bench_gui_stall.py [--seconds 8] [--models ...]

For each family's default model (default size and dataset) training in the real window, with a CPU-bound
competitor process running beside it (--no-competitor: none): p50/p99/max of the heartbeat gap in ms with live
plots and with redraws stopped, against the idle window, plus the training rate.
Target (issue #17): p99 < 30 ms and max < 100 ms with live plots, for every family. Each live row also says
where the GUI thread's time went: its longest redraw pass, repaint of one view and cycle collection.
"""
from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the MNIST defaults (fvsbn, vae) read the project's test data; without it they sat downloading and the row
# read "0 steps/s  met"
_SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
if os.path.isdir(_SHARED):
    os.environ.setdefault("GENVIZ_DATA", os.path.normpath(_SHARED))

import numpy as np  # noqa: E402
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QEventLoop, QTimer  # noqa: E402


def heartbeat(app, seconds: float) -> np.ndarray:
    """Gaps (ms) between 10 ms timer ticks over `seconds` of event loop."""
    clock, gaps = QElapsedTimer(), []
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick():
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    t = QTimer()
    t.setInterval(10)
    t.timeout.connect(tick)
    t.start()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()  # the real event loop, as in the app
    t.stop()
    return np.asarray(gaps[1:])


def row(name: str, gaps: np.ndarray, extra: str = "") -> str:
    p50, p99, mx = np.percentile(gaps, 50), np.percentile(gaps, 99), gaps.max()
    return f"{name:<28}{len(gaps):>7}{p50:>9.1f}{p99:>9.1f}{mx:>9.1f}  {extra}"


def family_defaults() -> list[str]:
    """The model the picker shows first for each family."""
    from genviz.core import registry

    return [next(n for n, spec in registry.MODELS.items() if spec.family == f) for f in registry.families()]


def competitor() -> subprocess.Popen:
    """A CPU-bound process beside the app (the usual case on a 2-core laptop). It ends with the bench, also when
    the bench is killed (a killed run left one spinning, and the next runs measured a three-way share)."""
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
    return subprocess.Popen([sys.executable, "-c", spin])


class Where:
    """Where a live period's GUI-thread time went: the longest redraw pass (merging snapshots into the plots),
    the longest repaint of one view, and the longest cycle collection. Gaps far above all three come from
    sharing the CPU and the GIL with the training thread, not from drawing. Made before the window: Qt looks
    up a view's Python paintEvent once, so the timing wrapper must be in place when the views are built."""

    _paint_orig = None  # pyqtgraph's GraphicsView.paintEvent, wrapped once per process (see _timed_paint)
    current = None  # the Where that records repaints now, if any

    def __init__(self):
        self.redraw = self.paint = self.gc = 0.0
        self.gc_generation = None
        self.window, self.active, self._gc_t0 = None, False, None
        self._timed_paint()

    @classmethod
    def _timed_paint(cls) -> None:
        """Wrap GraphicsView.paintEvent once and never restore it: PySide caches a view's Python override when
        the view is made, and a view built under a wrapper that was later put back and freed called freed memory
        (a segfault a few seconds after the EBM's live period, when its animation timer repainted)."""
        if cls._paint_orig is not None:
            return
        from pyqtgraph.widgets.GraphicsView import GraphicsView

        cls._paint_orig = orig = GraphicsView.paintEvent

        def paint(view, ev):
            t0 = time.perf_counter()
            orig(view, ev)
            where = Where.current
            if where is not None and where.active:
                where.paint = max(where.paint, time.perf_counter() - t0)

        GraphicsView.paintEvent = paint

    def watch(self, window) -> "Where":
        self.window = window
        return self

    def __enter__(self):
        w, where = self.window, self

        def redraw():
            t0 = time.perf_counter()
            type(w).redraw(w)
            where.redraw = max(where.redraw, time.perf_counter() - t0)

        w.timer.timeout.disconnect()
        w.timer.timeout.connect(redraw)
        gc.callbacks.append(self._collected)
        self.active, Where.current = True, self
        return self

    def _collected(self, phase, info):
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        elif self._gc_t0 is not None and time.perf_counter() - self._gc_t0 > self.gc:
            self.gc, self.gc_generation = time.perf_counter() - self._gc_t0, info["generation"]

    def __exit__(self, *_exc):
        self.active, Where.current = False, None
        gc.callbacks.remove(self._collected)
        self.window.timer.timeout.disconnect()
        self.window.timer.timeout.connect(self.window.redraw)

    def __str__(self):
        gen = "" if self.gc_generation is None else f" (generation {self.gc_generation})"
        return (f"longest: redraw {self.redraw * 1e3:.0f}, repaint {self.paint * 1e3:.0f}, "
                f"gc {self.gc * 1e3:.0f} ms{gen}")


def measure(app, name: str, seconds: float, snapshot_every: int | None) -> tuple[np.ndarray, np.ndarray, float, Where]:
    """(live gaps, frozen gaps, steps/s, where the GUI thread's time went) of `name` on its default dataset,
    training in the real window."""
    from genviz.gui.main_window import MainWindow
    from genviz.gui.render import _blank_settings

    where = Where()
    w = MainWindow(settings=_blank_settings(), persist=False, model=name)
    w.train_form.set_values({"steps": 10_000_000})
    if snapshot_every:
        w.run.snapshot_every.setValue(snapshot_every)
    w.reset()
    w.show()
    w.play()
    heartbeat(app, 1.5)  # warm-up: first snapshot, allocator, imports
    t0, s0 = time.perf_counter(), w.latest.step if w.latest else 0
    with where.watch(w):
        busy = heartbeat(app, seconds)
    rate = ((w.latest.step if w.latest else 0) - s0) / (time.perf_counter() - t0)
    w.timer.stop()  # same training, no redraws: what the worker alone costs the event loop
    frozen = heartbeat(app, seconds / 3)
    w.close()
    # gone before the next model, as the app's replaced panels are (deleteLater): a closed window left to the
    # cycle collector was destroyed, 170 ms of widget destructors, in the middle of the next model's live period
    w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    gc.collect()
    return busy, frozen, rate, where


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0, help="of live training per model (plus a third "
                                                               "of that frozen)")
    ap.add_argument("--models", nargs="*", help="default: each family's default model")
    ap.add_argument("--snapshot-every", type=int, default=None, help="default: the model's own")
    ap.add_argument("--no-competitor", action="store_true", help="no CPU-bound process beside the app")
    ap.add_argument("--switch-interval-ms", type=float, default=None,
                    help="override the GIL switch interval (Python's default is 5 ms)")
    args = ap.parse_args()
    from genviz.gui.app import application

    app = application()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    models = args.models or family_defaults()
    rival = None if args.no_competitor else competitor()
    try:
        idle = heartbeat(app, 2.0)
        results = [(m, *measure(app, m, args.seconds, args.snapshot_every)) for m in models]
    finally:
        if rival is not None:
            rival.kill()
            rival.wait()
    import torch

    print(f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, GIL switch interval "
          f"{sys.getswitchinterval() * 1000:g} ms, competitor process: {'no' if rival is None else 'yes'}")
    print(f"{'heartbeat 10 ms':<28}{'ticks':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    print(row("idle window", idle))
    ok = True
    for name, busy, frozen, rate, where in results:
        p99, mx = np.percentile(busy, 99), busy.max()
        met = p99 < P99_MS and mx < MAX_MS and rate > 0  # a model that never trained measured nothing
        ok &= met
        verdict = "met" if met else ("NOT TRAINING" if rate <= 0 else "MISSED")
        print(row(f"{name}, plots frozen", frozen))
        print(row(f"{name}, live plots", busy, f"{rate:,.0f} steps/s  {verdict}  ({where})"))
    print(f"targets while training with live plots: p99 < {P99_MS} ms and max < {MAX_MS} ms")
    return 0 if ok else 1


P99_MS, MAX_MS = 30, 100

if __name__ == "__main__":
    sys.exit(main())
