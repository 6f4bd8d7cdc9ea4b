"""`genviz arena`: several models on one 2D dataset, trained side by side in parallel processes.

    genviz arena --dataset 8gaussians --models made-2d,vae,realnvp,gan_preset,ebm --steps 5000 --out runs/arena
    genviz arena runs/arena          # open it in the app's Arena window

Each model is an ordinary run folder under --out, written by core.train.train (so `genviz train --resume
runs/arena/maf` continues it); each process scores its own model right after training (core.arena.score).
The parent then writes arena.json, scoreboard.csv, scoreboard.md and grid.png (the Arena window's grid,
rendered offscreen). Nothing here imports torch before the command runs: `genviz --help` stays quick.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ARENA_FILE = "arena.json"


def add_parser(sub) -> None:
    a = sub.add_parser("arena", help="train several models on one 2D dataset side by side: scoreboard + grid "
                                     "(or open an arena folder in the app)")
    a.add_argument("folder", nargs="?", help="an arena folder to open in the app (written by genviz arena --out)")
    a.add_argument("--dataset", "-d", default="8gaussians", help="2D dataset (default 8gaussians)")
    a.add_argument("--models", "-m", help="comma-separated models (default: one per family: "
                                          "made-2d,vae,realnvp,gan_preset,ebm)")
    a.add_argument("--steps", type=int, help="training steps for every model (default: each model's own)")
    a.add_argument("--seed", type=int, default=0, help="random seed of every run and of the data")
    a.add_argument("--out", "-o", help="arena folder (default runs/arena-<dataset>); one run folder per model")
    a.add_argument("--jobs", "-j", type=int, help="processes at once (default: all models at once)")
    a.add_argument("--quiet", "-q", action="store_true", help="print only the scoreboard's path")


def cmd_arena(args) -> int:
    from genviz.core.config import ConfigError

    if args.folder and args.out is None:
        return open_in_app(args.folder)
    if args.folder:
        raise ConfigError("folder", "give either an arena folder to open or --out to train a new one, not both")
    from genviz.core import arena, data, registry, runs

    models = [m.strip() for m in (args.models or ",".join(arena.DEFAULT_MODELS)).split(",") if m.strip()]
    for m in models:
        if registry.get(m).name not in arena.candidates():
            raise ConfigError("models", f"{m} cannot join the arena (it does not learn from 2D points); "
                                        f"choose from {', '.join(arena.candidates())}")
    if len(set(models)) != len(models):
        raise ConfigError("models", "a model is named twice")
    if data.kind_of(args.dataset) != "2d" or args.dataset == "custom":
        raise ConfigError("dataset", f"the arena trains on built-in 2D datasets ({', '.join(data.TOY2D)})")
    if args.steps is not None and args.steps < 1:
        raise ConfigError("steps", f"must be ≥ 1, got {args.steps}")
    out = Path(args.out or f"runs/arena-{args.dataset}")
    for m in models:
        runs.check_new_folder(out / m)  # refuse before any process starts
    out.mkdir(parents=True, exist_ok=True)
    (out / ARENA_FILE).write_text(json.dumps({"dataset": args.dataset, "models": models, "steps": args.steps,
                                              "seed": args.seed}, indent=2))
    rows, failed = train_all(models, args.dataset, args.steps, args.seed, out, args.jobs, quiet=args.quiet)
    if rows:
        arena.write_csv(rows, out / "scoreboard.csv")
        (out / "scoreboard.md").write_text(arena.markdown(rows))
        render_grid(out, out / "grid.png")
    if not args.quiet and rows:
        print(arena.markdown(rows))
    print(f"wrote {out / 'scoreboard.md'}, scoreboard.csv and grid.png" if rows else "genviz: no model finished",
          file=sys.stdout if rows else sys.stderr)
    for m, msg in failed:
        print(f"genviz: {m}: {msg}", file=sys.stderr)
    return 0 if not failed else 1


def train_all(models, dataset: str, steps, seed: int, out: Path, jobs=None, quiet: bool = False):
    """Train and score every model in its own process; ([Score] in `models` order, [(model, why)] failed)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from genviz.core.arena import Score

    jobs = max(1, min(jobs or len(models), len(models)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    todo = [{"model": m, "dataset": dataset, "steps": steps, "seed": seed, "folder": str(out / m),
             "threads": threads} for m in models]
    results = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for res in pool.map(train_and_score, todo):
            results[res["model"]] = res
            if not quiet:
                print(res.get("summary") or res.get("error"), flush=True)
    rows = [Score(**results[m]["score"]) for m in models if "score" in results[m]]
    failed = [(m, results[m]["error"]) for m in models if "error" in results[m]]
    return rows, failed


def train_and_score(job: dict) -> dict:
    """In a child process: train one model into its run folder with core.train, then score its checkpoint."""
    import dataclasses

    import torch

    torch.set_num_threads(job["threads"])
    from genviz.cli import _user_errors
    from genviz.core import arena, checkpoint, data
    from genviz.core.train import train

    name = job["model"]
    try:
        ds = data.load(job["dataset"], seed=job["seed"])
        cfg = {"seed": job["seed"], "snapshot_every": 100, **({"steps": job["steps"]} if job["steps"] else {})}
        result = train(name, ds, {}, cfg, job["folder"], progress=False)
        if result.status not in ("done", "stopped"):
            return {"model": name, "error": result.summary()}
        model, _ = checkpoint.load_full(Path(job["folder"]) / "checkpoint.pt")
        row = arena.score(name, model, ds, step=result.step, wall_s=result.seconds, seed=job["seed"])
    except _user_errors() as e:
        return {"model": name, "error": str(e.args[0] if isinstance(e, KeyError) and e.args else e)}
    return {"model": name, "score": dataclasses.asdict(row), "summary": f"{name}: {result.summary()}"}


def read_arena(folder) -> dict:
    """arena.json of an arena folder; a folder without one lists its run folders (sorted)."""
    from genviz.core import runs

    folder = Path(folder)
    path = folder / ARENA_FILE
    if path.is_file():
        return json.loads(path.read_text())
    models = sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "config.json").is_file()) \
        if folder.is_dir() else []
    if not models:
        from genviz.core.checkpoint import CheckpointError

        raise CheckpointError(f"{folder} is not an arena folder (no {ARENA_FILE}, no run folders)")
    return {"dataset": runs.read_config(folder / models[0]).get("dataset"), "models": models}


def render_grid(folder, png) -> Path:
    """grid.png: the Arena window opened on `folder`, its grid and scoreboard grabbed offscreen."""
    from genviz.gui.app import display_problem

    if display_problem():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from genviz.gui.app import application
    from genviz.gui.arena_window import ArenaWindow

    app = application()
    w = ArenaWindow()
    w.resize(360 * len(read_arena(folder)["models"]) + 260, 980)
    w.show()
    w.open_folder(folder)
    for _ in range(3):
        app.processEvents()
    w.redraw(all_columns=True)
    app.processEvents()
    png = Path(png)
    if not w.board_area.grab().save(str(png)):
        raise OSError(f"could not write {png}")
    w.close()
    return png


def open_in_app(folder) -> int:
    from genviz.gui.app import display_problem

    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    read_arena(folder)  # a clear error before any window opens
    from genviz.gui import startup
    from genviz.gui.app import application
    from genviz.gui.arena_window import ArenaWindow

    app = application()
    startup.leave_a_core_for_the_gui()
    w = ArenaWindow()
    w.resize(1600, 1000)
    w.show()
    w.open_folder(folder)
    return app.exec()
