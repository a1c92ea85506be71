"""Honest evaluation: four arms scored with the same downstream recipe, over several seeds.

Arms: the pretrained encoder, the same architecture randomly initialised, raw pixels, and handcrafted features
(pooled HOG). Probes: a frozen linear probe, k-nearest neighbours, and a short few-label fine-tune. Each probe
returns which test images it got right, so the verdict (`reference_impls.verdict`) can count test-set sampling
noise as well as seed noise.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reference_impls.data import Splits

PROBES = ("linear_probe", "knn", "finetune")
ARMS = ("pretrained", "random_init", "pixels", "hog")


@dataclass
class EvalConfig:
    probe_steps: int = 300
    knn_k: int = 10
    finetune_steps: int = 100
    finetune_lr: float = 5e-4
    batch_size: int = 256
    flips: bool = True  # label-preserving for shapes, not for digits


@torch.no_grad()
def encode(encoder: nn.Module | None, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    if encoder is None:
        return images.flatten(1).float()
    encoder.eval()
    return torch.cat([encoder.pooled(images[i:i + batch]).float() for i in range(0, len(images), batch)])


def linear_probe(train: torch.Tensor, train_y: torch.Tensor, test: torch.Tensor, test_y: torch.Tensor,
                 classes: int, steps: int, seed: int) -> torch.Tensor:
    """Multinomial logistic regression on standardised frozen features (full batch)."""
    torch.manual_seed(seed)
    mean, std = train.mean(0), train.std(0) + 1e-6
    train, test = (train - mean) / std, (test - mean) / std
    head = nn.Linear(train.shape[1], classes).to(train.device)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(train), train_y).backward()
        opt.step()
    with torch.no_grad():
        return head(test).argmax(1) == test_y


def knn(train: torch.Tensor, train_y: torch.Tensor, test: torch.Tensor, test_y: torch.Tensor, classes: int,
        k: int, temperature: float = 0.07) -> torch.Tensor:
    """Cosine k-NN with similarity-weighted votes."""
    train, test = F.normalize(train, dim=1), F.normalize(test, dim=1)
    sims = test @ train.T
    top, idx = sims.topk(min(k, len(train)), dim=1)
    votes = torch.zeros(len(test), classes, device=test.device)
    votes.scatter_add_(1, train_y[idx], (top / temperature).exp())
    return votes.argmax(1) == test_y


def augment(images: torch.Tensor, flips: bool, generator: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 px (and horizontal flips where they keep the label)."""
    dx, dy = (torch.randint(-2, 3, (2,), generator=generator)).tolist()
    out = torch.roll(images, shifts=(dy, dx), dims=(2, 3))
    if flips and torch.rand(1, generator=generator).item() < 0.5:
        out = out.flip(3)
    return out


def finetune(encoder: nn.Module | None, data: Splits, cfg: EvalConfig, seed: int) -> torch.Tensor:
    """Train encoder + linear head on the few labels (a linear head alone on pixels or fixed features)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    classes = len(data.classes)
    model = copy.deepcopy(encoder) if encoder is not None else None
    in_dim = model.dim if model is not None else data.train_x[0].numel()
    head = nn.Linear(in_dim, classes).to(data.train_x.device)
    params = [{"params": head.parameters(), "lr": cfg.finetune_lr * 4}]
    if model is not None and next(model.parameters(), None) is not None:
        model.train()
        params.append({"params": model.parameters(), "lr": cfg.finetune_lr})
    opt = torch.optim.AdamW(params, weight_decay=0.05)
    forward = (lambda x: head(model.pooled(x))) if model is not None else (lambda x: head(x.flatten(1)))
    n = len(data.train_x)
    for step in range(cfg.finetune_steps):
        scale = 0.5 * (1 + math.cos(math.pi * step / cfg.finetune_steps))
        for group, base in zip(opt.param_groups, (cfg.finetune_lr * 4, cfg.finetune_lr)):
            group["lr"] = base * scale
        idx = torch.randint(0, n, (min(cfg.batch_size, n),), generator=generator).to(data.train_x.device)
        x = augment(data.train_x[idx], cfg.flips, generator)
        opt.zero_grad()
        F.cross_entropy(forward(x), data.train_y[idx]).backward()
        opt.step()
    if model is not None:
        model.eval()
    with torch.no_grad():
        return torch.cat([forward(data.test_x[i:i + 256]).argmax(1) == data.test_y[i:i + 256]
                          for i in range(0, len(data.test_x), 256)])


def evaluate_arm(encoder: nn.Module | None, data: Splits, cfg: EvalConfig, seed: int) -> dict[str, np.ndarray]:
    """Per probe, which test images were classified right (uint8, one per test image)."""
    classes = len(data.classes)
    train, test = encode(encoder, data.train_x), encode(encoder, data.test_x)
    outcomes = {
        "linear_probe": linear_probe(train, data.train_y, test, data.test_y, classes, cfg.probe_steps, seed),
        "knn": knn(train, data.train_y, test, data.test_y, classes, cfg.knn_k),
        "finetune": finetune(encoder, data, cfg, seed),
    }
    return {probe: right.cpu().numpy().astype(np.uint8) for probe, right in outcomes.items()}


def summarise(runs: list[dict[str, dict[str, np.ndarray]]]) -> dict:
    """Accuracy in % per arm and probe: mean, sample std over seeds, and each seed's value."""
    out: dict = {"seeds": len(runs), "arms": {}}
    for arm in runs[0]:
        out["arms"][arm] = {}
        for probe in PROBES:
            values = np.array([r[arm][probe].mean() * 100 for r in runs], np.float64)
            std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            out["arms"][arm][probe] = {"mean": float(values.mean()), "std": std, "values": values.tolist()}
    return out


def outcomes_by_arm(runs: list[dict[str, dict[str, np.ndarray]]], probe: str) -> dict[str, np.ndarray]:
    """(seeds, test images) of 0/1 per arm for one probe: what the verdict reads."""
    return {arm: np.stack([r[arm][probe] for r in runs]) for arm in runs[0]}
