"""MAE — He et al., "Masked Autoencoders Are Scalable Vision Learners" (CVPR 2022, arXiv 2111.06377).

Method, in the paper's terms:
1. Split the image into patches and mask a large random subset (75 %), uniformly at random.
2. The encoder (a ViT) sees only the visible patches: no mask tokens enter it, which makes it cheap.
3. A light decoder receives the encoded visible patches plus a shared, learned mask token at every masked
   position (all with position embeddings) and predicts the pixels of each patch.
4. The target is each patch's pixels normalised by that patch's own mean and variance; the loss is the mean
   squared error on masked patches only.
`encode_all=True` instead runs the encoder over every patch with mask tokens in place (for the speed-up
benchmark): same loss, no saving.

Where this departs from the paper, and why:
- Augmentation: random resized crop (area 20-100 %) and flip, as the paper; drawn per image on the device.
- Decoder: the paper's default keeps the decoder at 512/768 of ViT-B's width and 8/12 of its depth; here the
  same ratios of the encoder's (ViT-tiny: 128-d x 8 blocks; ViT-micro: 44 -> 48-d x 1 block), since a fixed
  512-d, 8-block decoder would be larger than the small encoders themselves.
- Scale: 32 px images, 4 px patches, hundreds to thousands of steps instead of 800-1600 epochs on ImageNet.
- Headline evaluation: fine-tuning (the paper's Table 1), declared as `PRIMARY_PROBE`.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_impls.masking import keep_indices, num_masked, random_mask
from reference_impls.method import MIMMethod, masked_term
from reference_impls.patches import patchify
from reference_impls.vit import Block, ViT, sincos_2d

PRIMARY_PROBE = "finetune"  # the paper's headline: end-to-end fine-tuning
DECODER_WIDTH, DECODER_DEPTH = 512 / 768, 8 / 12  # the paper's decoder relative to its ViT-B encoder


class MAE(MIMMethod):
    name = "mae"
    target = "normalised pixels of masked patches (MSE)"
    pixel_target = True

    def __init__(self, encoder: ViT, mask_ratio: float = 0.75, decoder_dim: int | None = None,
                 decoder_depth: int | None = None, decoder_heads: int = 4, norm_pix_loss: bool = True,
                 encode_all: bool = False, masking: str = "default"):
        super().__init__(encoder, masking)
        # the paper's decoder-to-encoder ratios (width a multiple of the heads' 4 x 4)
        decoder_dim = decoder_dim or max(32, 16 * round(encoder.dim * DECODER_WIDTH / 16))
        decoder_depth = decoder_depth or max(1, round(encoder.depth * DECODER_DEPTH))
        self.mask_ratio, self.norm_pix_loss, self.encode_all = mask_ratio, norm_pix_loss, encode_all
        grid, patch, channels = encoder.grid, encoder.patch, encoder.channels
        self.decoder_embed = nn.Linear(encoder.dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.encoder_mask_token = nn.Parameter(torch.zeros(1, 1, encoder.dim)) if encode_all else None
        self.register_buffer("decoder_pos", sincos_2d(grid, grid, decoder_dim)[None], persistent=False)
        self.decoder = nn.ModuleList(Block(decoder_dim, decoder_heads) for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.head = nn.Linear(decoder_dim, patch * patch * channels)
        nn.init.normal_(self.mask_token, std=0.02)

    def new_mask(self, batch: int, device) -> torch.Tensor:
        return random_mask(batch, self.encoder.grid, self.mask_ratio, device=device)

    def decode(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predicted pixels for every patch (B, N, p*p*C)."""
        enc = self.encoder
        if self.encode_all:
            latent = enc(images, mask=mask, mask_token=self.encoder_mask_token)[:, enc.prefix:]
            x = self.decoder_embed(latent)
            x = torch.where(mask[..., None], self.mask_token.to(x.dtype).expand_as(x), x)
        else:
            keep = keep_indices(mask, enc.num_patches - num_masked(enc.num_patches, self.mask_ratio))
            latent = enc(images, keep=keep)[:, enc.prefix:]  # visible patches only
            visible = self.decoder_embed(latent)
            x = self.mask_token.to(visible.dtype).expand(images.shape[0], enc.num_patches, -1).clone()
            x = x.scatter(1, keep[..., None].expand(-1, -1, x.shape[-1]), visible)
        x = x + self.decoder_pos
        for block in self.decoder:
            x = block(x)
        return self.head(self.decoder_norm(x))

    def target_patches(self, images: torch.Tensor) -> torch.Tensor:
        target = patchify(images, self.encoder.patch)
        if self.norm_pix_loss:
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        return target

    def forward(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        images = self.augment(images)
        mask = self.make_mask(images) if mask is None else mask
        pred = self.decode(images, mask)
        per_patch = ((pred.float() - self.target_patches(images)) ** 2).mean(-1)
        return (per_patch * mask).sum() / mask.sum()  # masked patches only

    @torch.no_grad()
    def pretext_terms(self, images: torch.Tensor) -> list:
        mask = self.make_mask(images)
        return [masked_term("masked patches", "mse", self.decode(images, mask).float(), self.target_patches(images),
                            mask)]

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask, predicted patches in pixel space). The prediction is per-patch normalised, so it is mapped
        back with statistics of the image's *visible* patches (mean of their means and variances): a masked
        patch's own statistics would hand the picture part of the answer."""
        mask = self.make_mask(images) if mask is None else mask
        pred = self.decode(images, mask).float()
        if self.norm_pix_loss:
            raw = patchify(images, self.encoder.patch).float()
            visible = (~mask).float()[..., None]
            count = visible.sum(1, keepdim=True)
            mean = (raw.mean(-1, keepdim=True) * visible).sum(1, keepdim=True) / count
            var = (raw.var(-1, keepdim=True) * visible).sum(1, keepdim=True) / count
            pred = pred * (var + 1e-6).sqrt() + mean
        return mask, pred
