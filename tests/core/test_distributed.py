"""The same core under torchrun: two CPU ranks (gloo) train one model data-parallel, end with the same
weights bit for bit, and the run folder is written once, by rank 0 alone.

Each rank runs the real `genviz train` command line through tests/core/torchrun_worker.py, which reports
the rank's own weights (a SHA-256) outside the run folder. The ranks draw different batches (seed + rank),
so equal weights mean their gradients really were averaged.
"""
import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genviz.core import checkpoint
from torchrun_worker import weights_sha256

WORKER = Path(__file__).with_name("torchrun_worker.py")


def _torchrun(tmp_path, *train_args, timeout=240):
    reports = tmp_path / "reports"
    reports.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--rdzv_backend", "c10d", "--rdzv_endpoint", "localhost:0", str(WORKER), str(reports),
           "train", *train_args, "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    ranks = [json.loads((reports / f"rank{r}.json").read_text()) for r in (0, 1)]
    return res, ranks


def _check_one_run(out, ranks, steps: int, batch: int):
    """Both ranks hold rank 0's checkpointed weights; the folder was written by rank 0 alone, once."""
    assert [r["exit"] for r in ranks] == [0, 0]
    assert [r["step"] for r in ranks] == [steps, steps]
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    assert [r["wrote_folder"] for r in ranks] == [True, False]
    assert weights_sha256(checkpoint.read(out / "checkpoint.pt")["state_dict"]) == ranks[0]["weights_sha256"]
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "step" and [int(r[0]) for r in rows[1:]] == list(range(1, steps + 1))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["parallel"] == {"world_size": 2, "nodes": 1, "processes_per_node": 2,
                               "batch_size_per_process": batch, "global_batch_size": 2 * batch}
    assert cfg["train"]["batch_size"] == batch and cfg["step"] == steps


def test_torchrun_two_ranks_stay_in_sync(tmp_path):
    out = tmp_path / "run"
    tb = ["--tensorboard"] if importlib.util.find_spec("tensorboard") else []
    res, ranks = _torchrun(tmp_path, "realnvp", "--steps", "20", "--n-points", "2000", "--out", str(out),
                           "--set", "hidden=8", "--set", "n_layers=2", "--batch-size", "64", *tb)
    assert "done at step 20" in res.stdout
    assert "ranks disagree" not in res.stdout  # Dist.in_sync compared weight checksums across ranks
    _check_one_run(out, ranks, steps=20, batch=64)
    if tb:  # one TensorBoard writer (rank 0's), one events file
        assert len(list((out / "tb").glob("events.out.tfevents.*"))) == 1


@pytest.mark.slow
def test_torchrun_trains_an_mnist_model(tmp_path):
    if not (Path(os.environ.get("GENVIZ_DATA", "")) / "MNIST" / "raw").is_dir():
        pytest.skip("set GENVIZ_DATA to a folder holding MNIST/raw")
    out = tmp_path / "run"
    res, ranks = _torchrun(tmp_path, "made", "--dataset", "mnist", "--steps", "4", "--batch-size", "16",
                           "--set", "hidden=16", "--out", str(out))
    assert "done at step 4" in res.stdout
    _check_one_run(out, ranks, steps=4, batch=16)
    assert (out / "samples.png").is_file()
