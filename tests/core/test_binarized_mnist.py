"""The papers' fixed binarization of MNIST (../shared/data/binarized_mnist) and early stopping on its
validation split."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from genviz.core import binarized_mnist, checkpoint, data
from genviz.core.data import DataError, Dataset
from genviz.core.runs import RunWriter
from genviz.core.session import Session

SHARED = Path(os.environ.get("GENVIZ_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.fixture(scope="module")
def bmnist():
    if not (SHARED / "binarized_mnist" / "binarized_mnist.npz").is_file():
        pytest.fail(f"binarized MNIST is missing from {SHARED}; see ../shared/data/README.md")
    return data.load("binarized-mnist")


def test_the_fixed_split_as_published(bmnist):
    assert bmnist.kind == "image" and not bmnist.binarize  # never re-binarized
    assert bmnist.train.shape == (50_000, 1, 28, 28) and bmnist.val.shape == (10_000, 1, 28, 28)
    assert bmnist.test.shape == (10_000, 1, 28, 28) and bmnist.train.dtype == torch.float32
    for split in (bmnist.train, bmnist.val, bmnist.test):
        assert set(torch.unique(split).tolist()) == {0.0, 1.0}
    # the pixels are the data: a batch is the stored bits, unchanged
    g = torch.Generator().manual_seed(0)
    x = bmnist.batch(64, g)
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}
    assert "binarized-mnist" in data.names() and data.kind_of("binarized-mnist") == "image"


def test_a_different_copy_is_refused_by_its_checksum(tmp_path, monkeypatch):
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    fake = {k: np.zeros((n, 784), np.uint8) for k, n in binarized_mnist.SPLITS.items()}  # right shapes, wrong bits
    np.savez(folder / "binarized_mnist.npz", **fake)
    monkeypatch.setenv("GENVIZ_DATA", str(tmp_path))
    with pytest.raises(DataError, match="SHA-256"):
        data.load("binarized-mnist")
    (folder / "binarized_mnist.npz").write_bytes(b"not an npz")
    with pytest.raises(DataError, match="not a readable npz"):
        data.load("binarized-mnist")
    (folder / "binarized_mnist.npz").unlink()
    with pytest.raises(DataError, match="GENVIZ_DATA"):
        data.load("binarized-mnist")


def test_a_download_is_checked_before_it_is_kept(tmp_path, monkeypatch):
    """Online: the three .amat files are parsed and checked; a wrong copy is refused and nothing is cached."""
    monkeypatch.delenv("GENVIZ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def urlopen(url, timeout=None):  # a short copy: 20 rows of 0/1 pixels per split
        return io.BytesIO("\n".join(" ".join("0" for _ in range(784)) for _ in range(20)).encode("ascii"))

    monkeypatch.setattr(binarized_mnist.urllib.request, "urlopen", urlopen)
    with pytest.raises(DataError, match=r"expected uint8 \(50000, 784\)"):
        data.load("binarized-mnist")
    assert not list(tmp_path.rglob("*.npz"))


def test_early_stopping_keeps_the_best_validation_state(bmnist, tmp_path):
    """A tiny MADE on a slice, end to end: it stops once the held-out NLL stalls and best.pt holds its best."""
    ds = Dataset("binarized-mnist", "image", bmnist.train[:600], bmnist.val[:200], bmnist.test[:200],
                 spec={"name": "binarized-mnist-slice"})
    s = Session("made", ds, {"hidden": 32}, {"steps": 4000, "batch_size": 50, "lr": 3e-2, "snapshot_every": 10,
                                             "early_stop": 20}, with_arrays=False,
                writer=RunWriter(tmp_path / "run", ds.spec))
    snaps = list(s.run())
    last = snaps[-1]
    assert last.status == "stopped" and "early stop" in last.message and last.step < 4000
    vals = [(x.step, x.metrics["nll"]) for x in snaps if "nll" in x.metrics and len(x.steps)]
    best_step, best = min(vals, key=lambda v: v[1])
    assert s.best["step"] == best_step and s.best["value"] == pytest.approx(best)
    model, payload = checkpoint.load_full(tmp_path / "run" / "best.pt")
    assert payload["step"] == best_step
    with torch.no_grad():
        assert model.val_metrics(ds)["nll"] == pytest.approx(best, rel=1e-6)
    assert checkpoint.read(tmp_path / "run" / "checkpoint.pt")["step"] == last.step  # the last state too
