"""Run folders: what `genviz train` writes and the app opens.

<run>/config.json (model, dataset, configs), metrics.csv (one row per step), checkpoint.pt (atomic, the
last finite state), samples.png and density.png (2D) or samples.png (images).
"""
from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from genviz.core import checkpoint, raster
from genviz.core import config as config_mod

CHECKPOINT_EVERY_S = 60.0


class RunWriter:
    """Session hook: appends metrics at each snapshot, checkpoints periodically and on close."""

    def __init__(self, folder, dataset_name: str, dataset_n: int | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dataset_name, self.dataset_n = dataset_name, dataset_n
        self._csv = None
        self._columns: list[str] = []
        self._last_ckpt = time.monotonic()
        self.closed = False

    def _write_config(self, session) -> None:
        cfg = {"model": session.model_name, "family": session.spec.family,
               "dataset": self.dataset_name, "dataset_n": self.dataset_n,
               "model_config": config_mod.to_dict(session.model.cfg),
               "train": config_mod.to_dict(session.train), "step": session.step}
        (self.folder / "config.json").write_text(json.dumps(cfg, indent=2))

    def record(self, session, snap) -> None:
        if self._csv is None and not snap.losses:
            return  # nothing trained yet: the header needs the loss names
        if self._csv is None:
            self._write_config(session)
            self._columns = ["step", *snap.losses, *(f"val_{k}" for k in snap.metrics)]
            path = self.folder / "metrics.csv"
            new = not path.exists() or path.stat().st_size == 0
            self._fh = open(path, "a", newline="")
            self._csv = csv.writer(self._fh)
            if new:
                self._csv.writerow(self._columns)
        names = [c for c in self._columns[1:] if not c.startswith("val_")]
        for i, step in enumerate(snap.steps):
            row = [int(step)] + [_fmt(snap.losses[k][i]) if k in snap.losses else "" for k in names]
            last = i == len(snap.steps) - 1
            row += [_fmt(snap.metrics.get(c[4:], math.nan)) if last else "" for c in self._columns if c.startswith("val_")]
            self._csv.writerow(row)
        self._fh.flush()
        if time.monotonic() - self._last_ckpt > CHECKPOINT_EVERY_S:
            self.save_checkpoint(session)

    def save_checkpoint(self, session) -> Path:
        self._last_ckpt = time.monotonic()
        return checkpoint.save(session.model, self.folder / "checkpoint.pt", session.optimizers,
                               step=session.step, train=session.train, dataset=self.dataset_name)

    def close(self, session) -> None:
        """Flush metrics, checkpoint and write the preview PNGs. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self._write_config(session)
        if self._csv is not None:
            self._fh.close()
        self.save_checkpoint(session)
        write_previews(session.model, session.data, session.view, self.folder)


def write_previews(model, data, view, folder) -> None:
    folder = Path(folder)
    with torch.no_grad():
        model.eval()
        if data.kind == "2d" and hasattr(model, "sample"):
            arrays = model.visualize(data, {**view, "res": 128})
            bbox = view["bbox"]
            if "log_density" in arrays:
                raster.write_png(raster.density_image(arrays["log_density"]), folder / "density.png")
            if "samples" in arrays:
                img = np.full((512, 512, 3), 255, np.uint8)
                raster.scatter(img, data.train[:2000].cpu().numpy(), bbox, (170, 170, 170))
                raster.scatter(img, arrays["samples"], bbox, (200, 40, 40), radius=2)
                raster.write_png(img, folder / "samples.png")
        elif hasattr(model, "sample"):
            s = model.sample(64).reshape(-1, *data.shape).float().clamp(0, 1).cpu()
            raster.image_grid_png(s.numpy(), folder / "samples.png", nrow=8)
        model.train()


def read_metrics(folder) -> dict[str, np.ndarray]:
    """metrics.csv as columns of floats (empty cells are NaN)."""
    path = Path(folder) / "metrics.csv"
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    cols = {h: np.array([float(r[i]) if i < len(r) and r[i] != "" else math.nan for r in body])
            for i, h in enumerate(header)}
    return cols


def read_config(folder) -> dict:
    path = Path(folder) / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise checkpoint.CheckpointError(f"{folder} is not a genviz run folder ({path.name}: {e})") from None


def _fmt(v) -> str:
    return f"{float(v):.6g}"
