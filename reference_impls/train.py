"""The pretraining loop: fused AdamW, linear warm-up then cosine decay, gradient clipping, bf16 autocast on CUDA,
optional torch.compile (once per method object), data and masks on the device, no host synchronisation inside
the step."""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from reference_impls import distributed
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
    monitor_every: int = 4  # target-health monitors every this many log intervals
    compile_mode: str | None = None  # torch.compile mode, e.g. "reduce-overhead" for CUDA graphs


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


RANK_SEED_STRIDE = 1_000_003  # rank r's masks and noise come from seed + r x this (rank 0: the seed itself)

_COMPILED: "weakref.WeakKeyDictionary[MIMMethod, object]" = weakref.WeakKeyDictionary()


def compiled(method: MIMMethod, mode: str | None = None):
    """One compiled forward (and backward) per method object, reused across seeds: `mimtax verify`
    re-initialises the same object for each seed instead of building and compiling a new one."""
    fn = _COMPILED.get(method)
    if fn is None:
        fn = _COMPILED[method] = torch.compile(method, mode=mode)
    return fn


class Trainer:
    """The pretraining step. The batch indices, the images, the masks and the monitors' numbers stay on the
    device; the learning rate is a device tensor that fused AdamW reads; clipping and the EMA are `_foreach`
    kernels. Nothing in `step` waits for the host, so a GPU runs ahead of Python (tested on the CPU by
    `tests/test_fast_step.py`; on a GPU, `benchmarks/bench_throughput.py` runs a step under CUDA's sync-debug
    mode and records the result). Under torchrun each rank takes its slice of a global batch of
    world x `batch_size` images and DistributedDataParallel averages the gradients (`distributed`)."""

    def __init__(self, method: MIMMethod, data: Splits, cfg: TrainConfig):
        self.method, self.data, self.cfg = method, data, cfg
        method.to(cfg.device).train()
        trainable = [(n, p) for n, p in method.named_parameters() if p.requires_grad]  # not the EMA teachers
        self.parameters = [p for _, p in trainable]
        decay = [p for n, p in trainable if p.ndim >= 2 and "token" not in n]
        no_decay = [p for n, p in trainable if p.ndim < 2 or "token" in n]
        self.group = distributed.current()
        self.base_lr = distributed.scaled_lr(cfg.lr)  # the global batch is world x batch_size
        self.lr = torch.tensor(self.base_lr, device=cfg.device)
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=self.lr,
                                           betas=(0.9, 0.95), fused=True)
        if self.group.active:
            wrapped = distributed.wrap(method, cfg.device)
            self.forward = torch.compile(wrapped, mode=cfg.compile_mode) if cfg.compile else wrapped
        else:
            self.forward = compiled(method, cfg.compile_mode) if cfg.compile else method
        # the same generator on every rank: all draw the global batch's indices and keep their slice
        self.generator = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
        if hasattr(data.pretrain, "reseed"):  # but each rank its own pixel noise
            data.pretrain.reseed(cfg.seed + RANK_SEED_STRIDE * self.group.rank)

    def step(self, step: int, batch: tuple | None = None) -> torch.Tensor:
        """One update; returns the loss as a device tensor (reading it is the caller's choice, and a wait).
        `batch`: a given global batch (images, masks) instead of one drawn from the pool (tests compare runs
        on the same batches); each rank keeps its slice."""
        cfg = self.cfg
        extra = {}
        if batch is None:
            idx = torch.randint(0, len(self.data.pretrain), (cfg.batch_size * self.group.world,),
                                generator=self.generator, device=cfg.device)
            images = self.data.pretrain.get(idx[distributed.rank_slice(len(idx))])
        else:
            images, masks = batch
            mine = distributed.rank_slice(len(images))
            images = images[mine]
            extra["masks" if isinstance(masks, tuple) else "mask"] = (
                tuple(m[mine] for m in masks) if isinstance(masks, tuple) else masks[mine])
        self.lr.fill_(self.base_lr * lr_factor(step, cfg.warmup_steps, cfg.steps))  # a host scalar written, not read
        with autocast(cfg.device):
            loss = self.forward(images, **extra)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, cfg.clip)
        self.optimizer.step()
        self.method.after_step(step, cfg.steps)
        return loss.detach()

    @torch.no_grad()
    def health(self) -> dict[str, float | bool]:
        """The method's target-health monitors on held-out images (empty for methods without a teacher)."""
        from reference_impls.monitors import summarise

        values = self.method.health(self.data.heldout[:256])
        return summarise(values) if values else {}


def pretrain(method: MIMMethod, data: Splits, cfg: TrainConfig, progress: bool = True) -> dict:
    """Train `method` on the unlabelled pool; returns losses, monitors, throughput and timing."""
    device = cfg.device
    trainer = Trainer(method, data, cfg)
    torch.manual_seed(cfg.seed + RANK_SEED_STRIDE * trainer.group.rank)  # each rank its own masks
    progress = progress and trainer.group.main
    # for EMA schedules defined per epoch (iBOT): each step takes the global batch, world x batch_size
    method.steps_per_epoch = len(data.pretrain) / (cfg.batch_size * trainer.group.world)
    prepared = method.prepare(data.pretrain, device)
    before = heldout_loss(method, data.heldout, device)
    from reference_impls.pretext import measure, pretext_check

    pretext_before = measure(method, data.heldout)  # "learned its task": the same masks are drawn again after
    history: list[tuple[int, float]] = []
    health: list[dict] = []
    running = torch.zeros((), device=device)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), disable=not progress, transient=True) as bar:
        task = bar.add_task(f"pretraining {method.name}", total=cfg.steps, info="")
        for step in range(cfg.steps):
            running += trainer.step(step).float()
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                mean = float(distributed.all_reduce_mean_(running)) / ((step % cfg.log_every) + 1)  # one wait per log interval
                running.zero_()
                history.append((step + 1, mean))
                if (step + 1) % (cfg.log_every * cfg.monitor_every) == 0 or step + 1 == cfg.steps:
                    checked = trainer.health()
                    if checked:
                        health.append({"step": step + 1, **checked})
                rate = (step + 1) * cfg.batch_size * trainer.group.world / (time.perf_counter() - start)
                bar.update(task, completed=step + 1, info=f"loss {mean:.4f}  {rate:,.0f} img/s")
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    diagnostics = {"health": health[-1], "collapsed_at": next((h["step"] for h in health if h["collapsed"]), None)} \
        if health else {}
    return dict(config={**asdict(cfg), "world_size": trainer.group.world, "lr_scaled": trainer.base_lr},
                history=history, heldout_loss_before=before, prepared=prepared,
                diagnostics=diagnostics, health_history=health,
                heldout_loss_after=heldout_loss(method, data.heldout, device), wall_s=wall,
                pretext=pretext_check(method, data.heldout, pretext_before),
                images_per_s=cfg.steps * cfg.batch_size * trainer.group.world / wall)


def save_checkpoint(method: MIMMethod, path: str | Path) -> None:
    """Weights as safetensors (no pickle), written to a temporary file and renamed."""
    from safetensors.torch import save

    from taxonomy.fsutil import write_atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in method.state_dict().items()}
    write_atomic(path, lambda fh: fh.write(save(state, metadata={"method": method.name})))


def load_checkpoint(method: MIMMethod, path: str | Path) -> MIMMethod:
    from safetensors.torch import load_file

    method.load_state_dict(load_file(str(path)))
    return method
