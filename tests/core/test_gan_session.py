"""Every adversarial model trains in a Session, snapshots plain data and takes live model settings."""
import numpy as np
import pytest

from genviz.core.data import split, toy2d
from genviz.core.session import Session

SMALL = dict(hidden=32, depth=2)


@pytest.mark.parametrize("name,extra", [("gan", {"pack": 2}), ("fgan", {"divergence": "kl"}), ("bigan", {}),
                                        ("cyclegan", {})])
def test_session_runs_and_snapshots_plain_data(name, extra):
    data = split(toy2d("ring8", 3000, 0), "ring8")
    s = Session(name, data, model_config={**SMALL, **extra}, train={"steps": 6, "batch_size": 64,
                                                                     "snapshot_every": 3},
                view={"res": 16, "n_samples": 100})
    s.send("model_set", "train_players", "D")
    snaps = list(s.run())
    assert snaps[-1].status == "done" and snaps[-1].step == 6
    assert s.model.cfg.train_players == "D"
    for snap in snaps:
        assert all(isinstance(v, float) for v in snap.metrics.values())
        assert all(isinstance(v, np.ndarray) for v in snap.arrays.values())
    if name != "cyclegan":
        arr = snaps[-1].arrays
        assert arr["d_grid"].shape == arr["dstar_grid"].shape == (16, 16)
        assert arr["manifold"].shape == (15, 15, 2) and arr["grad"].shape == arr["grad_at"].shape
        assert {"modes", "hq"} <= set(snaps[-1].metrics)


def test_session_refuses_unknown_model_setting():
    data = split(toy2d("moons", 2000, 0), "moons")
    s = Session("gan", data, model_config=SMALL, train={"steps": 2, "batch_size": 32})
    s.send("model_set", "hidden", 7)
    snaps = list(s.run())
    assert any("hidden" in snap.message for snap in snaps) and s.model.cfg.hidden == 32


@pytest.mark.parametrize("name", ["gan_preset", "bigan"])
def test_checkpoint_round_trip(tmp_path, name):
    import torch

    from genviz.core import checkpoint, registry

    torch.manual_seed(0)
    model = registry.build(name, data_dim=2, **SMALL, g_ema=0.9)
    path = checkpoint.save(model, tmp_path / "m.pt")
    back = checkpoint.load(path)
    assert type(back) is type(model) and back.cfg == model.cfg
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(back.sample(5, generator=g()), model.sample(5, generator=g()))
