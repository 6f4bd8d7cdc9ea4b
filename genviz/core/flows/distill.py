"""Probability density distillation (van den Oord et al. 2018): an IAF student fitted to a MAF teacher.

The student minimises KL(student‖teacher) = E_{x~student}[log s(x) − log t(x)], which needs exactly what
each is fast at: the IAF samples in one pass and scores its own samples (it knows their z), the MAF scores
any x in one pass. The teacher comes from a MAF checkpoint (`teacher_path`), or is trained first on the
data by maximum likelihood for `teacher_steps` steps of the same session.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genviz.core.config import ConfigError, param
from genviz.core.flows import viz
from genviz.core.flows.maf import IAF, MAF, IAFConfig, MAFConfig, rates


@dataclass
class DistillConfig:
    teacher_path: str = param("", help="checkpoint of a trained MAF (e.g. runs/maf/checkpoint.pt); "
                                       "empty: train the teacher first in this session")
    teacher_steps: int = param(3000, lo=0, hi=1_000_000, unit="steps",
                               help="maximum-likelihood steps for the teacher before distilling (no path)")
    n_blocks: int = param(5, lo=1, hi=64, help="student IAF: number of MADE blocks")
    hidden: int = param(100, lo=1, hi=4096, unit="units", help="student IAF: MADE hidden width")

    def check(self) -> None:
        if self.teacher_path and not Path(self.teacher_path).is_file():
            raise ConfigError("teacher_path", f"no checkpoint at {self.teacher_path}; train one with "
                                              "`genviz train maf --out DIR` or leave it empty")


def _load_teacher(path: str, data_shape) -> MAF:
    from genviz.core import checkpoint  # imported late: checkpoint imports the registry

    try:
        teacher = checkpoint.load(path)
    except checkpoint.CheckpointError as e:
        raise ConfigError("teacher_path", str(e)) from None
    if not isinstance(teacher, MAF) or tuple(teacher.data_shape) != tuple(data_shape):
        raise ConfigError("teacher_path", f"{path} must hold a MAF for data of shape {tuple(data_shape)}")
    return teacher


class Distill(IAF):
    """The model is the IAF student (its layers/base/log_prob/sample); `teacher` is a MAF submodule."""

    mode = "iaf"

    def __init__(self, cfg: DistillConfig, data_shape):
        student_cfg = IAFConfig(n_blocks=cfg.n_blocks, hidden=cfg.hidden)  # an IAF's defaults: it starts as its base
        super().__init__(student_cfg, data_shape)
        self.cfg = cfg
        if cfg.teacher_path:
            self.teacher = _load_teacher(cfg.teacher_path, data_shape)
        else:
            # tanh scale, identity blocks at the start (MAF's defaults before #17): a softplus teacher's far tails
            # are so steep that the student's KL spikes (7.8e3 from a level of 6.8 on moons, seed 0) and the run
            # stops as diverged; with this teacher it ends at KL 1.1 (tanh's bound caps how fast log p falls)
            self.teacher = MAF(MAFConfig(scale="tanh", out_init="zero"), data_shape)
        self.register_buffer("teacher_steps_done", torch.tensor(0 if not cfg.teacher_path else -1))

    @property
    def objective_phase(self) -> int:
        """0 while the teacher trains (the loss is its NLL), 1 once the student does (the loss is KL, which starts
        at 10⁴-10⁶: the untrained student's samples land in the teacher's far tails); a Session rebases its
        divergence check where this changes."""
        return int(self.teacher_ready)

    @property
    def teacher_ready(self) -> bool:
        done = int(self.teacher_steps_done)
        return done < 0 or done >= self.cfg.teacher_steps

    def student_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("teacher.")]

    def configure_optimizers(self, train):
        return [torch.optim.Adam(self.teacher.parameters(), lr=train.lr),
                torch.optim.Adam(self.student_parameters(), lr=train.lr)]

    def kl_samples(self, n: int, generator: torch.Generator | None = None):
        """Per-sample log s(x) − log t(x) for n student samples (its mean estimates KL(s‖t) ≥ 0)."""
        z = self.base.sample(n, generator)
        trace, log_det = self.forward_with_trace(z)
        return self.base.log_prob(z) - log_det - self.teacher.log_prob(trace[-1])

    def loss(self, x):
        kl = self.kl_samples(len(x)).mean()
        return kl, {"kl": kl.detach()}

    def train_step(self, x, optimizers, train):
        """Teacher MLE steps until it is ready, then student KL steps (the teacher frozen). 'loss' is what the
        step minimised: the teacher's NLL, then the student's KL; 'teacher_nll' is the teacher's NLL throughout.
        No per-step KL while the teacher trains: the student is then its untrained base, and its KL to a teacher
        still being fitted (10³-10⁶ on moons) says nothing about distillation, costs a student pass per step,
        and drew the loss plot at a scale where the teacher's falling NLL was a flat line at 0."""
        opt_t, opt_s = optimizers
        ready = self.teacher_ready
        self.teacher.requires_grad_(not ready)
        opt = opt_s if ready else opt_t
        opt.zero_grad(set_to_none=True)
        teacher_nll = -self.teacher.log_prob(x).mean()
        if ready:
            loss = self.kl_samples(len(x)).mean()
        else:
            loss = teacher_nll
            self.teacher_steps_done += 1
        loss.backward()
        if train.grad_clip > 0:
            nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], train.grad_clip)
        opt.step()
        return {"loss": loss.detach(), "teacher_nll": teacher_nll.detach()}

    @property
    def pending_metrics(self) -> tuple[str, ...]:
        """Held-out metrics that are NaN on purpose now (a Session does not read them as a divergence): the
        student's KL until the teacher is ready, for the reason train_step gives."""
        return () if self.teacher_ready else ("kl",)

    @torch.no_grad()
    def val_metrics(self, data) -> dict[str, float]:
        x = data.val[:2048].to(self.dtype)
        g = torch.Generator(device=self.device).manual_seed(0)  # the same samples at every snapshot
        kl = float(self.kl_samples(2048, g).mean()) if self.teacher_ready else float("nan")
        speed = self.__dict__.get("_speed")
        if speed is None:  # depends on the architectures, not the weights: time it once
            speed = self.speed()
        return {"nll": float(-self.log_prob(x).mean()), "teacher_nll": float(-self.teacher.log_prob(x).mean()),
                "kl": kl, "speedup": float(speed[1, 0] / speed[0, 0])}

    def speed(self) -> np.ndarray:
        """[[teacher (MAF) samples/s, densities/s], [student (IAF) ...]]; kept for the next visualize."""
        self.__dict__["_speed"] = np.array([rates(self.teacher, 4096, 5), rates(self, 4096, 5)], np.float64)
        return self.__dict__["_speed"]

    def visualize(self, data, view):
        out = viz.flow_arrays(self, data, view)
        teacher_logp, _ = viz.density_and_logdet(self.teacher, view["bbox"], view.get("res", 96))
        out["teacher_log_density"] = teacher_logp
        out["speed"] = self.__dict__.get("_speed")
        if out["speed"] is None:
            out["speed"] = self.speed()
        return out
