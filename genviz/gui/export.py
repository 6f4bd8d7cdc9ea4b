"""Writing what the window shows: plots (PNG/SVG), samples (CSV/NPZ), metrics (CSV). Plain functions of
explicit paths, so tests call them without file dialogs; the window's File → Export menu asks for paths."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyqtgraph.exporters as pg_exporters

from genviz.core import runs

FORMATS = {"png": pg_exporters.ImageExporter, "svg": pg_exporters.SVGExporter}


@contextmanager
def one_writer(folder):
    """Write into `folder` as its one writer. A run folder's lock is held while the block writes; when another
    process holds it (`genviz train` writing there), RunFolderError names that process and nothing is
    written. Reading a run folder (opening it to look) takes no lock; a folder without a run needs none."""
    folder = Path(folder)
    if not (runs.holds_run(folder) or (folder / runs.LOCK_NAME).exists()):
        yield
        return
    lock = runs.RunLock(folder)
    try:
        lock.acquire()
    except runs.RunFolderError:
        raise runs.RunFolderError(f"refused — {folder} is being written by {lock.holder()}: a run folder has "
                                  "one writer; export elsewhere, or wait until that run ends") from None
    try:
        yield
    finally:
        lock.release()


def _qt_svg(item, path: Path) -> None:
    """The item's scene area through Qt's own SVG generator (vector paths, images embedded).

    pyqtgraph 0.14's SVGExporter post-processes Qt's path data and fails on the close-path token ('Z')
    that Qt 6.8+ writes; this keeps SVG export working there.
    """
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QGuiApplication, QPainter
    from PySide6.QtSvg import QSvgGenerator

    r = item.sceneBoundingRect()
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    # pyqtgraph's axes replay QPictures recorded at the screen's dots per inch; at the generator's own 72 they
    # come out scaled by 72/96, off the plot they label
    screen = QGuiApplication.primaryScreen()
    gen.setResolution(round(screen.logicalDotsPerInch()) if screen is not None else 96)
    gen.setSize(QSize(int(r.width()), int(r.height())))
    gen.setViewBox(QRectF(0, 0, r.width(), r.height()))
    painter = QPainter(gen)
    try:
        item.scene().render(painter, QRectF(0, 0, r.width(), r.height()), r)
    finally:
        painter.end()


def export_plots(plots: dict, folder, fmt: str = "png", width: int = 1200) -> list[Path]:
    """Each plot item to <folder>/<name>.<fmt>; returns the written paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, item in plots.items():
        exporter = FORMATS[fmt](item)
        if fmt == "png":
            exporter.parameters()["width"] = width  # crisper than the on-screen size
        path = folder / f"{name}.{fmt}"
        try:
            exporter.export(str(path))
        except ValueError:
            if fmt != "svg":
                raise
            _qt_svg(item, path)
        out.append(path)
    return out


def export_samples(arrays: dict, path, fmt: str | None = None) -> Path:
    """fmt "csv": the 'samples' array as x,y rows (2D) or flattened rows (images: one row of pixels each);
    "npz": every array of the snapshot. Without `fmt` the path's suffix says which; a path without that suffix
    gets it (a name typed into a save dialog that does not add one)."""
    path = Path(path)
    fmt = fmt or ("npz" if path.suffix.lower() == ".npz" else "csv")
    if path.suffix.lower() != f".{fmt}":
        path = path.with_name(path.name + f".{fmt}")
    if fmt == "npz":
        np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})
        return path
    key = "samples" if "samples" in arrays else "negatives"  # an EBM's samples are its Langevin negatives
    if key not in arrays:
        raise ValueError("this model's snapshot holds no samples to export (a CycleGAN translates; it does not "
                         "sample): Export → Samples as NPZ… writes every array it has, its translations among them")
    s = np.asarray(arrays[key])
    s = s.reshape(len(s), -1)
    header = "x,y" if s.shape[1] == 2 else ",".join(f"v{i}" for i in range(s.shape[1]))
    np.savetxt(path, s, delimiter=",", header=header, comments="", fmt="%.6g")
    return path


def export_metrics(history: dict, path) -> Path:
    """history: name -> (steps, values). One row per step with a column per name (blank where absent)."""
    path = Path(path)
    names = list(history)
    all_steps = np.unique(np.concatenate([np.asarray(s) for s, _ in history.values()])) if names else []
    cols = []
    for name in names:
        steps, values = (np.asarray(a) for a in history[name])
        col = np.full(len(all_steps), np.nan)
        col[np.searchsorted(all_steps, steps)] = values
        cols.append(col)
    with open(path, "w", newline="") as fh:
        fh.write(",".join(["step", *names]) + "\n")
        for i, step in enumerate(all_steps):
            cells = ["" if np.isnan(c[i]) else f"{c[i]:.6g}" for c in cols]
            fh.write(",".join([str(int(step)), *cells]) + "\n")
    return path
