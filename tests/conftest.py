"""Fixtures for the whole suite."""
from __future__ import annotations

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
