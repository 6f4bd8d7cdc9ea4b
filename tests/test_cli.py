import subprocess
import sys

import numpy as np
import pytest

from genviz import cli
from genviz.core import runs


def test_train_writes_a_run_folder_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "realnvp", "--dataset", "moons", "--n-points", "2000", "--steps", "40", "--out", str(out),
            "--set", "hidden=8", "--set", "n_layers=2", "-q"]
    assert cli.main(args) == 0
    for name in ("config.json", "metrics.csv", "checkpoint.pt", "samples.png", "density.png"):
        assert (out / name).stat().st_size > 0, name
    cfg = runs.read_config(out)
    assert cfg["model"] == "realnvp" and cfg["model_config"]["hidden"] == 8 and cfg["step"] == 40
    m = runs.read_metrics(out)
    assert m["step"].tolist() == list(range(1, 41)) and "loss" in m and "val_nll" in m
    # on resume --steps is the run's new planned total; the data comes from the checkpoint
    assert cli.main(["train", "realnvp", "--steps", "50", "--resume", str(out), "--out", str(out), "-q"]) == 0
    assert runs.read_metrics(out)["step"][-1] == 50
    assert "done at step 50" in capsys.readouterr().out


@pytest.mark.parametrize("args,needle", [
    (["train", "realnvp", "--lr", "-1"], "lr"),
    (["train", "realnvp", "--set", "n_layers=0"], "n_layers"),
    (["train", "nosuchmodel"], "unknown model"),
    (["train", "realnvp", "--dataset", "nosuch"], "unknown dataset"),
    (["train", "realnvp", "--set", "wings=2"], "unknown setting"),
    (["train", "realnvp", "--points", "/nonexistent.csv"], "cannot read"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle, capsys):
    assert cli.main(args + ["-q", "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_missing_images_offline_exit_2_with_instructions(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENVIZ_DATA", str(tmp_path))
    assert cli.main(["train", "realnvp", "--dataset", "fashion-mnist", "-q"]) == 2
    assert "GENVIZ_DATA" in capsys.readouterr().err


def test_python_m_genviz_lists_models():
    out = subprocess.run([sys.executable, "-m", "genviz", "list"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "realnvp" in out.stdout and "moons" in out.stdout


def test_a_gan_on_digits_trains_with_its_image_recipe_unless_told_otherwise(tmp_path):
    """The GAN family's 2D recipe (batch 256) on MNIST made a DCGAN step ~4x longer; on images the models that
    take both kinds default to the DCGAN entry's batch 64 and 3,000 steps, on points they keep theirs, and
    a value the user gives wins over either."""
    def train_of(*args):
        out = tmp_path / "-".join(args)
        assert cli.main(["train", "gan", *args, "--steps", "2", "--set", "hidden=8", "--out", str(out), "-q"]) == 0
        return runs.read_config(out)["train"]

    digits, points = train_of("--dataset", "mnist"), train_of("--dataset", "ring8", "--n-points", "2000")
    assert digits["batch_size"] == 64 and points["batch_size"] == 256
    assert train_of("--dataset", "mnist", "--batch-size", "32")["batch_size"] == 32


def test_a_distillation_stopped_in_its_teacher_phase_reports_no_student_kl(tmp_path, capsys):
    """The student's held-out KL is not defined while the teacher trains: metrics.csv leaves it nan (read back
    as missing), the summary line leaves it out instead of printing 'val kl nan'."""
    from genviz.core import run_reader

    out = tmp_path / "d"
    assert cli.main(["train", "distill", "--n-points", "2000", "--set", "teacher_steps=50", "--set", "n_blocks=2",
                     "--set", "hidden=8", "--steps", "20", "--snapshot-every", "10", "-q", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "val teacher_nll" in said and "val kl" not in said and "nan" not in said
    cols = run_reader.read_metrics(out)
    assert np.isnan(cols["val_kl"]).all() and np.isfinite(cols["val_teacher_nll"][[9, 19]]).all()
    assert "kl" not in cols  # no per-step student KL either: the loss is the teacher's NLL
