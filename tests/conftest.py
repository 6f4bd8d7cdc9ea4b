"""Fixtures for the whole suite."""
from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tests train tiny models: a second intra-op thread only adds spin-wait contention with the Qt and
    worker threads (measured ~10x slower on 2 busy cores), so the suite runs torch on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="session")
def collect_cycles_on_the_main_thread():
    """No automatic cycle collection during the suite: run by a worker thread (they allocate while training),
    it destroyed Qt widgets that earlier tests left in cycles there and deadlocked the run against the main
    thread (Qt's mutex vs the GIL). Each test ends with a collection on the main thread instead; what the
    big libraries load at import is frozen first, so those collections scan only what tests made. The app
    does the same with pyqtgraph's GarbageCollector."""
    import pyqtgraph  # noqa: F401 (loaded here so that it is frozen below)
    from PySide6 import QtWidgets  # noqa: F401

    gc.collect()
    gc.freeze()
    gc.disable()
    yield
    gc.unfreeze()
    gc.enable()


@pytest.fixture(autouse=True)
def collect_after_each_test():
    yield
    gc.collect()  # on the main thread, after the test's own teardown


@pytest.fixture
def spawn():
    """Start `genviz train` in a subprocess; whatever a failing test leaves running is killed after it."""
    procs = []

    def start(*args, cwd) -> subprocess.Popen:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        p = subprocess.Popen([sys.executable, "-m", "genviz", "train", *args], cwd=cwd, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)


@pytest.fixture
def onednn_calls(monkeypatch):
    """A list that grows by one per product core/gemm.py sends to oneDNN (skips where torch has no oneDNN); on
    for the test whichever library this machine prefers (cpu_kernels.ONEDNN_GEMM)."""
    from genviz.core import gemm

    real = gemm._onednn()
    if real is None:
        pytest.skip("this torch has no oneDNN linear")
    calls = []
    monkeypatch.setattr(gemm, "ENABLED", True)
    monkeypatch.setattr(gemm, "_onednn", lambda: (lambda *a: calls.append(1) or real(*a)))
    return calls
