"""NADE in the autoregressive panel: its snapshots fill the same views as FVSBN's and MADE's, its two
structures are titled as such, and its parameter count is shown beside FVSBN's and MADE's."""
import numpy as np

from genviz.core.session import Session
from test_autoregressive_panel import _info, mnist_slice, panel  # noqa: F401 (the fixture)


def test_nade_fills_every_view_with_counts_beside_fvsbn_and_made(panel, qtbot):  # noqa: F811
    data = mnist_slice(128)
    panel.begin({**_info(data), "model": "nade"})
    s = Session("nade", data, {"hidden": 16, "order": "snake"}, {"steps": 2, "batch_size": 16, "snapshot_every": 2},
                view={"n_grid": 4})
    snap = list(s.run())[-1]
    panel.speed.setValue(64)
    panel.show_snapshot(snap)
    assert panel.grid_img.image.shape == snap.arrays["sample_grid"].shape
    jac = panel.jac_img.image
    assert jac.shape == (784, 784) and np.all(np.triu(jac) == 0) and jac.sum() > 0  # triangular in the order
    mask = panel.mask_plots[0][1].image
    assert mask.shape == (784, 784) and np.array_equal(mask, np.tril(np.ones((784, 784)), -1))  # h_t reads x_<t
    assert panel.mask_plots[1][1].image is None
    assert "shared W" in panel.mask_plots[0][0].titleLabel.text
    n = 784
    nade = 2 * n * 16 + n + 16
    assert panel.mask_note.text().startswith(f"{nade:,} trainable parameters")
    counts = panel.count_note.text()
    assert "16 hidden units" in counts and f"FVSBN {n * (n + 1) // 2:,}" in counts and f"NADE {nade:,}" in counts
    assert f"MADE (one mask) {nade:,}" in counts and f"direct connections {nade + n * n:,}" in counts
    panel.tabs.setCurrentIndex(panel.masks_index)
    panel.grab().save("/tmp/nade_masks.png")
    panel.tabs.setCurrentIndex(panel.sampling_index)
    panel.replay()
    panel.grab().save("/tmp/nade_sampling.png")
    qtbot.waitUntil(lambda: not panel.timer.isActive(), timeout=5000)
