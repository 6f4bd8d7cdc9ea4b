"""The probe lab: the button trains the three small models in a worker thread and shows their probe
accuracies and 2D embeddings; Stop ends a run early. Synthetic 10-class 'digits' keep it fast."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from genviz.core.data import Dataset
from genviz.gui.labs import LABS
from genviz.gui.labs.probe_lab import KINDS, ProbeLab


def block_digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class c lights the c-th 7x7 block of a 4x4 grid over 28x28: linearly separable from the pixels."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.3
    for c in range(10):
        r, k = divmod(c, 4)
        x[y == c, :, 7 * r:7 * r + 7, 7 * k:7 * k + 7] += 0.7
    return x, y


@pytest.fixture
def lab(qtbot):
    xtr, ytr = block_digits(400, 0)
    xva, yva = block_digits(1000, 1)
    data = Dataset("mnist", "image", xtr, xva, xva, {"train": ytr, "val": yva, "test": yva}, binarize=False)
    lab = ProbeLab()
    qtbot.addWidget(lab)
    lab.data = data
    lab.n_train.setValue(200)
    lab.n_test, lab.probe_steps = 300, 100
    return lab


def test_train_and_probe_button_fills_bars_and_embeddings(lab, qtbot):
    assert ProbeLab in LABS and "Train" in lab.status.text()
    lab.steps.setValue(2)
    qtbot.mouseClick(lab.run_button, Qt.LeftButton)
    assert not lab.run_button.isEnabled() and lab.stop_button.isEnabled()
    qtbot.waitUntil(lambda: lab.thread is None, timeout=120_000)
    r = lab.result
    assert r["pixels"]["test_acc"] > 0.9  # the blocks are linearly separable
    for kind, _, _ in KINDS:
        assert 0.0 <= r[kind]["test_acc"] <= 1.0
    heights = lab.trained_bars.opts["height"]
    assert list(heights) == [r[k]["test_acc"] for k, _, _ in KINDS]
    assert len(lab.pca_dots["vae"].data) == 300 and f"{r['gan']['test_acc']:.3f}" in lab.status.text()
    assert lab.run_button.isEnabled() and not lab.stop_button.isEnabled()


def test_stop_ends_a_run_early(lab, qtbot):
    lab.steps.setValue(5000)
    qtbot.mouseClick(lab.run_button, Qt.LeftButton)
    qtbot.mouseClick(lab.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: lab.thread is None, timeout=60_000)
    assert lab.result is not None and lab.result["stopped"] and "vae" not in lab.result
    assert "stopped" in lab.status.text()


def test_a_checkpointed_model_is_probed_as_trained(lab, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from genviz.core import checkpoint, probe

    vae = probe.train_small("vae", lab.data, 3, seed=7)
    path = checkpoint.save(vae, tmp_path / "checkpoint.pt")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), "genviz checkpoint (*.pt)"))
    qtbot.mouseClick(lab.load_button, Qt.LeftButton)
    assert set(lab.loaded) == {"vae"} and "checkpoint.pt" in lab.status.text()
    lab.steps.setValue(1)
    qtbot.mouseClick(lab.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: lab.thread is None, timeout=120_000)
    r = lab.result["vae"]
    assert r["from_checkpoint"] and r["at_init"] is None and "your checkpoint" in lab.status.text()
    d = lab.data
    direct = probe.probe_accuracy(lambda x: probe.extract(probe.vae_features, checkpoint.load(path), x),
                                  d.train[:200], d.labels["train"][:200], d.val[:300], d.labels["val"][:300],
                                  steps=100, seed=0)
    assert r["test_acc"] == pytest.approx(direct["test_acc"])
    bad = tmp_path / "not_a_checkpoint.pt"
    bad.write_bytes(b"junk")
    lab.load_checkpoint(str(bad))
    assert "cannot probe" in lab.status.text() and set(lab.loaded) == {"vae"}
