"""Reading run folders while (or after) another process writes them: a metrics.csv tail, a run listing, a
config diff, and the follow state (following / stalled / finished).

Everything here only reads: no file is opened for writing, the folder's lock is never taken, nothing is
created (following a run on a shared file system must not disturb its writer). No torch, no Qt, so the
Runs dock can list folders before the core is loaded.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# The same names as genviz.core.runs (which imports torch; a test checks they agree).
OWNER_NAME = ".genviz.owner"
FINAL_STATUSES = ("done", "stopped", "diverged", "peer_lost", "error")
STALL_MIN_S = 30.0  # no write for this long (or 3 checkpoint intervals, if longer) reads as stalled
TAIL_BYTES = 8192  # enough for the last metrics row of any model


@dataclass
class Chunk:
    """Rows appended since the last poll, by column ('step' included). `reset`: the file was replaced or cut
    back (a resume cuts metrics.csv to its checkpoint's step), so these columns are the whole file again."""

    columns: dict[str, np.ndarray]
    reset: bool = False

    def __len__(self) -> int:
        step = self.columns.get("step")
        return 0 if step is None else len(step)


class MetricsTail:
    """Incremental reader of a growing metrics.csv: each `poll()` reads only the bytes written since the last.

    A last line without its newline is kept for the next poll (the writer's buffer may end mid-row). A file
    that is shorter than what was read, or another file now (os.replace: a new inode), is read again from
    the start and reported with `reset=True`.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.offset = 0
        self.header: list[str] | None = None
        self._partial = b""
        self._ident: tuple | None = None

    def _restart(self) -> None:
        self.offset, self.header, self._partial = 0, None, b""

    def poll(self) -> Chunk:
        try:
            st = os.stat(self.path)
        except OSError:
            return Chunk({})
        ident = (st.st_dev, st.st_ino)
        reset = self._ident is not None and (ident != self._ident or st.st_size < self.offset)
        if reset:
            self._restart()
        self._ident = ident
        if st.st_size == self.offset:
            return Chunk(self._empty(), reset)
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(st.st_size - self.offset)  # no further: what lands meanwhile is the next poll's
        except OSError:
            return Chunk(self._empty(), reset)
        self.offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        rows = [ln.rstrip(b"\r").decode("utf-8", "replace") for ln in lines if ln.strip()]
        if self.header is None and rows:
            self.header = rows.pop(0).split(",")
        return Chunk(parse_rows(self.header or [], rows), reset)

    def _empty(self) -> dict:
        return {h: np.empty(0) for h in self.header} if self.header else {}


def read_metrics(folder) -> dict[str, np.ndarray]:
    """metrics.csv as columns of floats ({} for an empty file): an empty cell is NaN, a damaged row (a line
    half-written by a killed writer, then appended after by a resume) is skipped rather than costing the whole
    history."""
    lines = (Path(folder) / "metrics.csv").read_text().splitlines()
    if not lines:
        return {}
    return parse_rows(lines[0].split(","), [line for line in lines[1:] if line])


def parse_rows(header: list[str], rows: list[str]) -> dict[str, np.ndarray]:
    """CSV rows of numbers as float columns; an empty or missing cell is NaN, a damaged row is skipped."""
    width = len(header)
    fast = _parse_whole(width, rows)
    if fast is not None:
        return {h: fast[:, i] for i, h in enumerate(header)}
    table = []
    for row in rows:
        cells = row.split(",")
        try:
            table.append([float(c) if c else math.nan for c in cells[:width]] + [math.nan] * (width - len(cells)))
        except ValueError:
            continue
    arr = np.array(table, np.float64).reshape(len(table), width)
    return {h: arr[:, i] for i, h in enumerate(header)}


def _parse_whole(width: int, rows: list[str]) -> np.ndarray | None:
    """All rows at once in C (a 100k-row history in a fraction of the per-row loop's time), or None when a row
    is short, long or not numeric (then the rows are parsed one by one)."""
    if not rows or width == 0:
        return None
    text = "\n".join(rows) + "\n"
    text = text.replace(",,", ",nan,").replace(",,", ",nan,").replace(",\n", ",nan\n")  # empty cells
    if text.startswith(","):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # older numpy warns and stops at a cell it cannot read
            flat = np.fromstring(text.replace("\n", ","), sep=",")
    except ValueError:  # numpy 2 raises there
        return None
    if flat.size != width * len(rows) or text.count(",") != (width - 1) * len(rows):
        return None
    return flat.reshape(len(rows), width)


# -- one run folder -----------------------------------------------------------------------------------
@dataclass
class RunInfo:
    """What the Runs dock lists about one folder. `final`: the last metrics row (losses and val metrics)."""

    name: str
    path: Path
    model: str = "?"
    dataset: str = "?"
    step: int = 0
    status: str = "?"
    config: dict = field(default_factory=dict)
    final: dict = field(default_factory=dict)
    last_write: float = 0.0  # newest mtime of its files (the writer's clock)

    def final_text(self) -> str:
        """'loss 1.23 · val nll 1.31' (the losses first, then held-out metrics; a term equal to the loss, e.g. a
        flow's nll, is not repeated)."""
        loss = self.final.get("loss")
        bits = [f"{k.replace('val_', 'val ')} {v:.4g}" for k, v in self.final.items()
                if k != "step" and math.isfinite(v) and (k == "loss" or k.startswith("val_") or v != loss)]
        return " · ".join(bits)


def read_config(folder) -> dict:
    """config.json, or {} while it is missing, half-replaced on a slow file system, or damaged."""
    try:
        return json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return {}


def last_row(path) -> dict[str, float]:
    """The last complete row of a metrics.csv by column, reading its first line and its last few KB only."""
    try:
        with open(path, "rb") as fh:
            header = fh.readline().rstrip(b"\r\n").decode("utf-8", "replace").split(",")
            body = fh.tell()
            start = max(body, fh.seek(0, os.SEEK_END) - TAIL_BYTES)
            fh.seek(start)
            tail = fh.read().split(b"\n")
    except OSError:
        return {}
    whole = tail[(0 if start == body else 1):-1]  # a row cut by the seek, and one still being written: skipped
    rows = [ln.rstrip(b"\r").decode("utf-8", "replace") for ln in whole if ln.strip()]
    cols = parse_rows(header, rows[-1:]) if rows and header != [""] else {}
    return {k: float(v[0]) for k, v in cols.items() if len(v)}


def holds_run(folder) -> bool:
    folder = Path(folder)
    return (folder / "config.json").is_file() or (folder / "metrics.csv").is_file()


def run_info(folder) -> RunInfo:
    folder = Path(folder)
    cfg = read_config(folder)
    return RunInfo(folder.name, folder, str(cfg.get("model", "?")), str(cfg.get("dataset", "?")),
                   int(cfg.get("step") or 0), str(cfg.get("status", "starting" if not cfg else "?")), cfg,
                   last_row(folder / "metrics.csv"), last_write(folder))


def list_runs(root) -> list[RunInfo]:
    """The run folders directly under `root` (and root itself if it is one), newest write first."""
    root = Path(root)
    try:
        subs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []
    found = [run_info(p) for p in [root, *subs] if holds_run(p)]
    return sorted(found, key=lambda r: -r.last_write)


def last_write(folder) -> float:
    """When the run's writer last wrote any of its files (epoch seconds; 0.0 when none can be read)."""
    return max(mtime(Path(folder) / n) for n in ("config.json", "metrics.csv", "checkpoint.pt"))


def mtime(path) -> float:
    """A file's modification time in epoch seconds; 0.0 when it is missing or cannot be read."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


# -- comparing runs -----------------------------------------------------------------------------------
RUN_STATE_KEYS = ("step", "status", "best")  # what a run reached, not how it was set up


def flatten(d: dict, prefix: str = "") -> dict:
    """{'train': {'lr': 1e-3}} -> {'train.lr': 1e-3}; lists stay values."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_diff(configs: dict[str, dict], ignore=RUN_STATE_KEYS) -> dict[str, dict]:
    """Only the settings that differ between the runs: {flat key: {run name: value (None if absent)}}, keys in
    the first run's order, then the others'."""
    flat = {name: {k: v for k, v in flatten(c).items() if k.split(".")[0] not in ignore}
            for name, c in configs.items()}
    keys = list(dict.fromkeys(k for f in flat.values() for k in f))
    out = {}
    for k in keys:
        values = {name: f.get(k) for name, f in flat.items()}
        if len({json.dumps(v, sort_keys=True) for v in values.values()}) > 1:
            out[k] = values
    return out


# -- following a live run -----------------------------------------------------------------------------
def is_live(folder) -> bool:
    """Another process is (or was, until it was killed) writing this folder: its config says running, or its
    writer's owner note is there (written while the lock is held). Decided without touching the lock."""
    folder = Path(folder)
    return read_config(folder).get("status") == "running" or (folder / OWNER_NAME).is_file()


def follow_state(status: str, since_write_s: float, rows_after_config: bool, stall_after_s: float) -> str:
    """'finished' once config.json names a final status and no row came after it; 'stalled' when nothing was
    written for `stall_after_s`; else 'following'. (A resumed run appends rows before its first checkpoint
    rewrites a 'done' config: those rows say it lives.)"""
    if status in FINAL_STATUSES and not rows_after_config:
        return "finished"
    if since_write_s > stall_after_s:
        return "stalled"
    return "following"


def stall_after(checkpoint_interval_s: float | None, minimum: float = STALL_MIN_S) -> float:
    return max(minimum, 3.0 * checkpoint_interval_s) if checkpoint_interval_s else minimum


def owner(folder) -> dict:
    """The writer's owner note (pid, host, command, since), or {}."""
    try:
        return json.loads((Path(folder) / OWNER_NAME).read_text())
    except (OSError, ValueError):
        return {}
