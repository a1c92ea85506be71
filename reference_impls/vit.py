"""A plain Vision Transformer: pre-norm blocks, fused scaled-dot-product attention, fixed 2-D sin-cos
position embeddings and an optional class token. Any image and patch size; sizes micro/tiny/small/base."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ViTConfig:
    dim: int
    depth: int
    heads: int
    mlp_ratio: float = 4.0


SIZES = {
    "micro": ViTConfig(64, 2, 2),     # CPU tests and smoke runs
    "tiny": ViTConfig(192, 12, 3),
    "small": ViTConfig(384, 12, 6),
    "base": ViTConfig(768, 12, 12),
}


def sincos_2d(grid_h: int, grid_w: int, dim: int, span: int | None = None, device=None) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings (grid_h * grid_w, dim): half the channels for each axis.

    With `span`, the grid's cells are spread over a `span` x `span` grid's positions (cell centres kept), so a
    smaller image (a multi-crop local view) gets the whole image's range of positions, as DINO and iBOT
    interpolate their position embeddings for local crops. Made on `device`, so a training step never waits for
    the host."""
    if dim % 4:
        raise ValueError("embedding dim must be a multiple of 4 for 2-D sin-cos position embeddings")

    def coords(n: int) -> torch.Tensor:
        steps = torch.arange(n, dtype=torch.float64, device=device)
        return steps if span is None or span == n else (steps + 0.5) * (span / n) - 0.5

    ys, xs = torch.meshgrid(coords(grid_h), coords(grid_w), indexing="ij")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64, device=device) / (dim // 4))
    parts = []
    for coord in (ys.flatten(), xs.flatten()):
        angles = coord[:, None] * omega[None, :]
        parts += [angles.sin(), angles.cos()]
    return torch.cat(parts, dim=1).float()


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        out = self.proj(out.transpose(1, 2).reshape(b, n, d))
        if return_attention:  # explicit weights, only for attention-guided masking and inspection
            weights = (q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5).softmax(-1)
            return out, weights
        return out


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, return_attention: bool = False, return_ffn: bool = False):
        """With `return_ffn`, also the feed-forward output before it is added to the residual (data2vec's
        target layer)."""
        if return_ffn:
            x = x + self.attn(self.norm1(x))
            ffn = self.mlp(self.norm2(x))
            return x + ffn, ffn
        if return_attention:
            out, weights = self.attn(self.norm1(x), return_attention=True)
            x = x + out
            return x + self.mlp(self.norm2(x)), weights
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Patch embedding + position embedding + blocks + final norm.

    `forward(images, keep=None, mask=None, mask_token=None)` returns token features (B, T, dim), T including
    the class token when present. `keep` (B, K) encodes only those patches (MAE); `mask` (B, N) with a
    `mask_token` replaces masked patches inside the encoder (SimMIM, BEiT). `pool` says what `pooled` gives
    the probes: "mean" of the patch tokens (MAE, I-JEPA, ...) or the "cls" token (iBOT, AttMask: the token
    their global objective trains).
    """

    def __init__(self, image_size: int = 32, patch: int = 4, channels: int = 3, size: str | ViTConfig = "tiny",
                 class_token: bool = True, pool: str = "mean"):
        super().__init__()
        if pool not in ("mean", "cls") or (pool == "cls" and not class_token):
            raise ValueError(f"pool must be 'mean' or 'cls' (with a class token), got '{pool}'")
        self.pool = pool
        cfg = SIZES[size] if isinstance(size, str) else size
        if image_size % patch:
            raise ValueError(f"image size {image_size} is not a multiple of the patch size {patch}")
        self.image_size, self.patch, self.channels = image_size, patch, channels
        self.grid = image_size // patch
        self.num_patches = self.grid ** 2
        self.dim, self.depth = cfg.dim, cfg.depth
        self.patch_embed = nn.Conv2d(channels, cfg.dim, kernel_size=patch, stride=patch)
        self.register_buffer("pos_embed", sincos_2d(self.grid, self.grid, cfg.dim)[None], persistent=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim)) if class_token else None
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.apply(_init)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=0.02)

    @property
    def prefix(self) -> int:
        return 0 if self.cls_token is None else 1

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Patch tokens plus position embeddings; an image of another size (a local crop) gets its grid's
        embeddings spread over this model's grid of positions."""
        x = self.patch_embed(images)
        grid_h, grid_w = x.shape[-2:]
        pos = self.pos_embed
        if (grid_h, grid_w) != (self.grid, self.grid):
            pos = sincos_2d(grid_h, grid_w, self.dim, span=self.grid, device=x.device)[None].to(x.dtype)
        return x.flatten(2).transpose(1, 2) + pos

    def forward(self, images: torch.Tensor, keep: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                mask_token: torch.Tensor | None = None, all_layers: bool = False, cls_attention: bool = False,
                ffn_outputs: bool = False):
        """Token features; with `all_layers` also every block's output, with `ffn_outputs` every block's
        feed-forward output before its residual, with `cls_attention` also the last block's attention from the
        class token to each patch, averaged over heads (B, N): one pass for both."""
        if cls_attention and self.cls_token is None:
            raise ValueError("attention-guided masking needs a class token")
        x = self.embed(images)
        if mask is not None:
            token = mask_token.to(x.dtype) + self.pos_embed
            x = torch.where(mask[..., None], token.expand_as(x), x)
        if keep is not None:
            x = torch.gather(x, 1, keep[..., None].expand(-1, -1, x.shape[-1]))
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        layers = []
        for i, block in enumerate(self.blocks):
            if cls_attention and i == len(self.blocks) - 1:
                x, weights = block(x, return_attention=True)
            elif ffn_outputs:
                x, ffn = block(x, return_ffn=True)
                layers.append(ffn)
                continue
            else:
                x = block(x)
            layers.append(x)
        x = self.norm(x)
        if cls_attention:
            return x, weights[:, :, 0, 1:].mean(1).float()
        return (x, layers) if all_layers or ffn_outputs else x

    @torch.no_grad()
    def cls_attention(self, images: torch.Tensor) -> torch.Tensor:
        """Last block's attention from the class token to each patch, averaged over heads (B, N)."""
        return self.forward(images, cls_attention=True)[1]

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """One vector per image for probes: the mean of the patch tokens (class token excluded), or the class
        token (`pool="cls"`)."""
        tokens = self.forward(images)
        return tokens[:, 0] if self.pool == "cls" else tokens[:, self.prefix:].mean(1)


def _init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight.view(module.weight.shape[0], -1))
        nn.init.zeros_(module.bias)
