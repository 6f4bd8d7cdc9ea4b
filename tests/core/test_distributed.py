"""The same core under torchrun: two CPU ranks (gloo) train one model and end with identical weights."""
import subprocess
import sys

from genviz.core import checkpoint


def test_torchrun_two_ranks_stay_in_sync(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "genviz", "train", "realnvp", "--steps", "20", "--n-points", "2000", "--out", str(out), "-q",
           "--set", "hidden=8", "--set", "n_layers=2", "--batch-size", "64"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "done at step 20" in res.stdout
    assert "ranks disagree" not in res.stdout  # Dist.in_sync compared weight checksums across ranks
    assert checkpoint.read(out / "checkpoint.pt")["step"] == 20
