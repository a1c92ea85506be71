"""I-JEPA — Assran et al., "Self-Supervised Learning from Images with a Joint-Embedding Predictive
Architecture" (CVPR 2023, arXiv 2301.08243).

Method, in the paper's terms:
1. Multi-block masking: sample M target blocks (rectangles of about 15 % of the image each) and one large
   context block; the context keeps only patches outside every target block, so nothing is given away.
   Here blocks have a fixed size and the context a fixed count, so shapes are static.
2. The context encoder (the student) encodes the context patches only.
3. The target encoder, an EMA of the context encoder, encodes the full image; its layer-normalised outputs at
   the target positions are the targets: representations, not pixels.
4. A narrow predictor (a small transformer) receives the encoded context plus mask tokens carrying the
   positions of one target block and predicts that block's target representations; the loss is the mean
   squared error, averaged over the M blocks.
5. Downstream, the paper evaluates the target encoder, average-pooled (`evaluated_encoder`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from reference_impls.ema import ema_rate, ema_update, make_teacher
from reference_impls.method import MIMMethod
from reference_impls.vit import Block, ViT, sincos_2d


def multi_block_masks(batch: int, grid: int, blocks: int = 4, block_scale: float = 0.15,
                      context_scale: float = 0.9, generator: torch.Generator | None = None,
                      device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(context indices (B, n_ctx), target indices (B, M, n_t)) with n_ctx = N - M * n_t, so the context can
    always be filled with non-target patches."""
    n = grid * grid
    side = max(1, round(math.sqrt(block_scale * n)))
    n_t = side * side
    n_ctx = n - blocks * n_t
    if n_ctx < 1:
        raise ValueError(f"{blocks} target blocks of {side}x{side} patches leave no context on a {grid}x{grid} grid")
    u = lambda *s: torch.rand(*s, generator=generator, device=device)  # noqa: E731
    index = torch.arange(n, device=device)
    rows, cols = index // grid, index % grid
    top = (u(batch, blocks) * (grid - side + 1)).long()
    left = (u(batch, blocks) * (grid - side + 1)).long()
    offsets = torch.arange(side, device=device)
    # each block's patch indices by arithmetic (row-major, so already in patch order): no data-dependent shapes
    targets = ((top[..., None, None] + offsets[:, None]) * grid + left[..., None, None] + offsets).reshape(batch, blocks, n_t)
    in_any_target = torch.zeros(batch, n, device=device).scatter_(1, targets.reshape(batch, -1), 1.0)
    c_side = max(1, round(math.sqrt(context_scale * n)))
    c_top = (u(batch, 1) * (grid - c_side + 1)).long()
    c_left = (u(batch, 1) * (grid - c_side + 1)).long()
    in_context = ((rows >= c_top) & (rows < c_top + c_side) & (cols >= c_left) & (cols < c_left + c_side)).float()
    # the context is drawn from the context block minus every target block: patches outside all targets first
    scores = 4 * (1 - in_any_target) + 2 * in_context + u(batch, n)
    context = scores.topk(n_ctx, dim=1).indices.sort(1).values
    return context, targets


class Predictor(nn.Module):
    """Narrow transformer: context tokens + positioned mask tokens -> predictions at the mask tokens."""

    def __init__(self, encoder: ViT, dim: int | None = None, depth: int | None = None, heads: int = 2):
        super().__init__()
        # narrow and deep, as in the paper (ViT-H/14: 12 predictor blocks of width 384 on a 32-block, 1280-d
        # encoder): half the encoder's width and half its depth, at least two blocks
        dim = dim or max(32, encoder.dim // 2)
        depth = depth or max(2, encoder.depth // 2)
        self.embed = nn.Linear(encoder.dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos", sincos_2d(encoder.grid, encoder.grid, dim)[None], persistent=False)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, encoder.dim)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, context: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor) -> torch.Tensor:
        pos = self.pos.expand(len(context), -1, -1)
        gather = lambda idx: torch.gather(pos, 1, idx[..., None].expand(-1, -1, pos.shape[-1]))  # noqa: E731
        x = self.embed(context) + gather(context_idx)
        queries = self.mask_token.to(x.dtype) + gather(target_idx)
        x = torch.cat([x, queries], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.out(self.norm(x[:, -target_idx.shape[1]:]))


class IJEPA(MIMMethod):
    name = "ijepa"
    target = "EMA target-encoder features of several target blocks, predicted from one context block (MSE)"

    def __init__(self, encoder: ViT, blocks: int = 4, block_scale: float = 0.15, predictor_dim: int | None = None,
                 predictor_depth: int | None = None, ema_start: float | None = None, masking: str = "default"):
        super().__init__(encoder, masking)
        if masking != "default":
            raise ValueError("I-JEPA uses its own multi-block masks")
        self.blocks, self.block_scale, self.ema_start = blocks, block_scale, ema_start
        self.predictor = Predictor(encoder, predictor_dim, predictor_depth)
        self.teacher = make_teacher(encoder)

    @property
    def evaluated_encoder(self) -> ViT:
        """The paper evaluates the target encoder."""
        return self.teacher

    def new_masks(self, batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        return multi_block_masks(batch, self.encoder.grid, self.blocks, self.block_scale, device=device)

    @torch.no_grad()
    def targets(self, images: torch.Tensor, target_idx: torch.Tensor) -> torch.Tensor:
        """Layer-normalised target-encoder features at each block's positions (B, M, n_t, D)."""
        self.teacher.eval()
        h = self.teacher(images)[:, self.teacher.prefix:].float()
        h = F.layer_norm(h, h.shape[-1:])
        b, m, t = target_idx.shape
        return torch.gather(h, 1, target_idx.reshape(b, m * t, 1).expand(-1, -1, h.shape[-1])).reshape(b, m, t, -1)

    def predict(self, images: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor) -> torch.Tensor:
        """Predicted features for every target block (B, M, n_t, D)."""
        enc = self.encoder
        context = enc(images, keep=context_idx)[:, enc.prefix:]
        b, m, t = target_idx.shape
        repeat = lambda x: x.repeat_interleave(m, dim=0)  # noqa: E731  one predictor pass per block
        pred = self.predictor(repeat(context), repeat(context_idx), target_idx.reshape(b * m, t))
        return pred.reshape(b, m, t, -1)

    def forward(self, images: torch.Tensor, masks: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        context_idx, target_idx = masks or self.new_masks(images.shape[0], images.device)
        pred = self.predict(images, context_idx, target_idx).float()
        return ((pred - self.targets(images, target_idx)) ** 2).mean()

    @torch.no_grad()
    def health(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Spread and effective rank of the target encoder's features across images."""
        from reference_impls.monitors import feature_health

        self.teacher.eval()
        return feature_health(self.teacher(images)[:, self.teacher.prefix:])

    def after_step(self, step: int, total: int) -> None:
        ema_update(self.teacher, self.encoder, ema_rate(step, total, self.ema_start))
