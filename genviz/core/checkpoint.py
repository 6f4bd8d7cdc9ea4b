"""Checkpoints: config + weights (+ optimizer state and step), written atomically, read with weights_only.

A checkpoint is a dict of plain values and tensors, so `torch.load(weights_only=True)` can read it and a
file from an untrusted source cannot run code.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from genviz.core import config as config_mod
from genviz.core import registry

FORMAT = "genviz-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """The file is not a readable genviz checkpoint, or does not match its model."""


def model_name_of(model) -> str:
    for name, spec in registry.MODELS.items():
        if type(model) is spec.model_class():
            return name
    raise CheckpointError(f"{type(model).__name__} is not a registry model")


def save(model, path, optimizers=None, step: int = 0, train=None, **extra) -> Path:
    """Write `path` atomically (temp file + rename): a crash mid-write never leaves a truncated checkpoint."""
    path = Path(path)
    payload = {
        "format": FORMAT, "version": VERSION,
        "model": model_name_of(model),
        "model_config": config_mod.to_dict(model.cfg),
        "data_shape": list(model.data_shape),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizers": [_to_cpu(o.state_dict()) for o in (optimizers or [])],
        "step": int(step),
        "train": config_mod.to_dict(train) if train is not None else None,
        "extra": extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary shareable file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read(path) -> dict:
    """The raw payload, validated; raises CheckpointError with a readable reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged zip/pickle
        raise CheckpointError(f"{path} is not a readable checkpoint (damaged or not a genviz file): "
                              f"{type(e).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a genviz checkpoint")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was written by a newer genviz (format {payload['version']})")
    if payload.get("model") not in registry.MODELS:
        raise CheckpointError(f"{path} holds an unknown model {payload.get('model')!r}")
    return payload


def load(path, device="cpu"):
    """The model stored at `path`, on `device`, in eval mode."""
    return load_full(path, device)[0]


def load_full(path, device="cpu"):
    """(model, payload): the payload also has the optimizer states, step and train config."""
    payload = read(path)
    try:
        model = registry.build(payload["model"], data_shape=tuple(payload["data_shape"]), **payload["model_config"])
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, config_mod.ConfigError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path} does not match model {payload.get('model')!r}: {str(e)[:300]}") from None
    return model.to(device).eval(), payload


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
