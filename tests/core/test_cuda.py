"""`--device cuda` trains every registered model with the same numbers as the CPU (#17, target 6).

Each model trains a few steps through a real Session on each device, from the same seed and the same batches,
with its held-out metrics and its panel's arrays. `RandomOnCpu` gives both runs the same noise (CPU and CUDA
generators are different algorithms), so what differs is only the arithmetic: per-step losses and held-out
metrics must agree to float32 rounding, and the views must show the same picture. TF32 is off for the
comparison (torch's default for cuDNN convolutions is on: ~1e-3 relative, which an image GAN's steps amplify).

A CUDA run's checkpoint resumes on the CPU (a run trained on a GPU box, continued on a laptop), through the
real `genviz train` command. Skipped without CUDA; `always=True` checks the noise mechanics on any machine.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genviz.core import data as data_mod
from genviz.core import registry
from genviz.core.session import Session
from random_on_cpu import RandomOnCpu

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
STEPS = 4
TIMINGS = {"speed", "speedup"}  # MAF/IAF/distill measure their own density and sampling seconds: no arithmetic


def small(ds: data_mod.Dataset) -> data_mod.Dataset:
    """Held-out sets cut to 500 (their metrics run at both snapshots on both devices); images without dynamic
    binarization, whose draw comes from the batch generator on a CPU and from the training stream on a GPU."""
    cut = {k: (v[:500] if k != "train" else v) for k, v in ds.labels.items()}
    return dataclasses.replace(ds, val=ds.val[:500], test=ds.test[:500], labels=cut, binarize=False)


@pytest.fixture(scope="module")
def datasets():
    cache = {}

    def get(name):
        if name not in cache:
            if name not in data_mod.TOY2D and not os.environ.get("GENVIZ_DATA"):
                pytest.skip("image models need GENVIZ_DATA (../shared/data)")
            cache[name] = small(data_mod.load(name))
        return cache[name]
    return get


@pytest.fixture
def no_tf32():
    """Full float32 products on the GPU for the comparison, torch's settings restored after it."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def train(name: str, ds, device: str, always: bool = False) -> dict:
    """A Session's STEPS steps on `device`: per-step losses, final metrics and arrays, all numpy."""
    mode = RandomOnCpu(always=always)
    with mode:
        s = Session(name, ds, None, {"steps": STEPS, "snapshot_every": STEPS, "seed": 0, "device": device})
        snaps = list(s.run())
    last = snaps[-1]
    assert last.status == "done", f"{name} on {device}: {last.status} {last.message}"
    losses = {k: np.concatenate([sn.losses[k] for sn in snaps if k in sn.losses]) for k in last.losses}
    for sn in snaps:
        for v in list(sn.arrays.values()) + list(sn.losses.values()):
            assert not isinstance(v, torch.Tensor), f"{name} on {device}: a snapshot holds a torch tensor"
    return {"losses": losses, "metrics": last.metrics, "arrays": last.arrays, "redirected": mode.redirected}


def assert_same(name: str, a: dict, b: dict, rtol: float) -> None:
    assert a["losses"].keys() == b["losses"].keys()
    for k in a["losses"]:
        np.testing.assert_allclose(b["losses"][k], a["losses"][k], rtol=rtol, atol=rtol,
                                   err_msg=f"{name}: loss {k}")
    assert a["metrics"].keys() == b["metrics"].keys()
    for k, v in a["metrics"].items():
        if k in TIMINGS:
            continue
        np.testing.assert_allclose(b["metrics"][k], v, rtol=rtol, atol=rtol, equal_nan=True,
                                   err_msg=f"{name}: held-out {k}")
    assert a["arrays"].keys() == b["arrays"].keys(), name
    for k, x in a["arrays"].items():
        if k in TIMINGS:
            continue
        x, y = np.asarray(x), np.asarray(b["arrays"][k])
        assert x.shape == y.shape, f"{name}: view {k} {x.shape} vs {y.shape}"
        if x.dtype.kind != "f" or x.size == 0:
            continue
        # the same picture: a sampled binary pixel or a point near a threshold may flip, nothing more
        scale = float(np.nanmax(np.abs(x))) if np.isfinite(x).any() else 1.0
        close = np.isclose(y, x, rtol=1e-2, atol=1e-2 * max(scale, 1e-6), equal_nan=True)
        assert close.mean() >= 0.99, f"{name}: view {k} differs in {1 - close.mean():.1%} of its values"


def case(name: str) -> str:
    spec = registry.get(name)
    return spec.default_dataset


@cuda
@pytest.mark.parametrize("name", registry.names())
def test_every_model_trains_on_cuda_with_the_cpus_numbers(name, datasets, no_tf32):
    ds = datasets(case(name))
    on_cpu = train(name, ds, "cpu")
    on_gpu = train(name, ds, "cuda")
    assert_same(name, on_cpu, on_gpu, rtol=2e-3)


def native(name: str, device: str) -> list:
    """Its default dataset as the CLI loads it (dynamic binarization and all), the device's own generators."""
    ds = data_mod.load(case(name))
    s = Session(name, ds, None, {"steps": 20, "snapshot_every": 10, "seed": 0, "device": device})
    return list(s.run())


@cuda
@pytest.mark.parametrize("name", registry.names())
def test_every_model_trains_on_cuda_with_its_own_generators(name):
    """Without the CPU noise above, which would also hide a CPU generator handed to a CUDA draw."""
    if case(name) not in data_mod.TOY2D and not os.environ.get("GENVIZ_DATA"):
        pytest.skip("image models need GENVIZ_DATA (../shared/data)")
    snaps = native(name, "cuda")
    assert snaps[-1].status == "done", snaps[-1].message
    for sn in snaps:
        for k, v in sn.losses.items():
            assert np.isfinite(v).all(), f"{name}: loss {k} {v}"
        assert all(isinstance(v, np.ndarray) or np.isscalar(v) or v is None for v in sn.arrays.values()), name


@pytest.mark.parametrize("name", ["vae", "gan", "ebm"])
def test_the_noise_mechanics_leave_a_cpu_run_bit_for_bit(name, datasets):
    """Without CUDA: sending every draw through the CPU copies changes nothing (the comparison above is fair)."""
    ds = datasets("moons" if name != "ebm" else "8gaussians")
    plain, moved = train(name, ds, "cpu"), train(name, ds, "cpu", always=True)
    assert moved["redirected"] > 0
    assert_same(name, plain, moved, rtol=0.0)


@cuda
def test_a_run_trained_on_cuda_resumes_on_the_cpu(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "genviz", "train", "realnvp", "--steps", "60", "--snapshot-every", "20", "-q",
           "--out", str(out)]
    first = subprocess.run([*cmd, "--device", "cuda", "--until", "30"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([sys.executable, "-m", "genviz", "train", "--resume", str(out), "--device", "cpu",
                             "-q"], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    rows = Path(out, "metrics.csv").read_text().splitlines()
    steps = [int(r.split(",")[0]) for r in rows[1:]]
    assert steps[-1] == 60 and 30 in steps, steps
