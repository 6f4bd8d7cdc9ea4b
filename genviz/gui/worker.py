"""Pumps a core Session on a QThread and hands its snapshots to the GUI thread by queued signals.

Nothing from Qt enters the session loop: commands go through `Session.send` (a thread-safe queue) and
the worker never touches a widget.
"""
from __future__ import annotations

import os
import sys
import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

ENDED = ("done", "stopped", "error", "diverged")  # statuses that end a session
FAILED = ("error", "diverged")


class SessionWorker(QObject):
    """Runs `session.run()` on its own QThread; emits every snapshot, then `finished(status)`."""

    # Every signal carries the worker's run id first, so the controller can drop a replaced run's signals.
    snapshot_ready = Signal(int, object)  # core.session.Snapshot
    finished = Signal(int, str)  # done | stopped | error | diverged (the statuses that end a session)
    failed = Signal(int, str)  # an exception escaped the session: its message (the traceback goes to stderr)
    progress = Signal(int, int, int, float, object)  # step, total, steps/s, loss (float or None), between snapshots

    def __init__(self, session, run_id: int = 0):
        super().__init__()
        self.session = session
        self.run_id = run_id
        self.status = "idle"
        self._thread = QThread()
        self._thread.setObjectName(f"genviz-session-{session.model_name}")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._pump)

    def start(self) -> None:
        self.status = "running"
        self._thread.start()

    def send(self, *command) -> None:
        self.session.send(*command)

    def is_running(self) -> bool:
        return self._thread.isRunning()

    @Slot()
    def _pump(self) -> None:
        _lower_this_threads_priority()
        self.session.on_progress = lambda *numbers: self.progress.emit(self.run_id, *numbers)
        status = "stopped"
        try:
            for snap in self.session.run():
                status = snap.status
                self.snapshot_ready.emit(self.run_id, snap)
        except Exception as e:  # a model bug must not kill the app: report it and end the run
            traceback.print_exc()
            status = "error"
            self.failed.emit(self.run_id, f"{type(e).__name__}: {e}")
        self.status = status
        self.finished.emit(self.run_id, status)
        self._thread.quit()

    def stop(self, timeout_s: float = 1.0) -> bool:
        """Ask the session to stop and wait for the thread; True when it has ended."""
        if self._thread.isRunning():
            self.session.send("stop")
            if not self._thread.wait(int(timeout_s * 1000)):
                return False
        writer = getattr(self.session, "writer", None)
        if writer is not None and not writer.closed:
            writer.close(self.session)  # the run folder is flushed even if the loop never reached its end
        return True


# +10: CFS then gives a runnable window thread ~10x the worker's share of a core they must share. Measured with a
# CPU-bound process beside the app (bench_gui_stall, p99 of the 10 ms heartbeat): the mixture at +5 / +10 / +19
# 31-33 / 22 / 21 ms, the GAN 25-28 / 24 / 18 ms; steps/s did not fall (less time lost handing the GIL to a
# window thread that was preempted while holding it). Not +19: beside two busy processes training would get ~2%.
WORKER_NICENESS = 10


def _lower_this_threads_priority() -> None:
    """On a busy CPU the event loop must win over training: raise this thread's nice value (Linux: per thread).

    QThread.setPriority is ignored for ordinary Linux threads; setpriority on the native thread id works
    without privileges (a thread may always lower its own priority). Free cores are still used fully.
    """
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + WORKER_NICENESS)
    except OSError:
        pass  # not allowed here: training simply keeps the same priority as the window
