"""Exponential-moving-average teachers (data2vec, iBOT, I-JEPA)."""

from __future__ import annotations

import copy

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


def ema_rate(step: int, total: int, start: float | None = None, end: float = 1.0) -> float:
    """Momentum rising linearly from `start` to `end` over the run. By default `start` is scaled to the run
    length so the teacher averages over roughly the last 2 % of the steps (0.996 at 50k steps, 0.95 at 1k)."""
    if start is None:
        start = min(0.9996, max(0.9, 1 - 50 / max(total, 1)))
    return start + (end - start) * min(1.0, step / max(total, 1))
