"""Snapshots received between two redraws, merged into one frame: every loss value kept, the latest arrays."""
from __future__ import annotations

import dataclasses

import numpy as np


class FrameQueue:
    """Snapshots queue here as they arrive (queued signals); `take()` hands back all of them and their merge."""

    def __init__(self):
        self.pending: list = []

    def push(self, snap) -> None:
        self.pending.append(snap)

    def clear(self) -> None:
        self.pending.clear()

    def __bool__(self) -> bool:
        return bool(self.pending)

    def take(self):
        """(snapshots, merged): the merge has the last one's step and status, all losses, the newest arrays."""
        snaps, self.pending = self.pending, []
        arrays: dict = {}
        for s in snaps:
            arrays.update(s.arrays)
        merged = dataclasses.replace(snaps[-1], arrays=arrays, steps=np.concatenate([s.steps for s in snaps]),
                                     losses=_merge_losses(snaps))
        return snaps, merged


def _merge_losses(snaps) -> dict:
    names = dict.fromkeys(k for s in snaps for k in s.losses)
    return {k: np.concatenate([s.losses[k] for s in snaps if k in s.losses]) for k in names}
