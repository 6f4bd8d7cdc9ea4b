"""Following a run folder that another process writes (`genviz train`, torchrun, another machine on a shared
file system): curves grow as metrics.csv grows, the family panel redraws from each new checkpoint, a badge
says following / stalled / finished, and Detach and train takes the run over.

A timer polls cheaply on the GUI thread (three stats, then only metrics.csv's new bytes). A new checkpoint
is loaded, and its snapshot computed, on a CheckpointLoader's own QThread; only the plain-numpy snapshot
(and the loaded model, handed over whole) comes back. Following never writes to the folder and never takes
its lock (core.run_reader reads only).
"""
from __future__ import annotations

import collections
import dataclasses
import os
import queue
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout

from genviz.core import run_reader
from genviz.gui.status import ElidedLabel

POLL_MS = 200  # a new checkpoint is seen within this, then loaded and drawn well within a second
SHOW_MS = 1000  # curves, badge and numbers are redrawn at most this often (sooner when the state changes):
# painting the loss plot and relaying out the status bar are what following costs the event loop
RATE_WINDOW_S = 30.0  # steps/s is measured over the rows seen in this window
SAY = {"following": "following {name}, which another process writes — Detach and train (or Play) takes it over",
       "stalled": "{name} has written nothing for a while: its writer may be stuck or gone — Detach and train "
                  "continues it here from its last checkpoint",
       "finished": "{name} has finished ({status}) — Detach and train (or Play) continues it here"}
BADGE_STYLE = {"following": "color: #2ed573;", "stalled": "color: #feca57;", "finished": "color: #9aa0a6;"}


def _signature(path: Path):
    """What changes when a file is rewritten or replaced (os.replace gives a new inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class TailReader:
    """Reads and parses metrics.csv's new rows on a thread of its own, every POLL_MS: the GUI thread only takes
    the parsed columns (numpy arrays) from a queue, in order (reading and parsing 200 rows cost it up to ~5 ms
    at 1,000 rows/s). Pure Python and numpy (no torch, no Qt): `stop()` joins it."""

    def __init__(self, tail: run_reader.MetricsTail):
        self.tail = tail
        self.chunks: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="genviz-follow-tail", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.wait(POLL_MS / 1000):
            try:
                chunk = self.tail.poll()
            except Exception:  # noqa: BLE001 - a read caught mid-replace on a slow share: the next poll will do
                continue
            if len(chunk) or chunk.reset:
                self.chunks.put(chunk)

    def take(self) -> list:
        out = []
        while True:
            try:
                out.append(self.chunks.get_nowait())
            except queue.Empty:
                return out

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5.0)


class CheckpointLoader(QObject):
    """On its own QThread: reads a checkpoint and computes one snapshot of it, as a paused Session's first.

    `loaded(token, (snapshot, model, payload))`: the snapshot is plain numpy; the model and payload are handed
    over (this thread keeps no reference). `failed(token, message)`: e.g. a damaged or half-copied file.
    """

    loaded = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self):
        super().__init__()
        self.thread = QThread()
        self.thread.setObjectName("genviz-follow-loader")
        self.moveToThread(self.thread)

    @Slot(int, object)
    def load(self, token: int, job: dict) -> None:
        from genviz.core import checkpoint
        from genviz.core import config as config_mod
        from genviz.core.session import Session

        try:
            model, payload = checkpoint.load_full(job["path"])
            train = config_mod.make(config_mod.TrainConfig, {**(payload.get("train") or {}), "device": "cpu"})
            step = int(payload["step"])
            session = Session(payload["model"], job["dataset"], None, dataclasses.replace(train, steps=step + 1),
                              model=model, state=checkpoint.training_state(payload), start_paused=True,
                              view=job["view"])
            gen = session.run()
            snap = next(gen)
            gen.close()
        except Exception as e:  # a checkpoint caught mid-copy on a slow share: the next one will do
            self.failed.emit(token, f"{type(e).__name__}: {e}")
            return
        self.loaded.emit(token, (dataclasses.replace(snap, status="paused", metrics={}), session.model, payload))


class RunFollower(QObject):
    """Follows one run folder for a MainWindow (`start(folder)`, `stop()`, `detach_and_train()`).

    Shows a badge and a Detach and train button in the window's status bar while it follows.
    `checkpoint_drawn(step)` is emitted once the panel shows a newly landed checkpoint.
    """

    checkpoint_drawn = Signal(int)
    _requested = Signal(int, object)

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.folder: Path | None = None
        self.state = ""
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.badge = ElidedLabel(min_px=220)  # elided, not clipped, beside the message at 1280 px
        self.badge.setObjectName("followBadge")
        self.detach_btn = QPushButton("Detach and train")
        self.detach_btn.setObjectName("detach")
        self.detach_btn.setToolTip("stop following and train this run here from its latest checkpoint (this app "
                                   "then writes the folder and holds its lock)")
        self.detach_btn.clicked.connect(lambda: self.detach_and_train())
        for i, wid in enumerate((self.badge, self.detach_btn)):
            window.status.insertPermanentWidget(1 + i, wid)  # after the message, before the numbers
            wid.hide()
        self._loader: CheckpointLoader | None = None
        self._token = 0
        self.waiting = False  # following a folder that has no checkpoint yet
        self.reader: TailReader | None = None
        self._busy = self._pending = False

    def following(self) -> bool:
        return self.folder is not None

    @property
    def drawn_step(self) -> int:
        """The step of the checkpoint the panel shows: the controller's (opened, or taken over from each load)."""
        return self.w.controller.step

    # -- start / stop -----------------------------------------------------------------------------------
    def open_before_first_checkpoint(self, folder) -> bool:
        """Follow a folder whose writer has not saved its first checkpoint yet (`genviz train` just started):
        its curves grow from metrics.csv at once; the panel is drawn when the first checkpoint lands (a
        RunWriter writes config.json, which names the model, with it). A folder with none of a run's files and
        no writer is refused as "not a run folder yet"; False then, and nothing changes."""
        from PySide6.QtWidgets import QMessageBox

        folder = Path(folder)
        if not (run_reader.holds_run(folder) or run_reader.is_live(folder)):
            QMessageBox.critical(self.w, "Cannot open run folder",
                                 f"{folder} is not a genviz run folder (not yet, at least): it holds no config.json, "
                                 "metrics.csv or checkpoint.pt, and no run is writing it. (A run being started "
                                 "writes metrics.csv with its first rows, config.json with its first checkpoint.)")
            return False
        self.w.controller.clear()  # the previous run's model and panel go; this one's is drawn when it lands
        if self.w.panel.layout() is None:  # the empty panel says what comes there
            note = QLabel(f"waiting for the first checkpoint of {folder.name}\n\nits model's views appear here when "
                          "it lands; its curves grow below meanwhile")
            note.setObjectName("followWaiting")
            note.setAlignment(Qt.AlignCenter)
            QVBoxLayout(self.w.panel).addWidget(note)
        self.start(folder, waiting=True)
        return True

    def start(self, folder, waiting: bool = False, failed_first: bool = False) -> None:
        """Follow `folder` (already opened by the window: its model is the controller's). `waiting`: it has no
        checkpoint yet (open_before_first_checkpoint); the first one to land is opened as a run. `failed_first`:
        waiting because the checkpoint there could not be opened; the next one to land is tried."""
        self.stop()
        self.folder = Path(folder)
        self.waiting = waiting
        self._token += 1
        self.tail = run_reader.MetricsTail(self.folder / "metrics.csv")
        self.w.loss.clear()  # the tail reads metrics.csv from its first byte: the history, then what grows
        self._config_sig = _signature(self.folder / "config.json")
        self.config: dict = run_reader.read_config(self.folder)
        # the one the window just opened; waiting: none yet, or one that could not be opened (the next will do)
        self._ckpt_sig = _signature(self.folder / "checkpoint.pt") if not waiting or failed_first else None
        self.landed_at: float | None = None  # monotonic time a not yet drawn checkpoint was seen
        self.last_latency_s: float | None = None  # seen -> drawn, for the last checkpoint
        self._landings: collections.deque = collections.deque(maxlen=4)
        self._rows: collections.deque = collections.deque()  # (monotonic time, last step) per poll with rows
        self.step, self.loss = self.drawn_step, None
        newest = run_reader.last_write(self.folder)
        self.last_write = time.monotonic() - max(0.0, time.time() - newest)  # this clock, not the writer's
        metrics_at, config_at = (run_reader.mtime(self.folder / n) for n in ("metrics.csv", "config.json"))
        self.rows_after_config = metrics_at > config_at
        self._loader = CheckpointLoader()
        self._loader.loaded.connect(self._on_loaded)
        self._loader.failed.connect(self._on_failed)
        self._requested.connect(self._loader.load)
        self._loader.thread.start()
        self._busy = self._pending = False
        self.badge.show()
        self.detach_btn.show()
        self._unshown: list[dict] = []  # rows read but not drawn yet
        self.w.loss.set_following(True)
        history = self.tail.poll()  # what was there before: drawn, but no sign of life by itself
        if len(history):
            self._take_rows(history.columns)
        self.reader = TailReader(self.tail)  # from now on the new rows are read and parsed off this thread
        self._rows.append((time.monotonic(), self.step))
        self._show(time.monotonic())
        self.timer.start()

    def stop(self) -> None:
        """Stop following (the loader's thread ends; a load in flight finishes first, its result is dropped)."""
        self.timer.stop()
        self._token += 1
        if self.reader is not None:
            self.reader.stop()
            self.reader = None
        self.w.loss.set_following(False)
        if self._loader is not None:
            self._requested.disconnect(self._loader.load)
            self._loader.thread.quit()
            self._loader.thread.wait()
            self._loader.deleteLater()
            self._loader = None
        self.folder = None
        self.waiting = False
        self.state = ""
        self.badge.hide()
        self.detach_btn.hide()

    # -- polling ----------------------------------------------------------------------------------------
    def poll(self) -> None:
        if self.folder is None:
            return
        now = time.monotonic()
        got = False
        for chunk in self.reader.take():
            if chunk.reset:
                self.w.loss.clear()
                self._unshown = []
            if len(chunk):
                self._take_rows(chunk.columns)
                got = True
        if got:
            self._rows.append((now, self.step))
            self.last_write, self.rows_after_config = now, True
        sig = _signature(self.folder / "config.json")
        if sig != self._config_sig:
            cfg = run_reader.read_config(self.folder)
            if cfg:  # else half-replaced on a slow share: read it next time
                self._config_sig, self.config = sig, cfg
                self.last_write, self.rows_after_config = now, False
        sig = _signature(self.folder / "checkpoint.pt")
        if sig is not None and sig != self._ckpt_sig and self.waiting and self.config:
            self._open_first()  # config.json comes right after the checkpoint: both there, open them as a run
            return
        if sig is not None and sig != self._ckpt_sig and not self.waiting:
            self._ckpt_sig, self.last_write = sig, now
            self._landings.append(now)
            self.landed_at = self.landed_at or now
            self._request_load()
        if now - self._shown_at >= SHOW_MS / 1000 or self._state(now) != self.state:
            self._show(now)

    def _take_rows(self, cols: dict) -> None:
        self._unshown.append(cols)
        self.step = int(cols["step"][-1])
        losses = [v for k, v in cols.items() if k != "step" and not k.startswith("val_")]
        finite = losses[0][np.isfinite(losses[0])] if losses else []
        self.loss = float(finite[-1]) if len(finite) else self.loss

    def rate(self, now: float) -> float:
        while len(self._rows) > 2 and now - self._rows[0][0] > RATE_WINDOW_S:
            self._rows.popleft()
        if len(self._rows) < 2 or self._rows[-1][0] <= self._rows[0][0]:
            return 0.0
        (t0, s0), (t1, s1) = self._rows[0], self._rows[-1]
        return max(0.0, (s1 - s0) / (t1 - t0))

    def checkpoint_interval(self) -> float | None:
        t = list(self._landings)
        return (t[-1] - t[0]) / (len(t) - 1) if len(t) >= 2 else None

    def _state(self, now: float) -> str:
        limit = run_reader.stall_after(self.checkpoint_interval())
        return run_reader.follow_state(str(self.config.get("status", "running")), now - self.last_write,
                                       self.rows_after_config, limit)

    def _show(self, now: float) -> None:
        """The rows read since the last time onto the loss plot, then the badge and the status numbers."""
        if self._unshown:
            cols = {k: np.concatenate([c[k] for c in self._unshown]) for k in self._unshown[0]}
            self.w.show_history(cols, redraw=False)
            QTimer.singleShot(0, self.w.loss.redraw)  # in a pass of its own: no pass does both (and paints later)
            self._unshown = []
        self._shown_at = now
        status = str(self.config.get("status", "running"))
        since = now - self.last_write
        state, self.state = self.state, self._state(now)
        rate = self.rate(now) if self.state == "following" else 0.0
        name = self.folder.name
        if self.waiting and self.state != "finished":
            text = (f"● following {name} (waiting for the first checkpoint): step {self.step:,} · "
                    f"{rate:,.0f} steps/s · last write {_ago(since)} ago")
        elif self.state == "finished":
            text = f"■ {name}: finished ({status}) at step {self.step:,}"
        elif self.state == "stalled":
            text = f"◌ {name}: stalled at step {self.step:,}, no write for {_ago(since)}"
        else:
            text = f"● following {name}: step {self.step:,} · {rate:,.0f} steps/s · last write {_ago(since)} ago"
        self.badge.setText(text)
        if state != self.state:
            self.badge.setStyleSheet(BADGE_STYLE[self.state])
            self.badge.setToolTip(f"{self.folder}\nwritten by {self._holder()}")
            self.w.status.say(SAY[self.state].format(name=name, status=status))
        total = int((self.config.get("train") or {}).get("steps") or 0)
        eta = (total - self.step) / rate if rate > 0 and total > self.step else float("inf")
        self.w.status.show_numbers(self.step, total, rate, self.loss, eta)

    def _holder(self) -> str:
        o = run_reader.owner(self.folder)
        return f"process {o.get('pid')} on {o.get('host')} ({o.get('command')})" if o else "no writer holds it now"

    # -- checkpoints --------------------------------------------------------------------------------------
    def _open_first(self) -> None:
        """The first checkpoint of a followed folder landed: open it as a run (model, forms, panel), then go on
        following (the curves are read again from the start: once)."""
        folder, landed = self.folder, time.monotonic()
        self.stop()
        failed = not self.w.open_path(folder, follow=False)
        self.start(folder, waiting=failed, failed_first=failed)
        if not self.waiting:
            self.last_latency_s = time.monotonic() - landed
            self.checkpoint_drawn.emit(self.drawn_step)

    def _request_load(self) -> None:
        if self._busy:
            self._pending = True  # one more load once this one is back: the newest checkpoint wins
            return
        c = self.w.controller
        self._busy, self._pending = True, False
        self._requested.emit(self._token, {"path": self.folder / "checkpoint.pt", "dataset": c.dataset,
                                           "view": dict(c.view)})

    def _after_load(self) -> None:
        self._busy = False
        if self._pending:
            self._request_load()

    def _on_loaded(self, token: int, result) -> None:
        if token != self._token:
            return
        snap, model, payload = result
        self.w.controller.take_over(model, payload)
        self.w.panel.show_snapshot(snap)
        self.w.latest = snap
        if self.landed_at is not None:
            self.last_latency_s, self.landed_at = time.monotonic() - self.landed_at, None
        self._after_load()
        self.checkpoint_drawn.emit(self.drawn_step)

    def _on_failed(self, token: int, message: str) -> None:
        if token == self._token:
            self._after_load()

    # -- taking over ----------------------------------------------------------------------------------------
    def detach_and_train(self, then: str = "play") -> bool:
        """Stop following and train here from the latest checkpoint, writing the folder as `genviz train
        --resume` would (this app takes its lock). Refused, with the writer named, while another process
        still holds the lock: then nothing changes and following goes on."""
        from genviz.core import runs

        folder, c = self.folder, self.w.controller
        if folder is None:
            return False
        if self.waiting:
            self.w.status.say(f"cannot detach yet: {folder.name} has no checkpoint to train from; its first one "
                              "is drawn as soon as it lands. Still following.", error=True)
            return False
        for _ in range(3):  # a checkpoint landing while the lock is taken: take the newer one
            sig, step = _signature(folder / "checkpoint.pt"), run_reader.read_config(folder).get("step")
            try:
                writer = runs.RunWriter(folder, c.dataset.spec, resume_step=int(step or 0)).open()
            except runs.RunFolderError:
                self.w.status.say(f"cannot detach: {folder.name} is still being written by "
                                  f"{runs.RunLock(folder).holder()}. Stop that run first (it checkpoints as it "
                                  "stops), then Detach again. Still following; nothing changed.", error=True)
                return False
            if _signature(folder / "checkpoint.pt") == sig:
                break
            writer.abort()
        else:
            self.w.status.say(f"cannot detach: {folder.name} keeps changing; try again", error=True)
            return False
        self.stop()
        if not self.w.open_path(folder, follow=False):
            writer.abort()
            return False
        c.write_to(writer)
        (self.w.step_once if then == "step" else self.w.play)()
        self.w.status.say(f"detached: training {folder.name} here from step {c.step:,}; this app writes the folder")
        return True


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    m, s = divmod(int(seconds), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"
