"""SimMIM — Xie et al., "SimMIM: A Simple Framework for Masked Image Modeling" (CVPR 2022, arXiv 2111.09886).

Method, in the paper's terms:
1. Mask random square regions on a grid coarser than the patches (mask patch 32 px for 16 px patches in the
   paper; here twice the patch size by default), at a moderate ratio (60 %).
2. Masked patches are replaced by a learned mask token *inside* the encoder, which sees every position.
3. A single linear layer maps each encoded patch back to its raw pixels — no decoder.
4. The loss is L1 between predicted and true pixels, on masked patches only.

Where this departs from the paper, and why:
- Augmentation: random resized crop (area 67-100 %, the paper's light crop) and flip.
- Scale: 32 px images, 4 px patches, a mask square of two patches (8 px), a short run.
- Headline evaluation: fine-tuning (the paper's Table 1), declared as `PRIMARY_PROBE`.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_impls.masking import coarse_random_mask
from reference_impls.method import MIMMethod, masked_term
from reference_impls.patches import patchify
from reference_impls.vit import ViT

PRIMARY_PROBE = "finetune"  # the paper's headline: end-to-end fine-tuning


class SimMIM(MIMMethod):
    name = "simmim"
    target = "raw pixels of masked patches (L1)"
    pixel_target = True
    crop_scale = (0.67, 1.0)

    def __init__(self, encoder: ViT, mask_ratio: float = 0.6, mask_patch: int | None = None,
                 masking: str = "default"):
        super().__init__(encoder, masking)
        self.mask_ratio = mask_ratio
        self.mask_patch = mask_patch or 2 * encoder.patch
        self.mask_token = nn.Parameter(torch.zeros(1, 1, encoder.dim))
        self.head = nn.Linear(encoder.dim, encoder.patch ** 2 * encoder.channels)
        nn.init.normal_(self.mask_token, std=0.02)

    def new_mask(self, batch: int, device) -> torch.Tensor:
        enc = self.encoder
        return coarse_random_mask(batch, enc.grid, self.mask_ratio, self.mask_patch, enc.patch, device=device)

    def predict(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        z = self.encoder(images, mask=mask, mask_token=self.mask_token)[:, self.encoder.prefix:]
        return self.head(z)

    def forward(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        images = self.augment(images)
        mask = self.make_mask(images) if mask is None else mask
        pred = self.predict(images, mask).float()
        per_patch = (pred - patchify(images, self.encoder.patch)).abs().mean(-1)
        return (per_patch * mask).sum() / mask.sum()

    @torch.no_grad()
    def pretext_terms(self, images: torch.Tensor) -> list:
        mask = self.make_mask(images)
        target = patchify(images, self.encoder.patch).float()
        return [masked_term("masked patches", "l1", self.predict(images, mask).float(), target, mask)]

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mask = self.make_mask(images) if mask is None else mask
        return mask, self.predict(images, mask).float()
