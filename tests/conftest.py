"""Fixtures for the whole suite."""
from __future__ import annotations

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
