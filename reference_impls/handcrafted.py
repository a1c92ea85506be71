"""The handcrafted arm: what a learned encoder has to beat before pretraining can be said to have helped.

Pooled HOG (Dalal & Triggs): per-pixel gradients of the grey image, 9 unsigned-orientation bins weighted by
magnitude, one histogram per cell on a 4 x 4 grid, each cell L2-normalised with a floor (so flat cells stay
near zero instead of becoming amplified noise) and square-rooted (Hellinger). It has no parameters: the probes
train only their heads on it, like on raw pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_impls.methods.maskfeat import BINS, hog


class HOGFeatures(nn.Module):
    """Fixed features with the encoder interface the probes use (`pooled`, `dim`)."""

    def __init__(self, image_size: int, channels: int, grid: int = 4, floor: float = 0.15):
        super().__init__()
        if image_size % grid:
            raise ValueError(f"image size {image_size} is not divisible by the HOG grid {grid}")
        self.cell, self.floor = image_size // grid, floor
        self.dim = grid * grid * BINS

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        grey = images.float().mean(1, keepdim=True)
        h = hog(grey, self.cell)[:, 0]  # B, grid, grid, bins
        h = h / (h.norm(dim=-1, keepdim=True) + self.floor * self.cell * self.cell)
        return h.clamp_min(0).sqrt().flatten(1)


def simple_statistics(images: torch.Tensor) -> torch.Tensor:
    """What a shortcut would use: mean and spread of each colour, edge density across and along the rows, and
    histograms of grey levels and of gradient magnitudes (what a dataset's classes must not be decided by)."""
    grey = images.mean(1)
    dx, dy = (grey[:, :, 1:] - grey[:, :, :-1]).abs(), (grey[:, 1:] - grey[:, :-1]).abs()
    magnitude = (dx[:, 1:] ** 2 + dy[:, :, 1:] ** 2).sqrt()

    def histogram(v: torch.Tensor, bins: int, lo: float, hi: float) -> torch.Tensor:
        return torch.stack([torch.histc(x, bins, lo, hi) for x in v]) / v[0].numel()

    return torch.cat([images.mean((2, 3)), images.std((2, 3)), dx.mean((1, 2))[:, None], dy.mean((1, 2))[:, None],
                      histogram(magnitude, 8, 0, 4), histogram(grey, 16, -2, 2)], 1)
