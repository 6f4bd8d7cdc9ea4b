"""What each torchrun process runs in tests/core/test_distributed.py: the real `genviz train` command line,
plus a report of what this rank ended with, written outside the run folder (REPORT_DIR/rank<k>.json).

    torchrun --nproc_per_node 2 tests/core/torchrun_worker.py REPORT_DIR train realnvp --out RUN ...
"""
import hashlib
import json
import os
import sys
from pathlib import Path

from genviz import cli
from genviz.core import train as train_mod


def weights_sha256(state_dict: dict) -> str:
    """One digest of every tensor's exact bytes, by name."""
    digest = hashlib.sha256()
    for name, t in sorted(state_dict.items()):
        digest.update(name.encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main() -> int:
    report_dir, argv = Path(sys.argv[1]), sys.argv[2:]
    sessions = []
    real_train = train_mod.train

    def train(*args, **kwargs):  # cmd_train imports train when it runs: this one keeps its session
        return real_train(*args, on_ready=sessions.append, **kwargs)

    train_mod.train = train
    code = cli.main(argv)
    s = sessions[0]
    report = {"rank": int(os.environ["RANK"]), "exit": code, "step": s.step,
              "weights_sha256": weights_sha256(s.model.state_dict()), "wrote_folder": s.writer is not None}
    (report_dir / f"rank{report['rank']}.json").write_text(json.dumps(report))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
