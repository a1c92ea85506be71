"""Several processes, one training run: what `mimtax run` and `mimtax verify` do under `torchrun`.

torchrun starts one process per GPU (or per CPU slot, with gloo) and sets RANK / WORLD_SIZE / LOCAL_RANK; this
module reads them. With one process every function here is the identity, so the single-process code path is
the same code. What changes with N processes:
- each rank trains on its own slice of a global batch of N x `batch_size` images (all ranks draw the same global
  indices from the shared seed and keep their slice, so no sampler state is needed), with its own masks and
  noise; PyTorch's DistributedDataParallel averages the gradients;
- the learning rate is scaled by the global batch (linear scaling: the preset's rate is for its batch size);
- running means that a teacher keeps (iBOT's and AttMask's centres) are averaged over all ranks' batches;
- frozen features for the probes are computed by rank on a share of the images and gathered;
- rank 0 alone logs, draws and writes reports and checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


_GROUP = Group()


def current() -> Group:
    return _GROUP


def launched() -> bool:
    """True inside a torchrun launch of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: str) -> tuple[Group, str]:
    """Join the process group torchrun describes (nccl on CUDA, gloo on the CPU); returns it and the device of
    this rank (`cuda:LOCAL_RANK` on GPUs). Without torchrun: one process, the device unchanged."""
    global _GROUP
    if not launched():
        return _GROUP, device
    if _GROUP.active:
        return _GROUP, device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    _GROUP = Group(dist.get_rank(), dist.get_world_size(), local_rank)
    return _GROUP, device


def close() -> None:
    global _GROUP
    if _GROUP.active:
        dist.barrier()
        dist.destroy_process_group()
        _GROUP = Group()


def launch_prefix() -> str:
    """How a report's reproduce command starts: `mimtax`, or the torchrun launch that ran it."""
    return f"torchrun --nproc_per_node {_GROUP.world} $(which mimtax)" if _GROUP.active else "mimtax"


def scaled_lr(lr: float, world: int | None = None) -> float:
    """The preset's rate is tuned for its per-step batch; N ranks see N times that batch (linear scaling)."""
    return lr * (world or _GROUP.world)


def rank_slice(n: int) -> slice:
    """This rank's contiguous share of n rows (the first ranks take one more where n does not divide)."""
    return _slice_of(_GROUP.rank, n)


def all_reduce_mean_(tensor: torch.Tensor) -> torch.Tensor:
    """In place: the mean of `tensor` over ranks (for statistics from equal-sized per-rank batches)."""
    if _GROUP.active:
        dist.all_reduce(tensor)
        tensor.div_(_GROUP.world)
    return tensor


def gather_rows(local: torch.Tensor, n: int) -> torch.Tensor:
    """Every rank's `rank_slice(n)` rows, concatenated in rank order: the whole (n, ...) tensor on every rank."""
    if not _GROUP.active:
        return local
    per = -(-n // _GROUP.world)
    padded = torch.zeros((per, *local.shape[1:]), dtype=local.dtype, device=local.device)
    padded[:len(local)] = local
    parts = [torch.empty_like(padded) for _ in range(_GROUP.world)]
    dist.all_gather(parts, padded)
    sizes = [len(range(n)[_slice_of(rank, n)]) for rank in range(_GROUP.world)]
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


def _slice_of(rank: int, n: int) -> slice:
    per, extra = divmod(n, _GROUP.world)
    start = rank * per + min(rank, extra)
    return slice(start, start + per + (1 if rank < extra else 0))


def broadcast_int(value: int) -> int:
    """Rank 0's value on every rank (a decision such as a step count that timings made on each rank)."""
    if not _GROUP.active:
        return value
    box = torch.tensor([int(value)], dtype=torch.int64)
    if dist.get_backend() == "nccl":
        box = box.cuda()
    dist.broadcast(box, 0)
    return int(box.item())


def wrap(method: torch.nn.Module, device: str) -> torch.nn.Module:
    """DistributedDataParallel around the method (gradients averaged during the backward pass); the method
    itself where there is one process. Buffers are not broadcast: teachers and centres move identically on
    every rank (all-reduced statistics, averaged gradients)."""
    if not _GROUP.active:
        return method
    from torch.nn.parallel import DistributedDataParallel

    import inspect

    ids = [torch.device(device).index] if device.startswith("cuda") else None
    newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters  # torch >= 2.13
    return DistributedDataParallel(method, device_ids=ids,
                                   **({"forward_sync_buffers": False} if newer else {"broadcast_buffers": False}))
