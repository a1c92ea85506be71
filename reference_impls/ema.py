"""Exponential-moving-average teachers (data2vec, iBOT, I-JEPA)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def make_teacher(student: nn.Module) -> nn.Module:
    """A frozen copy of the student; it changes only through `ema_update`."""
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.eval()


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, tau: float) -> None:
    """teacher <- tau * teacher + (1 - tau) * student: one fused `_foreach` call over all parameters, not a
    Python loop of two kernels per parameter."""
    torch._foreach_lerp_(list(teacher.parameters()), [s.detach() for s in student.parameters()], 1.0 - tau)


def ema_rate(step: int, total: int, base: float, end: float = 1.0, schedule: str = "cosine") -> float:
    """The teacher's momentum at `step` of `total`, from `base` to `end` as the papers schedule it:
    "cosine" (iBOT, after BYOL / DINO: end - (end - base) (cos(pi t) + 1) / 2) or "linear" (I-JEPA; data2vec
    anneals linearly, here over the whole run)."""
    t = min(1.0, step / max(total, 1))
    if schedule == "cosine":
        return end - (end - base) * (math.cos(math.pi * t) + 1) / 2
    if schedule == "linear":
        return base + (end - base) * t
    raise ValueError(f"EMA schedule must be 'cosine' or 'linear', got '{schedule}'")
