import dataclasses
import math

import numpy as np
import pytest
import torch

from genviz.core import data
from genviz.core.config import ConfigError
from genviz.core.session import Session
from model_contract import is_plain


@pytest.fixture(scope="module")
def moons():
    return data.load("moons", n=3000, seed=0)


def _session(ds, **train):
    base = {"steps": 60, "batch_size": 64, "snapshot_every": 20}
    return Session("realnvp", ds, {"hidden": 16, "n_layers": 4}, {**base, **train}, view={"res": 24, "n_samples": 50})


def test_snapshots_hold_only_plain_data(moons):
    snaps = list(_session(moons).run())
    assert [s.step for s in snaps] == [0, 20, 40, 60]  # one snapshot per step: the last is the "done" one
    assert snaps[-1].status == "done"
    for s in snaps:
        for value in (s.losses, s.metrics, s.arrays, s.steps, s.step, s.steps_per_s):
            assert is_plain(value), type(value)
        assert not any(isinstance(v, torch.Tensor) for v in s.arrays.values())
    assert "data" in snaps[0].arrays and "data" not in snaps[1].arrays  # static data is sent once
    assert snaps[-1].arrays["log_density"].shape == (24, 24)  # the final snapshot always has fresh arrays
    # every step's loss arrives exactly once, in order
    steps = np.concatenate([s.steps for s in snaps])
    assert steps.tolist() == list(range(1, 61))


def test_same_seed_same_first_100_losses(moons):
    def losses(seed):
        s = _session(moons, steps=100, seed=seed, snapshot_every=50)
        return np.concatenate([snap.losses["loss"] for snap in s.run() if snap.losses])

    a, b, c = losses(3), losses(3), losses(4)
    assert len(a) == 100 and np.array_equal(a, b) and not np.array_equal(a, c)


def test_pause_step_play_and_stop_commands(moons):
    s = _session(moons, steps=1000)
    s.send("pause")
    s.send("step", 3)
    run = s.run()
    first = next(run)
    assert first.step == 0 and first.status == "paused"  # commands sent before run() apply at once
    got = [next(run) for _ in range(3)]
    assert [g.step for g in got] == [1, 2, 3] and all(g.status == "paused" for g in got)
    s.send("set", "lr", 1e-4)
    s.send("play")
    s.send("stop")
    rest = list(run)
    assert rest[-1].status == "stopped" and 3 <= s.step < 1000
    assert s.train.lr == 1e-4 and s.optimizers[0].param_groups[0]["lr"] == 1e-4


def test_paused_session_blocks_until_stepped(moons):
    import threading

    s = _session(moons, steps=1000)
    s.send("pause")
    run = s.run()
    assert next(run).status == "paused"
    out = []
    t = threading.Thread(target=lambda: out.append(next(run)))
    t.start()
    t.join(0.3)
    assert t.is_alive() and s.step == 0  # paused: no training happens on its own
    s.send("step", 1)
    t.join(2)
    assert out and out[0].step == 1


def test_bad_live_setting_is_reported_not_fatal(moons):
    s = _session(moons, steps=40)
    s.send("set", "lr", -1)
    snaps = list(s.run())
    assert any("lr" in x.message for x in snaps)
    assert snaps[-1].status == "done" and s.train.lr > 0


def test_nan_loss_stops_cleanly_and_restores_last_good_state(moons, tmp_path):
    from genviz.core import checkpoint
    from genviz.core.runs import RunWriter

    s = Session("realnvp", moons, {"hidden": 16, "n_layers": 2}, {"steps": 200, "batch_size": 64,
                                                                 "snapshot_every": 10},
                view={"res": 8}, writer=RunWriter(tmp_path, "moons"))
    run = s.run()
    for snap in run:
        if snap.step == 30:
            break
    good = {k: v.clone() for k, v in s.model.state_dict().items()}
    best = dict(s.best)
    assert best["step"] == 30  # the held-out NLL improves this early: the restored state must keep this best
    with torch.no_grad():
        s.model.layers[0].net[0].weight.fill_(float("nan"))
    rest = list(run)
    assert rest[-1].status == "diverged"
    assert "NaN" in rest[-1].message and "step 30" in rest[-1].message and "step 31" in rest[-1].message
    assert s.step == 30 and s.best == best
    for k, v in s.model.state_dict().items():
        assert torch.equal(v, good[k])
    model, payload = checkpoint.load_full(tmp_path / "checkpoint.pt")
    assert payload["step"] == 30 and all(torch.isfinite(p).all() for p in model.parameters())


def test_refuses_batch_larger_than_data_and_wrong_data_kind(moons):
    with pytest.raises(ConfigError, match="batch_size"):
        Session("realnvp", moons, train={"batch_size": 5000})
    img = data.Dataset("mnist", "image", torch.zeros(10, 1, 28, 28), torch.zeros(2, 1, 28, 28),
                       torch.zeros(2, 1, 28, 28))
    with pytest.raises(ConfigError, match="dataset"):
        Session("realnvp", img, train={"batch_size": 4})


def test_eta_and_rate(moons):
    snaps = list(_session(moons).run())
    mid = snaps[1]
    assert mid.steps_per_s > 0 and math.isfinite(mid.eta_s) and mid.eta_s >= 0


def test_cosine_schedule_decays_lr_to_two_percent(moons):
    s = _session(moons, steps=40, lr_schedule="cosine", lr=1e-2)
    seen = []
    for snap in s.run():
        seen.append((s.step, s.optimizers[0].param_groups[0]["lr"]))
    lrs = dict(seen)
    assert lrs[20] == pytest.approx(1e-2 * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * 19 / 40))))
    assert lrs[40] < 1e-2 * 0.03 and lrs[20] < 1e-2
    assert [lr for _, lr in seen[1:]] == sorted((lr for _, lr in seen[1:]), reverse=True)


def test_panel_arrays_stay_within_their_time_budget(moons):
    """Snapshots every step: the costly arrays are recomputed only as often as what the held-out metrics leave
    of SNAPSHOT_BUDGET allows, but the first, a paused step and the last always get fresh ones."""
    from genviz.core.session import SNAPSHOT_BUDGET

    s = Session("realnvp", moons, {"hidden": 16, "n_layers": 4}, {"steps": 400, "batch_size": 64, "snapshot_every": 1},
                view={"res": 24, "n_samples": 200})
    snaps = list(s.run())
    with_arrays = [x.step for x in snaps if "log_density" in x.arrays]
    assert with_arrays[0] == 0 and with_arrays[-1] == 400
    assert 3 <= len(with_arrays) < len(snaps) / 2  # refreshed, but far from every snapshot
    assert s.seconds["arrays"] <= 2 * SNAPSHOT_BUDGET * s.seconds["train"] + 0.2  # the forced first/last ones aside
    s2 = Session("realnvp", moons, {"hidden": 16, "n_layers": 4}, {"steps": 100, "batch_size": 64, "snapshot_every": 1})
    s2.send("pause")
    s2.send("step", 2)
    run = s2.run()
    paused = [next(run) for _ in range(3)]
    assert all("log_density" in x.arrays for x in paused)  # a user stepping by hand sees every step


def test_checkpoints_wait_while_their_held_out_evaluation_would_cost_too_much(moons, tmp_path, monkeypatch):
    """A run folder asks for a checkpoint at every step here (checkpoint_every ~0); each one comes with a
    held-out evaluation, made slow (20 ms) as NADE's on 10,000 digits is. They are spaced so those evaluations
    stay within CHECKPOINT_BUDGET of training time, and checkpoints are still written during the run."""
    import time

    from genviz.core import runs
    from genviz.core.session import CHECKPOINT_BUDGET

    writer = runs.RunWriter(tmp_path / "run", "moons", checkpoint_every=1e-9)
    saved = []
    real_save = writer.save_checkpoint
    monkeypatch.setattr(writer, "save_checkpoint", lambda session, *a: saved.append(session.step)
                        or real_save(session, *a))
    s = Session("realnvp", moons, {"hidden": 16, "n_layers": 2},
                {"steps": 3000, "batch_size": 64, "snapshot_every": 10**5}, with_arrays=False, writer=writer)
    real_metrics, evaluated = s.model.val_metrics, []

    def slow_metrics(data):
        time.sleep(0.02)
        evaluated.append(s.step)
        return real_metrics(data)

    monkeypatch.setattr(s.model, "val_metrics", slow_metrics)
    for _ in s.run():
        pass
    mid_run = [step for step in saved if 0 < step < 3000]
    assert len(mid_run) >= 2  # still checkpointing while it trains
    # each evaluation costs ≥ 20 ms: their count bounds their time (the first and last aside); it was every step
    assert len(evaluated) - 2 <= CHECKPOINT_BUDGET * s.seconds["train"] / 0.02 + 1


def test_a_seeded_build_on_another_thread_never_disturbs_a_run(moons):
    """The GUI builds models (seeded) while a worker trains: the run's losses must not change."""
    import threading

    from genviz.core import registry

    def losses(with_builder: bool):
        stop = threading.Event()

        def builder():
            while not stop.is_set():
                registry.build("maf", data_dim=2, seed=0, hidden=8)

        t = threading.Thread(target=builder)
        if with_builder:
            t.start()
        try:
            s = Session("vae", moons, {"hidden": 16}, {"steps": 60, "batch_size": 64, "snapshot_every": 60},
                        with_arrays=False)
            return np.concatenate([x.losses["loss"] for x in s.run() if x.losses])
        finally:
            stop.set()
            if with_builder:
                t.join()

    assert np.array_equal(losses(False), losses(True))


def test_send_from_a_signal_handler_mid_drain_never_deadlocks():
    """The CLI's SIGTERM/Ctrl-C handler calls send() on the main thread, which may be inside _drain() at that
    moment. A queue whose put() takes the lock get() holds would deadlock there (CI hung 60 s on SIGTERM once).
    A timer fires a handler that sends while the loop drains, thousands of times; run in a subprocess so a
    deadlock fails the test instead of hanging the suite."""
    script = """
import signal
from genviz.core import data
from genviz.core.session import Session
s = Session("realnvp", data.load("moons", n=500, seed=0), {"hidden": 8, "n_layers": 2}, {"batch_size": 32})
sent = [0]
def handler(signum, frame):
    s.send("play"); sent[0] += 1
signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 2e-4, 2e-4)
while sent[0] < 20000:
    s._drain()
signal.setitimer(signal.ITIMER_REAL, 0)
print("ok", sent[0])
"""
    import subprocess, sys
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90)
    assert p.returncode == 0 and p.stdout.startswith("ok"), p.stderr[-800:]


def test_weight_decay_shrinks_the_weights_and_is_a_live_setting(moons):
    """weight_decay is an L2 pull on the weights (each group's "l2"; Adam's own weight_decay stays 0): the same
    seed trained with it ends with smaller weights,
    and a live change reaches the optimizer at once (a resumed optimizer state brings its old value: the config wins)."""
    def norm(s):
        return torch.cat([p.detach().flatten() for p in s.model.decayed_parameters()]).norm().item()

    plain, decayed = _session(moons), _session(moons, weight_decay=0.05)
    assert all(g["l2"] == 0.05 and g["weight_decay"] == 0 for o in decayed.optimizers for g in o.param_groups)
    for s in (plain, decayed):
        for _ in s.run():
            pass
    assert norm(decayed) < 0.9 * norm(plain)
    decayed.send("set", "weight_decay", 0.0)
    decayed._drain()
    assert all(g["l2"] == 0.0 for o in decayed.optimizers for g in o.param_groups)
    with pytest.raises(ConfigError):
        _session(moons, weight_decay=-1.0)


def test_train_steps_applies_weight_decay_as_a_session_does(moons):
    """The labs' in-memory trainer takes the same optimizer settings as a Session (one function owns them)."""
    from genviz.core.train import train_steps

    def norm(**over):
        m = train_steps("realnvp", moons, 40, train_overrides={"batch_size": 64, **over}, hidden=16, n_layers=4)
        return torch.cat([p.detach().flatten() for p in m.decayed_parameters()]).norm().item()

    assert norm(weight_decay=0.05) < 0.9 * norm()


def test_the_health_check_finds_any_nan_or_inf_in_any_tensor():
    """Session._health's one-pass check of weights and gradients (each tensor's largest |value|)."""
    from genviz.core.session import _all_finite

    g = torch.Generator().manual_seed(0)
    tensors = [torch.randn(64, 64, generator=g), torch.randn(5, generator=g, dtype=torch.float64),
               torch.empty(0), torch.tensor(3.0), torch.full((7,), 1e38)]  # huge but finite
    assert _all_finite(tensors) and _all_finite([])
    for i, t in enumerate(tensors):
        for bad in (float("nan"), float("inf"), -float("inf")):
            if not t.numel():
                continue
            broken = [x.clone() for x in tensors]
            broken[i].view(-1)[-1] = bad
            assert not _all_finite(broken), (i, bad)


def test_progress_between_snapshots_is_plain_numbers_at_most_every_interval(moons, monkeypatch):
    """on_progress reports step, total, rate and the step's loss without a snapshot: every step with no
    interval, and at most one report per interval otherwise."""
    from genviz.core import session as session_mod

    seen = []
    s = Session("realnvp", moons, model_config={"n_layers": 2, "hidden": 8},
                train={"steps": 12, "batch_size": 32, "snapshot_every": 1000})
    s.on_progress = lambda *numbers: seen.append(numbers)
    monkeypatch.setattr(session_mod, "PROGRESS_EVERY_S", 0.0)
    snaps = list(s.run())
    assert [n[0] for n in seen] == list(range(1, 13)) and {n[1] for n in seen} == {12}
    assert all(type(n[2]) is float and n[2] > 0 and type(n[3]) is float for n in seen)
    assert np.allclose([n[3] for n in seen], snaps[-1].losses["loss"], rtol=1e-6)
    seen.clear()
    monkeypatch.setattr(session_mod, "PROGRESS_EVERY_S", 3600.0)
    s.train = dataclasses.replace(s.train, steps=24)
    list(s.run())
    assert len(seen) == 1  # the first step after the session began, then nothing within the hour


def test_distillation_passes_from_the_teachers_nll_to_the_students_kl_without_a_false_divergence():
    """At teacher_steps the loss stops being the teacher's NLL (~2) and becomes the student's KL (10^3-10^5 at
    first): the session snapshots the teacher's last steps against their own level and lets the KL set its own.
    Before, the switch read as an explosion, and with no snapshot since step 0 the run was restored to step 0,
    its teacher lost."""
    ds = data.load("moons", n=3000, seed=0)
    s = Session("distill", ds, {"teacher_steps": 300, "n_blocks": 2, "hidden": 16},
                {"steps": 360, "snapshot_every": 1000, "batch_size": 128}, with_arrays=False)
    snaps = list(s.run())
    assert [(x.step, x.status) for x in snaps] == [(0, "running"), (300, "running"), (360, "done")]
    assert snaps[1].losses["loss"].max() < 10 < snaps[2].losses["loss"][0]  # NLL up to the switch, KL after
    # the student's KL is held out only once it trains (NaN before, on purpose: not read as a divergence)
    assert math.isnan(snaps[0].metrics["kl"]) and all(math.isfinite(x.metrics["kl"]) for x in snaps[1:])
    assert set(snaps[2].losses) == {"loss", "teacher_nll"}
    assert s.model.teacher_ready and s.step == 360
