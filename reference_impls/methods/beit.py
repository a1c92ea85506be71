"""BEiT — Bao, Dong, Wei, "BEiT: BERT Pre-Training of Image Transformers" (ICLR 2022, arXiv 2106.08254).

Method, in the paper's terms:
1. A tokenizer turns every patch into a discrete visual token. The paper uses DALL-E's dVAE; here the
   tokenizer is trained in-house: patches are reduced to luminance (so a token says nothing of hue) and
   normalised per patch; patches whose luminance barely varies get one reserved "flat" token (their
   normalised values would be pixel noise), and the rest are coded by a k-means codebook of local structure
   (edges, corners, stripes), fitted on the unlabelled pool before pretraining.
2. Block-wise masking hides about 40 % of the patches; masked patches become a learned mask token inside the
   encoder.
3. A linear head classifies every masked position into the codebook; the loss is cross-entropy against the
   visual token of the original patch.
`prepare` reports codebook usage (share of codes in use, perplexity and the flat share on held-out patches).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reference_impls.method import MaskTokenMethod
from reference_impls.patches import patchify
from reference_impls.vit import ViT


LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B
# luminance std (standardised units) below which a patch is flat: about twice what the shapes' pixel noise
# alone gives (median 0.13). An edge between two colours of nearly equal luminance falls below it too (about a
# quarter of the patches with a colour edge on `shapes`): a luminance tokenizer cannot see those.
FLAT_STD = 0.25
FLAT = 0  # the reserved token of flat patches


def luminance_patches(images: torch.Tensor, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-patch-normalised luminance (B, N, patch^2) and which patches are flat (B, N)."""
    images = images.float()
    if images.shape[1] == 3:
        images = (images * images.new_tensor(LUMA)[None, :, None, None]).sum(1, keepdim=True)
    else:
        images = images.mean(1, keepdim=True)
    p = patchify(images, patch)
    std = p.std(-1, keepdim=True)
    return (p - p.mean(-1, keepdim=True)) / (std + 1e-3), std[..., 0] < FLAT_STD


def kmeans(x: torch.Tensor, k: int, iters: int = 20, seed: int = 0) -> torch.Tensor:
    """Lloyd's k-means; empty clusters are re-seeded from the points farthest from their centre."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    centres = x[torch.randperm(len(x), generator=g)[:k].to(x.device)].clone()
    for _ in range(iters):
        dist = torch.cdist(x, centres)
        assign = dist.argmin(1)
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
        empty = torch.nonzero(counts == 0).ravel()
        if len(empty):
            far = dist.min(1).values.topk(len(empty)).indices
            centres[empty] = x[far]
    return centres


class BEiT(MaskTokenMethod):
    name = "beit"
    target = "discrete visual tokens of masked patches (cross-entropy)"
    mask_ratio = 0.4

    def __init__(self, encoder: ViT, codebook_size: int | None = None, mask_ratio: float | None = None,
                 masking: str = "default"):
        codebook_size = codebook_size or (64 if encoder.dim < 192 else 256)
        super().__init__(encoder, codebook_size, mask_ratio, masking)
        self.register_buffer("codebook", torch.zeros(codebook_size, encoder.patch ** 2))

    @torch.no_grad()
    def prepare(self, pool, device, samples: int = 20_000, seed: int = 0) -> dict:
        """Fit the tokenizer on the structured patches of the unlabelled pool; report codebook usage."""
        g = torch.Generator().manual_seed(seed)
        n_images = min(len(pool), max(64, samples // self.encoder.num_patches + 1) * 4)
        images = pool.get(torch.randperm(len(pool), generator=g)[:n_images]).to(device)
        patches, flat = luminance_patches(images, self.encoder.patch)
        half = len(images) // 2
        fit = patches[:half][~flat[:half]][:samples]
        self.codebook[FLAT + 1:] = kmeans(fit, len(self.codebook) - 1, seed=seed)  # row FLAT stays unused
        return {"tokenizer": self.codebook_usage(images[half:])}

    @torch.no_grad()
    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        patches, flat = luminance_patches(images, self.encoder.patch)
        b, n, d = patches.shape
        nearest = torch.cdist(patches.reshape(b * n, d), self.codebook[FLAT + 1:].float()).argmin(1) + FLAT + 1
        return torch.where(flat, FLAT, nearest.reshape(b, n))

    @torch.no_grad()
    def codebook_usage(self, images: torch.Tensor) -> dict:
        assign = self.tokens(images).flatten()
        freq = torch.bincount(assign, minlength=len(self.codebook)).float() / len(assign)
        entropy = -(freq[freq > 0] * freq[freq > 0].log()).sum()
        return {"codes": len(self.codebook), "used": int((freq > 0).sum()),
                "used_share": float((freq > 0).float().mean()), "perplexity": float(entropy.exp()),
                "flat_share": float(freq[FLAT])}

    def patch_loss(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        target = self.tokens(images)
        return F.cross_entropy(pred.transpose(1, 2), target, reduction="none")
