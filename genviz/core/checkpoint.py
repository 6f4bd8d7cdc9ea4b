"""Checkpoints: config + weights (+ optimizer state and step), written atomically, read with weights_only.

A checkpoint is a dict of plain values and tensors, so `torch.load(weights_only=True)` can read it and a
file from an untrusted source cannot run code.
"""
from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import torch

from genviz.core import config as config_mod
from genviz.core import registry

FORMAT = "genviz-checkpoint"
VERSION = 2  # 2 adds "training" (random streams, model extras) and "dataset" as a spec; 1 still loads


class CheckpointError(RuntimeError):
    """The file is not a readable genviz checkpoint, or does not match its model."""


def model_name_of(model) -> str:
    for name, spec in registry.MODELS.items():
        if type(model) is spec.model_class():
            return name
    raise CheckpointError(f"{type(model).__name__} is not a registry model")


def save(model, path, optimizers=None, step: int = 0, train=None, state: dict | None = None,
         dataset=None, **extra) -> Path:
    """Write `path` atomically (temp file + fsync + rename): a crash or a full disk mid-write leaves the
    previous checkpoint as it was and no temporary file behind.

    `state` is a Session's `training_state()` (step, optimizer states, random streams, model extras);
    `dataset` its Dataset.spec (or just a name, for files that only need to be looked at).
    """
    path = Path(path)
    if state is not None:
        step = state["step"]
        opt_states = state["optimizers"]
    else:
        opt_states = [cpu_copy(o.state_dict()) for o in (optimizers or [])]
    payload = {
        "format": FORMAT, "version": VERSION,
        "model": model_name_of(model),
        "model_config": config_mod.to_dict(model.cfg),
        "data_shape": list(model.data_shape),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizers": opt_states,
        "step": int(step),
        "train": config_mod.to_dict(train) if train is not None else None,
        "training": ({"rng": state.get("rng"), "model_extras": state.get("model_extras") or {},
                      "loss_levels": state.get("loss_levels") or {}, "best": state.get("best")}
                     if state is not None else None),
        "dataset": dataset if isinstance(dataset, dict) or dataset is None else {"name": str(dataset)},
        "extra": extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def training_state(payload: dict) -> dict:
    """The Session `state=` a checkpoint payload holds (step and optimizers always; streams from version 2)."""
    training = payload.get("training") or {}
    state = {"step": int(payload.get("step", 0)), "optimizers": payload.get("optimizers") or []}
    if training.get("rng"):
        state["rng"] = training["rng"]
    state["model_extras"] = training.get("model_extras") or {}
    state["loss_levels"] = training.get("loss_levels") or {}
    if isinstance(training.get("best"), dict):
        state["best"] = training["best"]
    return state


def dataset_spec(payload: dict) -> dict | None:
    """The dataset a checkpoint was trained on, as a data.load_spec() description (None if unknown)."""
    ds = payload.get("dataset")
    if isinstance(ds, dict):
        return ds
    extra = payload.get("extra") or {}
    if isinstance(extra.get("dataset"), str):  # version 1 kept only the name
        return {"name": extra["dataset"]}
    return None


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
    problem = _check_fields(payload)
    if problem:
        raise CheckpointError(f"{path} is damaged: {problem}")
    return payload


def _check_fields(p: dict) -> str | None:
    """What is wrong with the payload's field types, or None (a crafted or damaged file fails here, not on Play)."""
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if not isinstance(p.get("model_config"), dict):
        return "model_config is not a mapping"
    shape = p.get("data_shape")
    if not isinstance(shape, (list, tuple)) or not shape or not all(is_int(d) and d > 0 for d in shape):
        return f"data_shape is not a list of positive whole numbers ({shape!r})"
    sd = p.get("state_dict")
    if not isinstance(sd, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()):
        return "state_dict is not a mapping of names to tensors"
    if not is_int(p.get("step", 0)) or p.get("step", 0) < 0:
        return f"step is not a whole number ≥ 0 ({p.get('step')!r})"
    opts = p.get("optimizers") or []
    if not isinstance(opts, list) or not all(isinstance(o, dict) and isinstance(o.get("state"), dict)
                                             and isinstance(o.get("param_groups"), list) for o in opts):
        return "optimizers is not a list of optimizer states (state + param_groups)"
    if p.get("train") is not None and not isinstance(p["train"], dict):
        return "train is not a mapping"
    training = p.get("training")
    if training is not None and (not isinstance(training, dict) or not isinstance(training.get("rng") or {}, dict)):
        return "training is not a mapping"
    if p.get("dataset") is not None and not isinstance(p["dataset"], dict):
        return "dataset is not a mapping"
    return None


def load(path, device="cpu"):
    """The model stored at `path`, on `device`, in eval mode."""
    return load_full(path, device)[0]


def load_full(path, device="cpu"):
    """(model, payload): the payload also has the optimizer states, step and train config."""
    payload = read(path)
    try:
        # seeded: the weights are overwritten next, and building must not draw from the global generator
        model = registry.build(payload["model"], data_shape=tuple(payload["data_shape"]), seed=0,
                               **payload["model_config"])
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, ValueError, TypeError, KeyError) as e:  # ConfigError is a ValueError
        raise CheckpointError(f"{path} does not match model {payload.get('model')!r}: {str(e)[:300]}") from None
    train = config_mod.TrainConfig()
    if payload.get("train") is not None:
        try:
            train = config_mod.make(config_mod.TrainConfig, payload["train"])
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{path} holds an invalid training config: {str(e)[:300]}") from None
    if payload.get("optimizers"):  # check now, so a damaged state is refused when opened, not on Play
        from genviz.core.session import load_optimizer_states

        try:
            load_optimizer_states(model.configure_optimizers(train), payload["optimizers"])
        except ValueError as e:
            raise CheckpointError(f"{path} holds an optimizer state that does not fit: {e}") from None
    return model.to(device).eval(), payload


def cpu_copy(obj):
    """A deep copy with every tensor on the CPU: what checkpoints and kept training states hold (a live
    optimizer or model may change its tensors in place after this)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)
