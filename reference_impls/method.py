"""The interface every MIM method shares: `loss = method(images)`, `method.encoder`, `method.features(x)`."""

from __future__ import annotations

import torch
from torch import nn

from reference_impls.vit import ViT


class MIMMethod(nn.Module):
    """A masked-image-modelling pretraining objective around a ViT encoder.

    Subclasses set `name`, `target` (what is predicted) and implement `forward(images) -> scalar loss`.
    Pixel-target methods also implement `reconstruct(images) -> (mask, prediction)` for the picture.
    """

    name = "base"
    target = "none"
    pixel_target = False

    def __init__(self, encoder: ViT):
        super().__init__()
        self.encoder = encoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Frozen features for probes: mean of the encoder's patch tokens on the full image."""
        return self.encoder.pooled(images)

    def reconstruct(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError(f"{self.name} does not predict pixels")

    def after_step(self, step: int, total: int) -> None:
        """Hook for methods with a teacher (EMA update); nothing by default."""
