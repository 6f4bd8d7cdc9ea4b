"""Fast from the first click: the window paints before torch is imported, the core loads on a thread.

Importing torch takes seconds; the window's chrome (menus, docks, forms) needs none of it. `MainWindow(defer=
True)` paints first and then calls `load_core`: the core modules are imported on a plain Python thread (the
event loop keeps running), then `on_loaded` runs on the GUI thread. `warm_first_play` imports in the
background what the first optimizer would otherwise import on Play (torch._dynamo: ~1.7 s). This module
imports nothing heavy itself.
"""
from __future__ import annotations

import gc
import importlib
import os
import threading

from PySide6.QtCore import QTimer

# what building a model and a Session needs: imported off the GUI thread before the window becomes usable
CORE_MODULES = ("torch", "genviz.core.registry", "genviz.core.data", "genviz.core.session",
                "genviz.core.checkpoint", "genviz.core.runs", "genviz.core.flows.realnvp")
# what the first Play imports (torch.optim's first optimizer imports torch._dynamo)
WARM_MODULES = ("torch._dynamo", "torch.optim")
POLL_MS = 10


def _import_all(modules, errors: list) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - the GUI thread imports again and reports it properly
            errors.append(e)


def import_in_background(modules, on_done, parent) -> threading.Thread:
    """Import `modules` on a daemon thread; `on_done()` runs on the GUI thread (polled by a QTimer owned by
    `parent`) once they are in sys.modules. A failed import is left for the GUI thread's own import to raise."""
    thread = threading.Thread(target=_import_all, args=(modules, []), name="genviz-import", daemon=True)
    thread.start()
    poll = QTimer(parent)
    poll.setInterval(POLL_MS)

    def check() -> None:
        if not thread.is_alive():
            poll.stop()
            poll.deleteLater()
            on_done()

    poll.timeout.connect(check)
    poll.start()
    return thread


def warm_first_play() -> threading.Thread:
    """Import what the first Play needs, in the background; a Play before it ends waits on the import lock."""
    thread = threading.Thread(target=_import_all, args=(WARM_MODULES, []), name="genviz-warm", daemon=True)
    thread.start()
    return thread


def leave_a_core_for_the_gui() -> None:
    """Torch's intra-op threads default to every core; the training thread then starves the event loop."""
    if "OMP_NUM_THREADS" in os.environ:
        return  # the user chose
    import torch

    torch.set_num_threads(max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1)))


def available_devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def freeze_loaded_objects() -> None:
    """Leave everything alive once the core is loaded (torch's, Qt's and pyqtgraph's modules, the window: ~500k
    objects) out of the cycle collector's scans from now on. The app collects on the GUI thread (pyqtgraph's
    GarbageCollector, app.py), and a scan of all of them stopped the event loop for 120 ms (the first
    collection after torch's import), 120 ms (generation 1) and 230 ms (generation 2, minutes later) while
    training. Objects made later are collected as before; startup's own cyclic garbage is kept (gc.freeze,
    once per process: a second window, or a test suite that froze its imports, adds nothing)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
