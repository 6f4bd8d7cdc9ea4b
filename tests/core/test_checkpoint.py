import pickle

import pytest
import torch

from genviz.core import checkpoint, registry
from genviz.core.checkpoint import CheckpointError


def test_round_trip_gives_the_same_density(tmp_path):
    m = registry.build("realnvp", data_dim=2, n_layers=3, hidden=8)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1)
    opt = torch.optim.Adam(m.parameters())
    m.log_prob(torch.randn(4, 2)).sum().backward()
    opt.step()
    path = checkpoint.save(m, tmp_path / "c.pt", [opt], step=7, note="hi")
    back, payload = checkpoint.load_full(path)
    x = torch.randn(10, 2)
    assert torch.allclose(back.log_prob(x), m.log_prob(x))
    assert payload["step"] == 7 and payload["extra"]["note"] == "hi" and len(payload["optimizers"]) == 1
    assert back.cfg == m.cfg
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


def test_corrupt_file_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.pt"
    p.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(p)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    m = registry.build("realnvp", data_dim=2)
    path = checkpoint.save(m, tmp_path / "c.pt")
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError):
        checkpoint.load(path)


def test_foreign_and_mismatched_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a genviz checkpoint"):
        checkpoint.load(tmp_path / "other.pt")
    m = registry.build("realnvp", data_dim=2, n_layers=2)
    path = checkpoint.save(m, tmp_path / "c.pt")
    payload = torch.load(path, weights_only=True)
    payload["model_config"]["n_layers"] = 5  # config says 5 layers, weights hold 2
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="does not match"):
        checkpoint.load(path)


def test_pickled_code_is_not_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("open('%s', 'w').write('pwned')" % (tmp_path / "pwned"),))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"format": "genviz-checkpoint", "x": Evil()}))
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
