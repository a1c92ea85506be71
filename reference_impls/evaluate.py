"""Honest evaluation: three arms scored with the same downstream recipe, over several seeds.

Arms: the pretrained encoder, the same architecture randomly initialised, and raw pixels.
Probes: a frozen linear probe, k-nearest neighbours, and a short few-label fine-tune.
A verdict is given only when the gap between pretrained and random-init exceeds twice the pooled std.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reference_impls.data import Splits

PROBES = ("linear_probe", "knn", "finetune")
ARMS = ("pretrained", "random_init", "pixels")


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
                 classes: int, steps: int, seed: int) -> float:
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
    return float((head(test).argmax(1) == test_y).float().mean())


def knn(train: torch.Tensor, train_y: torch.Tensor, test: torch.Tensor, test_y: torch.Tensor, classes: int,
        k: int, temperature: float = 0.07) -> float:
    """Cosine k-NN with similarity-weighted votes."""
    train, test = F.normalize(train, dim=1), F.normalize(test, dim=1)
    sims = test @ train.T
    top, idx = sims.topk(min(k, len(train)), dim=1)
    votes = torch.zeros(len(test), classes, device=test.device)
    votes.scatter_add_(1, train_y[idx], (top / temperature).exp())
    return float((votes.argmax(1) == test_y).float().mean())


def augment(images: torch.Tensor, flips: bool, generator: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 px (and horizontal flips where they keep the label)."""
    dx, dy = (torch.randint(-2, 3, (2,), generator=generator)).tolist()
    out = torch.roll(images, shifts=(dy, dx), dims=(2, 3))
    if flips and torch.rand(1, generator=generator).item() < 0.5:
        out = out.flip(3)
    return out


def finetune(encoder: nn.Module | None, data: Splits, cfg: EvalConfig, seed: int) -> float:
    """Train encoder + linear head on the few labels (or a linear head on pixels for the pixel arm)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    classes = len(data.classes)
    model = copy.deepcopy(encoder) if encoder is not None else None
    in_dim = model.dim if model is not None else data.train_x[0].numel()
    head = nn.Linear(in_dim, classes).to(data.train_x.device)
    params = [{"params": head.parameters(), "lr": cfg.finetune_lr * 4}]
    if model is not None:
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
        correct = sum(int((forward(data.test_x[i:i + 256]).argmax(1) == data.test_y[i:i + 256]).sum())
                      for i in range(0, len(data.test_x), 256))
    return correct / len(data.test_x)


def evaluate_arm(encoder: nn.Module | None, data: Splits, cfg: EvalConfig, seed: int) -> dict[str, float]:
    classes = len(data.classes)
    train, test = encode(encoder, data.train_x), encode(encoder, data.test_x)
    return {
        "linear_probe": linear_probe(train, data.train_y, test, data.test_y, classes, cfg.probe_steps, seed),
        "knn": knn(train, data.train_y, test, data.test_y, classes, cfg.knn_k),
        "finetune": finetune(encoder, data, cfg, seed),
    }


def summarise(runs: list[dict[str, dict[str, float]]]) -> dict:
    """Mean and std (sample, n-1) per arm and probe, and the verdict per probe."""
    out: dict = {"seeds": len(runs), "arms": {}, "verdicts": {}}
    for arm in ARMS:
        out["arms"][arm] = {}
        for probe in PROBES:
            values = torch.tensor([r[arm][probe] for r in runs], dtype=torch.float64) * 100
            std = float(values.std()) if len(values) > 1 else float("nan")
            out["arms"][arm][probe] = {"mean": float(values.mean()), "std": std, "values": values.tolist()}
    for probe in PROBES:
        out["verdicts"][probe] = verdict(out["arms"]["pretrained"][probe], out["arms"]["random_init"][probe])
    return out


def verdict(pre: dict, rand: dict) -> dict:
    """'helped' / 'hurt' only when |gap| > 2 x pooled std; otherwise 'no verdict'."""
    gap = pre["mean"] - rand["mean"]
    pooled = math.sqrt((pre["std"] ** 2 + rand["std"] ** 2) / 2) if not math.isnan(pre["std"]) else float("nan")
    if math.isnan(pooled):
        word, text = "no verdict", "one seed cannot separate signal from noise"
    elif gap > 2 * pooled:
        word, text = "helped", f"pretraining helped by {gap:.1f} ± {pooled:.1f} points"
    elif gap < -2 * pooled:
        word, text = "hurt", f"pretraining hurt by {-gap:.1f} ± {pooled:.1f} points"
    else:
        word, text = "no verdict", f"difference {gap:+.1f} points is within twice the pooled std ({pooled:.1f})"
    return {"verdict": word, "gap": gap, "pooled_std": pooled, "text": text}
