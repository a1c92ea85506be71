"""Health monitors for methods whose targets come from a teacher: do the targets still tell images apart?

A self-distillation or feature-prediction run can collapse (every image gets the same target) while its loss
keeps falling. These measures are computed on held-out images at the log interval, not in every step, and
return 0-d tensors so the step never waits for the device; `summarise` turns them into numbers and a flag."""

from __future__ import annotations

import math

import torch


def distribution_health(probs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Teacher distributions over K prototypes (..., K): mean per-sample entropy and entropy of the mean
    distribution, each as a share of log K (both near 1: uniform targets; batch near 0: one prototype)."""
    k = probs.shape[-1]
    p = probs.reshape(-1, k).float()
    per_sample = -(p * p.clamp_min(1e-12).log()).sum(-1).mean()
    marginal = p.mean(0)
    batch = -(marginal * marginal.clamp_min(1e-12).log()).sum()
    return {"per_sample_entropy": per_sample / math.log(k), "batch_entropy": batch / math.log(k)}


def feature_health(features: torch.Tensor) -> dict[str, torch.Tensor]:
    """Target features (B, N, D) or (B, D): their spread across images (std over images of the per-image mean
    feature, averaged over dimensions) and the effective rank of the images' mean features (exp of the entropy
    of the normalised singular values; 1 = every image's target is the same direction)."""
    pooled = features.float().reshape(features.shape[0], -1, features.shape[-1]).mean(1)
    spread = pooled.std(0).mean()
    singular = torch.linalg.svdvals(pooled - pooled.mean(0))
    share = singular / singular.sum().clamp_min(1e-12)
    rank = torch.exp(-(share * share.clamp_min(1e-12).log()).sum())
    return {"target_std": spread, "effective_rank": rank}


def summarise(values: dict[str, torch.Tensor]) -> dict[str, float | bool]:
    """Numbers for the report, and `collapsed` when a measure sits at its degenerate limit."""
    out: dict[str, float | bool] = {k: round(float(v), 4) for k, v in values.items()}
    collapsed = False
    if "batch_entropy" in out:
        collapsed |= out["batch_entropy"] < 0.1 or out["per_sample_entropy"] > 0.95
    if "effective_rank" in out:
        collapsed |= out["target_std"] < 1e-3 or out["effective_rank"] < 1.5
    out["collapsed"] = bool(collapsed)
    return out
