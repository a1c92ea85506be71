"""The pretraining loop: AdamW, linear warm-up then cosine decay, gradient clipping, bf16 autocast on CUDA,
optional torch.compile, data on the device, no host synchronisation inside the step."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from reference_impls.data import Splits
from reference_impls.method import MIMMethod


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 256
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    clip: float = 1.0
    compile: bool = False
    device: str = "cpu"
    seed: int = 0
    log_every: int = 25


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def autocast(device: str):
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def heldout_loss(method: MIMMethod, images: torch.Tensor, device: str, seed: int = 1234, batch: int = 256) -> float:
    """Pretraining loss on images never trained on, with masks fixed by `seed` (comparable across runs)."""
    was_training = method.training
    method.eval()
    state = torch.random.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    torch.manual_seed(seed)
    losses = []
    for start in range(0, len(images), batch):
        with autocast(device):
            losses.append(method(images[start:start + batch]).float() * len(images[start:start + batch]))
    torch.random.set_rng_state(state)
    if cuda_state is not None:
        torch.cuda.set_rng_state_all(cuda_state)
    method.train(was_training)
    return float(torch.stack(losses).sum() / len(images))


def pretrain(method: MIMMethod, data: Splits, cfg: TrainConfig, progress: bool = True) -> dict:
    """Train `method` on the unlabelled pool; returns losses, throughput and timing."""
    device = cfg.device
    torch.manual_seed(cfg.seed)
    method.to(device).train()
    fused = device.startswith("cuda")
    trainable = [(n, p) for n, p in method.named_parameters() if p.requires_grad]  # not the EMA teachers
    decay = [p for n, p in trainable if p.ndim >= 2 and "token" not in n]
    no_decay = [p for n, p in trainable if p.ndim < 2 or "token" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95),
                                  fused=fused or None)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg.warmup_steps, cfg.steps))
    step_fn = torch.compile(method) if cfg.compile else method
    generator = torch.Generator().manual_seed(cfg.seed)
    prepared = method.prepare(data.pretrain, device)
    before = heldout_loss(method, data.heldout, device)
    history: list[tuple[int, float]] = []
    running = torch.zeros((), device=device)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), disable=not progress, transient=True) as bar:
        task = bar.add_task(f"pretraining {method.name}", total=cfg.steps, info="")
        for step in range(cfg.steps):
            idx = torch.randint(0, len(data.pretrain), (cfg.batch_size,), generator=generator)
            images = data.pretrain.get(idx)
            with autocast(device):
                loss = step_fn(images)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in trainable], cfg.clip)
            optimizer.step()
            schedule.step()
            method.after_step(step, cfg.steps)
            running += loss.detach().float()
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                mean = float(running) / ((step % cfg.log_every) + 1)  # one sync per log interval
                running.zero_()
                history.append((step + 1, mean))
                rate = (step + 1) * cfg.batch_size / (time.perf_counter() - start)
                bar.update(task, completed=step + 1, info=f"loss {mean:.4f}  {rate:,.0f} img/s")
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    diagnostics = method.diagnostics() if hasattr(method, "diagnostics") else {}
    return dict(config=asdict(cfg), history=history, heldout_loss_before=before, prepared=prepared,
                diagnostics=diagnostics,
                heldout_loss_after=heldout_loss(method, data.heldout, device), wall_s=wall,
                images_per_s=cfg.steps * cfg.batch_size / wall)


def save_checkpoint(method: MIMMethod, path: str | Path) -> None:
    """Weights as safetensors (no pickle), written to a temporary file and renamed."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in method.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(state, str(tmp), metadata={"method": method.name})
    tmp.replace(path)


def load_checkpoint(method: MIMMethod, path: str | Path) -> MIMMethod:
    from safetensors.torch import load_file

    method.load_state_dict(load_file(str(path)))
    return method
