"""Mask generators. Each returns a bool mask (B, N), True = masked, with exactly round(ratio * N) masked patches
in every row, so tensor shapes never change between steps and a compiled loop never recompiles. Methods that
replace masked patches by a token inside the encoder (iBOT) may also vary the count per image (`counts`): the
shapes stay the same."""

from __future__ import annotations

import math

import torch


def num_masked(num_patches: int, ratio: float) -> int:
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
    return max(1, min(num_patches - 1, round(ratio * num_patches)))


def _top_k_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """True at the k highest scores of each row (exact count, ties broken by the random scores)."""
    idx = scores.topk(k, dim=1).indices
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, idx, True)


def random_mask(batch: int, grid: int, ratio: float, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """MAE: patches masked uniformly at random."""
    n = grid * grid
    noise = torch.rand(batch, n, generator=generator, device=device)
    return _top_k_mask(noise, num_masked(n, ratio))


def coarse_random_mask(batch: int, grid: int, ratio: float, mask_patch: int, patch: int,
                       generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """SimMIM: random masking on a coarser grid of `mask_patch`-pixel squares, upsampled to the patch grid.
    The count is made exact at patch level by topping up / trimming within the coarse choice."""
    scale = max(1, mask_patch // patch)
    coarse = math.ceil(grid / scale)
    noise = torch.rand(batch, coarse, coarse, generator=generator, device=device)
    fine = noise.repeat_interleave(scale, 1).repeat_interleave(scale, 2)[:, :grid, :grid].reshape(batch, -1)
    jitter = torch.rand(batch, grid * grid, generator=generator, device=device) * 1e-3
    return _top_k_mask(fine + jitter, num_masked(grid * grid, ratio))


def ranked_mask(scores: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """True at the `counts[i]` highest scores of row i: masks whose size varies per image, drawn without the
    host ever reading a count."""
    rank = scores.argsort(dim=1, descending=True).argsort(dim=1)
    return rank < counts[:, None]


def mask_counts(batch: int, num_patches: int, low: float, high: float, share: float,
                generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """iBOT's prediction ratio: a share of the images gets a ratio drawn uniformly from [low, high], the rest
    no mask at all (B,) patch counts."""
    ratio = low + (high - low) * torch.rand(batch, generator=generator, device=device)
    masked = torch.rand(batch, generator=generator, device=device) < share
    return torch.where(masked, (ratio * num_patches).round(), torch.zeros_like(ratio)).long()


def block_mask(batch: int, grid: int, ratio: float, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu", counts: torch.Tensor | None = None) -> torch.Tensor:
    """BEiT: rectangles of random area and aspect are added until the budget is met, then made exact by
    filling / trimming (so every row has the same count, or `counts[i]` patches when given, up to `ratio`)."""
    scores = block_scores(batch, grid, ratio, generator, device)
    return _top_k_mask(scores, num_masked(grid * grid, ratio)) if counts is None else ranked_mask(scores, counts)


def block_scores(batch: int, grid: int, ratio: float, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu", min_block: int = 4, max_aspect: float = 3.0,
                 tries: int = 24) -> torch.Tensor:
    """Scores whose top-k is a block mask of k patches, for every k up to round(ratio * N): the patches of the
    first rectangles score highest, the last-added rectangle is trimmed from its far edge (no holes).

    Vectorised over the batch and the candidate rectangles (no Python loop per image) and drawn on `device`:
    `tries` rectangles are drawn per image, their running union is taken, and the first union that reaches
    the budget is kept."""
    n = grid * grid
    target = num_masked(n, ratio)
    u = lambda *s: torch.rand(*s, generator=generator, device=device)  # noqa: E731
    area = min_block + u(batch, tries) * max(min_block, target / 2 - min_block)
    log_aspect = math.log(max_aspect)
    aspect = torch.exp((u(batch, tries) * 2 - 1) * log_aspect)
    h = (area * aspect).sqrt().round().clamp(1, grid)
    w = (area / aspect).sqrt().round().clamp(1, grid)
    top = (u(batch, tries) * (grid - h + 1)).floor()
    left = (u(batch, tries) * (grid - w + 1)).floor()
    rows = torch.arange(grid, dtype=torch.float32, device=device)
    in_rows = (rows >= top[..., None]) & (rows < (top + h)[..., None])  # B, T, grid
    in_cols = (rows >= left[..., None]) & (rows < (left + w)[..., None])
    rects = (in_rows[..., :, None] & in_cols[..., None, :]).reshape(batch, tries, n)
    union = rects.to(torch.int8).cummax(dim=1).values  # running union over the rectangles
    reached = (union.sum(-1) >= target).to(torch.int8)
    first = torch.where(reached.any(1), reached.argmax(1), torch.full((batch,), tries - 1, device=device))
    blocks = torch.gather(union, 1, first[:, None, None].expand(-1, 1, n))[:, 0].float()
    # exact count: keep block patches, trimming the last-added rectangle from its far edge (no holes)
    steps = torch.arange(tries, device=device)
    keep_upto = steps[None, :] <= first[:, None]
    order = torch.where(rects & keep_upto[..., None], steps[None, :, None], tries).amin(1).float()
    # ...from a side drawn per image (top, bottom, left or right), so no border is masked more often than another
    index = torch.arange(n, device=device)
    row, col = index // grid, index % grid
    sides = torch.stack([row, grid - 1 - row, col, grid - 1 - col]).float() / grid  # 4, N
    side = (u(batch) * 4).long().clamp_max(3)
    return 4 * blocks - 2 * order / tries - 0.5 * sides[side] + 0.01 * u(batch, n)


def attention_guided_mask(attention: torch.Tensor, ratio: float, generator: torch.Generator | None = None,
                          randomness: float = 0.1, counts: torch.Tensor | None = None) -> torch.Tensor:
    """AttMask: hide the patches the teacher's class token attends to most (B, N scores in; exact count out,
    or `counts[i]` per image). A little noise keeps the choice from being identical for similar images."""
    b, n = attention.shape
    scores = attention / attention.amax(1, keepdim=True).clamp_min(1e-8)
    scores = scores + randomness * torch.rand(b, n, generator=generator, device=attention.device)
    return _top_k_mask(scores, num_masked(n, ratio)) if counts is None else ranked_mask(scores, counts)


def keep_indices(mask: torch.Tensor, visible: int) -> torch.Tensor:
    """Indices of the visible patches, (B, visible), in patch order. `visible` is known from the mask ratio
    (`N - num_masked(N, ratio)`): reading it off the mask would make the host wait for the device."""
    order = torch.argsort(mask.to(torch.int8), dim=1, stable=True)
    return order[:, :visible]
