"""Command line: `genviz` opens the app; `genviz train|render|list` work headless.

Every user error (unknown model, bad hyperparameter, missing data, corrupt checkpoint) ends with a one-line
message and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

def _user_errors():
    """Imported lazily: importing torch just for `genviz --help` would cost seconds."""
    from genviz.core.checkpoint import CheckpointError
    from genviz.core.config import ConfigError
    from genviz.core.data import DataError
    from genviz.core.runs import RunFolderError

    return ConfigError, DataError, CheckpointError, RunFolderError, KeyError


def _kv(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


def _add_training_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", "-d", help="dataset name (default: the model's default)")
    p.add_argument("--points", help="CSV of x,y points to train on (dataset 'custom')")
    p.add_argument("--n-points", type=int, default=None, dest="n",
                   help="points to generate for 2D toy data (default 30000)")
    p.add_argument("--steps", type=int, help="training steps")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--batch-size", type=int, help="examples per step")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--set", type=_kv, action="append", default=[], metavar="KEY=VALUE",
                   help="any model or training setting, e.g. --set n_layers=12 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genviz", description="Train deep generative models live and watch them.")
    from genviz import __version__

    p.add_argument("--version", action="version", version=f"genviz {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{train,render,list,open,arena}")
    t = sub.add_parser("train", help="train a model headless and write a run folder")
    t.add_argument("model", nargs="?", help="model name (see `genviz list`); optional with --resume")
    _add_training_args(t)
    t.add_argument("--out", "-o", help="run folder (default runs/<model>-<dataset>-<n>, the first n not "
                                       "taken by a run; with --resume, the resumed folder)")
    t.add_argument("--resume", help="continue a run folder (or checkpoint) exactly where it stopped; "
                                    "--steps is then the run's new planned total")
    t.add_argument("--snapshot-every", type=int, help="metrics/ checks every N steps (default 100 here)")
    t.add_argument("--early-stop", type=int, metavar="STEPS", dest="early_stop",
                   help="stop when the held-out NLL/NELBO has not improved for this many steps; the best "
                        "state is kept as best.pt (papers report the test NLL of that one)")
    t.add_argument("--until", type=int, metavar="STEP",
                   help="stop at this step and checkpoint (the plan, and its schedule, stay --steps): train "
                        "a long run in legs, each continued with --resume")
    t.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                   help="write a checkpoint at least this often (default 10 s; longer where the held-out "
                        "evaluation that verifies it would take over 5%% of training time; also at the end, on "
                        "Ctrl-C, SIGTERM and divergence)")
    t.add_argument("--tensorboard", action="store_true", default=None,
                   help="also write TensorBoard scalars (every metrics.csv column) into <out>/tb; needs "
                        "pip install 'genviz[tensorboard]'")
    t.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    r = sub.add_parser("render", help="train headless, then render the whole app window to a PNG")
    r.add_argument("--model", "-m", default="realnvp")
    _add_training_args(r)
    r.add_argument("--out", "-o", default="window.png")
    r.add_argument("--size", default="1400x900", help="window size WxH")
    sub.add_parser("list", help="list models and datasets")
    from genviz.arena_cli import add_parser as add_arena_parser

    add_arena_parser(sub)
    o = sub.add_parser("open", help="open the app on a run folder or checkpoint (same as `genviz PATH`)")
    o.add_argument("path")
    return p


def split_settings(model: str, settings: list[tuple[str, str]], args) -> tuple[dict, dict]:
    """Route --set keys to the model config or TrainConfig; unknown keys are a ConfigError listing both."""
    from dataclasses import fields

    from genviz.core import registry
    from genviz.core.config import ConfigError, TrainConfig

    model_fields = {f.name for f in fields(registry.get(model).config_class())}
    train_fields = {f.name for f in fields(TrainConfig)}
    model_cfg, train = {}, {}
    for k, v in settings:
        if k in model_fields:
            model_cfg[k] = v
        elif k in train_fields:
            train[k] = v
        else:
            raise ConfigError(k, f"unknown setting for {model}; model: {', '.join(sorted(model_fields))}; "
                                 f"training: {', '.join(sorted(train_fields))}")
    for name in ("steps", "lr", "batch_size", "seed", "device", "snapshot_every", "early_stop", "tensorboard"):
        val = getattr(args, name, None)
        if val is not None:
            train[name] = val
    return model_cfg, train


def load_dataset(model: str, args):
    from genviz.core import data, registry

    name = args.dataset or ("custom" if args.points else registry.get(model).default_dataset)
    points = data.load_points_csv(args.points) if args.points else None
    seed = args.seed if args.seed is not None else 0
    return data.load(name, n=args.n if args.n is not None else 30000, seed=seed, points=points)


def cmd_train(args) -> int:
    from genviz.core import distributed
    from genviz.core.config import ConfigError
    from genviz.core.train import train

    if args.model is None and not args.resume:
        raise ConfigError("model", "name a model (see `genviz list`) or --resume a run folder")
    if args.checkpoint_every is not None and not args.checkpoint_every > 0:
        raise ConfigError("checkpoint-every", f"must be > 0 seconds, got {args.checkpoint_every}")
    model = args.model or _stored_model(args.resume)
    model_cfg, train_cfg = split_settings(model, args.set, args)
    if args.resume:
        given = args.dataset or args.points or args.n is not None
        ds = load_dataset(model, args) if given else None  # else: the run's own data
        out = Path(args.out) if args.out else _resume_folder(args.resume)
    else:
        from genviz.core import registry

        train_cfg.setdefault("snapshot_every", 100)
        registry.train_config(model, train_cfg)  # refuse a bad setting before any data is made
        ds = load_dataset(model, args)
        from genviz.core import runs

        # unnamed: the next free runs/<model>-<dataset>-<n>, as the app's Write run… names it (only rank 0 writes)
        out = Path(args.out) if args.out else runs.next_free_folder("runs", f"{model}-{ds.name}")
    kwargs = {} if args.checkpoint_every is None else {"checkpoint_every": args.checkpoint_every}
    if args.until is not None:
        kwargs["until"] = args.until
    with distributed.context() as dist:
        result = train(model, ds, model_cfg, train_cfg, out, resume=args.resume,
                       progress=not args.quiet and dist.is_main, dist=dist, **kwargs)
    if dist.is_main:
        print(result.summary())
    return result.exit_code


def _stored_model(resume: str) -> str:
    from genviz.core.train import open_resume

    return open_resume(resume).payload["model"]


def _resume_folder(resume: str) -> Path:
    from genviz.core.config import ConfigError

    p = Path(resume)
    if p.is_dir():
        return p
    if (p.parent / "config.json").exists():
        return p.parent
    raise ConfigError("out", f"{resume} is a checkpoint outside a run folder; give --out for the resumed run")


def cmd_render(args) -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from genviz.gui.render import render_window

    model_cfg, train_cfg = split_settings(args.model, args.set, args)
    steps = train_cfg.pop("steps", 500)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"genviz: --size must look like 1400x900, got {args.size!r}", file=sys.stderr)
        return 2
    from genviz.core import data

    ds_name = args.dataset or ("custom" if args.points else None)
    points = data.load_points_csv(args.points) if args.points else None
    path = render_window(args.model, ds_name, steps, args.out, size=(w, h), train_overrides=train_cfg,
                         model_overrides=model_cfg, points=points)
    print(f"wrote {path}")
    return 0


def cmd_list(_args) -> int:
    from genviz.core import data, registry

    for fam in registry.families():
        print(f"{fam}:")
        for name, spec in registry.MODELS.items():
            if spec.family == fam:
                print(f"  {name:14s} {spec.title} — {spec.summary} [{'/'.join(spec.data_kinds)} data]")
    print("datasets:", ", ".join(data.names()))
    return 0


def cmd_app(args) -> int:
    from genviz.gui.app import display_problem, run_app

    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return run_app(sys.argv[:1], open_path=getattr(args, "path", None))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in ("train", "render", "list", "open", "arena"):
        argv = ["open", *argv]  # `genviz runs/moons` opens a run folder
    args = build_parser().parse_args(argv)
    from genviz.arena_cli import cmd_arena

    handler = {"train": cmd_train, "render": cmd_render, "list": cmd_list, "arena": cmd_arena}.get(args.command,
                                                                                                 cmd_app)
    try:
        return handler(args)
    except _user_errors() as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"genviz: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genviz: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("genviz: out of memory: the model or the data is too big; use smaller sizes", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, an unwritable or vanished folder: say which file and why
        where = f" {e.filename}" if e.filename else ""
        print(f"genviz: cannot write{where}: {e.strerror or e}; the last checkpoint is intact", file=sys.stderr)
        return 2
