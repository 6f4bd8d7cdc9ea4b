"""Config dataclasses with ranges, units and help text that the GUI turns into forms.

A field is declared with `param(default, lo=..., hi=..., unit=..., help=...)`; `validate(cfg)` checks every
field against its metadata and raises `ConfigError` naming the first bad field, before any training starts.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any


class ConfigError(ValueError):
    """A hyperparameter is out of range; `.field` names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def param(default, *, lo=None, hi=None, lo_open=False, unit: str = "", help: str = "",
          choices: tuple | None = None, log: bool = False, advanced: bool = False):
    """A config field. `lo_open` makes the lower bound strict (e.g. learning rate > 0); `log` hints a log slider."""
    meta = dict(lo=lo, hi=hi, lo_open=lo_open, unit=unit, help=help, choices=choices, log=log,
                advanced=advanced)
    return field(default=default, metadata=meta)


def spec(cfg_or_cls, name: str) -> dict:
    """The metadata dict of one field (empty dict when the field was declared without `param`)."""
    for f in fields(cfg_or_cls):
        if f.name == name:
            return dict(f.metadata)
    raise KeyError(name)


def _check(name: str, value: Any, meta: dict, ftype: type) -> None:
    choices = meta.get("choices")
    if choices is not None:
        if value not in choices:
            raise ConfigError(name, f"must be one of {', '.join(map(str, choices))}, got {value!r}")
        return
    if ftype is bool or isinstance(value, bool):
        if not isinstance(value, bool):
            raise ConfigError(name, f"must be true or false, got {value!r}")
        return
    if ftype in (int, float):
        if ftype is int and (not isinstance(value, int) or isinstance(value, bool)):
            raise ConfigError(name, f"must be a whole number, got {value!r}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ConfigError(name, f"must be a finite number, got {value!r}")
        lo, hi = meta.get("lo"), meta.get("hi")
        if lo is not None and (value <= lo if meta.get("lo_open") else value < lo):
            raise ConfigError(name, f"must be {'>' if meta.get('lo_open') else '≥'} {lo}, got {value}")
        if hi is not None and value > hi:
            raise ConfigError(name, f"must be ≤ {hi}, got {value}")


_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def field_type(f: dataclasses.Field) -> type:
    """The Python type of a field, also when annotations are strings (`from __future__ import annotations`)."""
    t = f.type
    return _TYPES.get(t, t) if isinstance(t, str) else t


def validate(cfg) -> None:
    """Raise ConfigError for the first field outside its declared range; also runs `cfg.check()` if defined."""
    for f in fields(cfg):
        _check(f.name, getattr(cfg, f.name), dict(f.metadata), field_type(f))
    extra = getattr(cfg, "check", None)
    if callable(extra):
        extra()


def coerce(cfg_cls, name: str, value: Any) -> Any:
    """Convert a user-typed value (e.g. from the CLI's `--set k=v`) to the field's type."""
    for f in fields(cfg_cls):
        if f.name != name:
            continue
        t = field_type(f)
        if t is bool and isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(name, f"must be true or false, got {value!r}")
        if t in (int, float) and isinstance(value, str):
            try:
                return t(float(value)) if t is int and float(value).is_integer() else t(value)
            except ValueError:
                raise ConfigError(name, f"must be a number, got {value!r}") from None
        return value
    raise ConfigError(name, f"unknown setting; known: {', '.join(f.name for f in fields(cfg_cls))}")


def make(cfg_cls, overrides: dict | None = None):
    """Build and validate a config from overrides, refusing unknown names with the list of known ones."""
    overrides = dict(overrides or {})
    kwargs = {k: coerce(cfg_cls, k, v) for k, v in overrides.items()}
    cfg = cfg_cls(**kwargs)
    validate(cfg)
    return cfg


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


@dataclass
class TrainConfig:
    """How a session trains, common to all models."""

    lr: float = param(1e-3, lo=0.0, lo_open=True, hi=10.0, log=True, help="Adam learning rate")
    batch_size: int = param(256, lo=1, hi=65536, help="examples per step")
    steps: int = param(3000, lo=1, hi=10_000_000, unit="steps", help="steps to train before stopping")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seeds data, initialisation and sampling")
    snapshot_every: int = param(50, lo=1, hi=100_000, unit="steps",
                                help="how often the session copies plot data out of the model")
    grad_clip: float = param(0.0, lo=0.0, hi=1e6, help="clip the gradient norm to this (0 = off)")
    weight_decay: float = param(0.0, lo=0.0, hi=1.0, advanced=True,
                                help="L2 penalty: weight_decay · w is added to the gradient of each weight (not "
                                     "the biases or scales; 0 = off); the regularizer the likelihood papers tune "
                                     "on the validation split")
    l1: float = param(0.0, lo=0.0, hi=1.0, advanced=True,
                      help="L1 penalty: l1 · sign(w) is added to the gradient of each weight (not the biases or "
                           "scales; 0 = off): a Laplace prior, every weight pulled towards 0 at the same rate. FVSBN's best "
                           "regularizer on fixed-binarized MNIST (README, Benchmarks)")
    lr_schedule: str = param("constant", choices=("constant", "cosine"),
                             help="learning rate over the run: constant, or cosine decay to 2% of lr at the last step")
    early_stop: int = param(0, lo=0, hi=10_000_000, unit="steps", advanced=True,
                            help="stop when the held-out NLL/NELBO (checked at each snapshot) has not improved "
                                 "for this many steps (0 = off); the best state is kept (best.pt in a run folder)")
    device: str = param("cpu", help="cpu, cuda or cuda:N")
    tensorboard: bool = param(False, advanced=True,
                              help="a run that writes a run folder also writes its metrics there as TensorBoard "
                                   "scalars (<run>/tb; needs the optional tensorboard package)")

    def check(self) -> None:
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError("device", f"must be cpu, cuda or cuda:N, got {self.device!r}")
