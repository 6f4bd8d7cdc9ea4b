"""The contract every registered model meets, checked for each entry of the registry (no list to update).

For each model, on a small dataset of a kind it trains on, built from its defaults:
- a few steps give finite losses and snapshots of plain data (numpy arrays, floats);
- a checkpoint round trip reproduces the weights, log_prob and held-out metrics exactly;
- a run stopped half way and resumed from its checkpoint ends bitwise equal to the same run straight
  through (one CPU thread), although the two runs take snapshots at different steps.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import model_contract
from genviz.core import checkpoint, registry, rng
from genviz.core.runs import RunWriter
from genviz.core.session import Session
from genviz.core.train import train
from model_contract import is_plain

N = 3  # steps before the interruption, and after it
TRAIN = {"batch_size": 16, "lr_schedule": "cosine", "steps": 2 * N, "seed": 3}


@pytest.fixture(scope="module")
def datasets():
    return model_contract.datasets()


def _data_for(name, datasets):
    kinds = registry.get(name).data_kinds
    return datasets["2d"] if "2d" in kinds else datasets[kinds[0]]


def _view(ds):
    return {"res": 12, "n_samples": 64} if ds.kind == "2d" else {}


@pytest.mark.parametrize("name,kind", [(n, k) for n in registry.names() for k in registry.get(n).data_kinds])
def test_trains_and_snapshots_plain_data(name, kind, datasets):
    ds = datasets[kind]  # every kind of data the model says it trains on
    before = torch.random.get_rng_state()
    s = Session(name, ds, {}, {**TRAIN, "steps": 3, "snapshot_every": 1}, view=_view(ds))
    snaps = list(s.run())
    # the run's noise lives in its own stream: building, training, validation and views leave the global one
    assert torch.equal(torch.random.get_rng_state(), before)
    assert snaps[-1].status == "done", snaps[-1].message
    assert [x.step for x in snaps] == [0, 1, 2, 3]  # one snapshot per step, the last one "done"
    losses = {k: np.concatenate([x.losses[k] for x in snaps if k in x.losses]) for k in snaps[1].losses}
    assert losses and all(len(v) == 3 and np.all(np.isfinite(v)) for v in losses.values())
    for x in snaps:
        assert is_plain(x.arrays) and is_plain(x.metrics) and is_plain(x.losses)
        # NaN only where the model says a metric is not defined yet (distillation's KL while its teacher trains)
        assert all(math.isfinite(v) or k in s.model.pending_metrics for k, v in x.metrics.items())


@pytest.mark.parametrize("name", registry.names())
def test_checkpoint_round_trip_is_exact(name, datasets, tmp_path):
    ds = _data_for(name, datasets)
    s = Session(name, ds, {}, {**TRAIN, "steps": 2, "snapshot_every": 2}, with_arrays=False)
    list(s.run())
    path = checkpoint.save(s.model, tmp_path / "c.pt", state=s.training_state(), train=s.train, dataset=ds.spec)
    model, payload = checkpoint.load_full(path)
    for k, v in s.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v.cpu()), k
    s.model.eval()
    with torch.no_grad():
        if hasattr(model, "log_prob"):  # VAEs estimate it by sampling: the same draws for both
            x = ds.val[:32]
            with rng.seeded(0):
                a = model.log_prob(x)
            with rng.seeded(0):
                b = s.model.log_prob(x)
            assert torch.equal(a, b)
        else:  # no density (GANs): their held-out metrics use fixed noise of their own
            assert model.val_metrics(ds) == s.model.val_metrics(ds)
    assert payload["step"] == 2 and payload["train"]["steps"] == 2


@pytest.mark.parametrize("name", registry.names())
def test_resume_is_exact(name, datasets, tmp_path):
    ds = _data_for(name, datasets)
    straight = Session(name, ds, {}, {**TRAIN, "snapshot_every": 1}, view=_view(ds))
    list(straight.run())

    first = Session(name, ds, {}, {**TRAIN, "snapshot_every": N}, view=_view(ds),
                    writer=RunWriter(tmp_path / "run", ds.spec))
    for snap in first.run():
        if snap.step == N:
            first.send("stop")  # as Ctrl-C does: the session stops after this step and checkpoints
    assert first.step == N and snap.status == "stopped"

    result = train(None, ds, {}, {}, tmp_path / "run", resume=tmp_path / "run", progress=False)
    assert result.status == "done" and result.step == 2 * N, result.message
    resumed = checkpoint.load_full(tmp_path / "run" / "checkpoint.pt")[0]
    for k, v in straight.model.state_dict().items():
        assert torch.equal(resumed.state_dict()[k], v.cpu()), f"{name}: {k} differs after resume"
    steps = np.genfromtxt(tmp_path / "run" / "metrics.csv", delimiter=",", names=True)["step"]
    assert steps.tolist() == list(range(1, 2 * N + 1))  # one row per step, across the interruption
