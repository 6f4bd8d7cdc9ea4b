"""The VAE panel's 'posterior' tab (true p(z|x) vs q, SVI, log p_k(x)) and 'β · collapse' tab, driven by clicks on
short real runs; the numbers shown are the core's own computations on the snapshot's model."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from genviz.core import data
from genviz.core.session import Session
from genviz.core.vae import posterior, rebuild
from genviz.gui.export import export_plots
from genviz.gui.panels.vae import VAEPanel
from genviz.gui.panels.vae_posterior import SVI_STEPS


@pytest.fixture
def panel(qtbot):
    p = VAEPanel()
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def _feed(panel, ds, cfg, steps, lr=3e-3):
    info = {"model": "vae", "family": "vae", "config": dict(cfg), "dataset": ds.name, "kind": ds.kind,
            "data_shape": ds.shape, "bbox": ds.bbox(), "data": ds.train[:500].numpy()}
    panel.begin(info)
    s = Session("vae", ds, cfg, {"steps": steps, "batch_size": 128, "snapshot_every": 50, "lr": lr},
                view={"res": 24})
    panel.command_issued.connect(lambda c: s.send(*c))
    snaps = []
    for snap in s.run():
        panel.show_snapshot(snap)
        snaps.append(snap)
    return s, snaps


def test_click_a_point_shows_its_posterior_then_svi_closes_the_gap(panel, qtbot, tmp_path):
    moons = data.load("moons", n=2000)
    s, snaps = _feed(panel, moons, {"z_dim": 2, "hidden": 32}, steps=150, lr=1e-2)
    tab = panel.posterior
    assert panel.tabs.isTabVisible(panel.posterior_tab)
    panel.tabs.setCurrentIndex(panel.posterior_tab)
    qtbot.waitUntil(lambda: tab.grid is not None and not tab.busy, timeout=10000)  # shown: a first point
    target = tab.data_points[50]  # a point whose encoder q is measurably off (KL ≈ 0.2 nats)
    view = tab.win
    scene = tab.pick_vb.mapViewToScene(QPointF(*target))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.mapFromScene(scene))
    qtbot.waitUntil(lambda: not tab.busy and tab.xd is not None and np.allclose(tab.xd[0].numpy(), target),
                    timeout=10000)
    # the numbers are the core's on the snapshot's weights
    model = rebuild.model_from_arrays("vae", (2,), snaps[-1].arrays)
    x = torch.from_numpy(target).reshape(1, 2)
    ref = posterior.grid_posterior(model, x)
    n = tab.numbers
    assert n["log_px"] == pytest.approx(ref["log_px"], abs=1e-3)
    assert n["log_px"] - n["elbo_enc"] == pytest.approx(n["kl_grid"], abs=0.03) and n["kl_grid"] >= 0
    assert f"{n['log_px']:.3f}" in tab.status.text()
    # log E vs E log: the means rise with k toward log p(x) (on average), never far above it
    means = [n["phat_means"][k] for k in (1, 5, 50, 500)]
    assert means[0] < means[-1] <= n["log_px"] + 0.01
    # SVI: this x's own q, its ELBO climbing toward log p(x)
    tab.timer.setInterval(1)
    qtbot.mouseClick(tab.optimize_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.svi is not None and len(tab.svi.trace) >= SVI_STEPS and not tab.busy, timeout=30000)
    gap_enc, gap_svi = n["log_px"] - n["elbo_enc"], n["log_px"] - n["elbo_svi"]
    assert gap_enc > 0.1 and -0.02 < gap_svi < gap_enc / 2
    assert n["kl_svi"] < n["kl_grid"] / 2  # the same, read off the grid: KL(q_SVI ‖ p(z|x)) < KL(q_enc ‖ p(z|x))
    assert tab.svi_curve.xData is not None and len(tab.grid_curve.xData) > 10
    assert "amortization gap" in tab.status.text()
    qtbot.mouseClick(tab.encoder_button, Qt.LeftButton)
    assert "elbo_svi" not in tab.numbers and len(tab.svi_curve.getData()[0] if tab.svi_curve.getData()[0] is not None
                                                   else []) == 0
    paths = export_plots({k: v for k, v in panel.plots().items() if k in ("posterior", "log_phat_hist")}, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_beta_box_sends_a_live_command_and_rate_distortion_traces_the_run(panel, qtbot):
    moons = data.load("moons", n=2000)
    s, snaps = _feed(panel, moons, {"z_dim": 3, "hidden": 16}, steps=100)
    tab = panel.collapse
    assert panel.tabs.isTabVisible(panel.collapse_tab) and "au" in panel.own_metrics
    with qtbot.waitSignal(panel.command_issued) as sig:
        tab.beta.setValue(4.0)
    assert sig.args[0] == ("model_set", "beta", 4.0)
    list(s.run())  # the session takes the queued command before its next steps
    assert s.model.cfg.beta == 4.0
    rates, dists = tab.rd_path.getData()
    assert len(rates) == len([sn for sn in snaps if sn.step > 0])  # every trained snapshot, once
    last = snaps[-1].metrics
    assert rates[-1] == pytest.approx(last["kl"]) and dists[-1] == pytest.approx(last["rec"])
    assert f"{last['kl'] + last['rec']:.3f}" in tab.status.text()  # R + D = the NELBO, as shown
    assert tab.au_curve.getData()[1][-1] == last["au"]
    assert len(tab.var_bars.opts["height"]) == 3
    tab.set_arrays({"kl_weight": 2.5})
    assert "β in use 2.5" in tab.status.text()
    tab.begin({"config": {"beta": 1.0}})  # a new run: nothing of the last one's β is shown, even after a snapshot
    tab.set_arrays({"unit_var": np.ones(3)})
    assert "β in use" not in tab.status.text()


def test_panel_decodes_an_autoregressive_decoder_as_the_model_does(panel):
    from genviz.core import registry
    from genviz.core.vae import nets, viz

    torch.manual_seed(0)
    vae = registry.build("vae", data_shape=(1, 28, 28), z_dim=2, hidden=16, decoder="autoregressive").eval()
    with torch.no_grad():
        vae.ar.w2.normal_(0, 0.05), vae.ar.weight.normal_(0, 0.05)
    panel.arrays = {**nets.export_params(vae), **viz.decoder_arrays(vae), "recon_in": np.zeros((8, 28, 28))}
    z = np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)
    with torch.no_grad():
        expected = vae.decode_mean(torch.from_numpy(z)).reshape(3, 28, 28).numpy()
    np.testing.assert_allclose(panel.decode(z), expected, atol=1e-4)


def test_beta_edited_in_the_model_form_goes_live_to_the_trained_model(qtbot, window):
    """β is a live field: after training has begun, editing it in the form sends ("model_set", "beta", …)
    instead of asking for a Reset; the model trains on it from the next step."""
    picker = window.picker
    picker.family.setCurrentText("vae")
    picker.model.setCurrentIndex(picker.model.findData("vae"))
    picker.dataset.setCurrentIndex(picker.dataset.findText("moons"))
    window.model_form.set_values({"hidden": 8})
    assert window.reset()
    window.step_once()
    qtbot.waitUntil(lambda: window.latest is not None and window.latest.step >= 1, timeout=30_000)
    window.model_form.widgets["beta"].setValue(3.5)  # a user's committed edit
    assert window.controller.model_live == {"beta": 3.5}
    assert "applies to" in window.status.message.text()
    window.step_once()
    qtbot.waitUntil(lambda: window.latest.step >= 2, timeout=30_000)
    assert window.controller.model.cfg.beta == 3.5


def test_tabs_built_after_a_run_show_what_tabs_built_before_it_show(qtbot):
    """The posterior, β · collapse and labs tabs are built when first chosen (or asked for). One panel builds them
    before the run, one after: both show the same curves, numbers and state."""
    moons = data.load("moons", n=2000)
    early, late = VAEPanel(), VAEPanel()
    for p in (early, late):
        qtbot.addWidget(p)
    pages = [late.tabs.widget(i) for i in (late.posterior_tab, late.collapse_tab, late.labs_tab)]
    assert all(p.content is None for p in pages)  # not built with the panel
    early.posterior, early.collapse, early.labs  # noqa: B018 (asking builds them)
    for p in (early, late):
        _feed(p, moons, {"z_dim": 3, "hidden": 16}, steps=100)
    assert all(p.content is None for p in pages)  # a run does not build them either
    a, b = early.collapse, late.collapse
    for curve in ("rd_path", "au_curve"):
        (x1, y1), (x2, y2) = getattr(a, curve).getData(), getattr(b, curve).getData()
        assert len(x1) > 1 and np.array_equal(x1, x2) and np.array_equal(y1, y2), curve
    assert a.status.text() == b.status.text() and np.array_equal(a.units, b.units)
    assert early.labs.arrays.keys() == late.labs.arrays.keys() and late.labs.examples is not None
    assert early.posterior.arrays.keys() == late.posterior.arrays.keys()
