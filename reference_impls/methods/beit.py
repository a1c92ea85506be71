"""BEiT — Bao, Dong, Wei, "BEiT: BERT Pre-Training of Image Transformers" (ICLR 2022, arXiv 2106.08254).

Method, in the paper's terms:
1. A tokenizer, trained before pretraining, turns every patch into a discrete visual token.
2. Block-wise masking hides about 40 % of the patches; masked patches become a learned mask token inside the
   encoder.
3. A linear head classifies every masked position into the codebook; the loss is cross-entropy against the
   visual token of the original patch.
`prepare` fits the tokenizer and reports its codebook usage (codes used, perplexity) on held-out patches.

Where this departs from the paper, and why:
- Tokenizer: the paper uses DALL-E's discrete VAE (8192 codes, trained on 250M web images). Nothing can be
  downloaded here, and a dVAE is a project of its own, so the tokenizer is the smallest thing that does the same
  job: vector quantisation of whole patches (colour and structure together, as the dVAE's codes are), a k-means
  codebook of the patches' pixel vectors fitted on the same unlabelled pool before pretraining. It has no
  decoder and no spatial context of its own: a token describes its patch only.
- Codebook: 64 codes for ViT-micro, 256 above (the paper: 8192), so every code is used on small pools.
- Augmentation: random resized crop (area 8-100 %) and flip, as the paper; no colour jitter.
- Scale: 32 px images, 4 px patches, a short run; no relative position bias or layer-scale.
- Headline evaluation: fine-tuning (the paper's Table 1), declared as `PRIMARY_PROBE`.
"""

from __future__ import annotations

import torch

from reference_impls.method import MaskTokenMethod
from reference_impls.patches import patchify
from reference_impls.vit import ViT

PRIMARY_PROBE = "finetune"  # the paper's headline: end-to-end fine-tuning


def kmeans(x: torch.Tensor, k: int, iters: int = 25, seed: int = 0) -> torch.Tensor:
    """Lloyd's k-means from a k-means++ start; empty clusters are re-seeded from the points farthest from
    their centre."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    centres = x[torch.randint(len(x), (1,), generator=g).to(x.device)]
    for _ in range(k - 1):  # k-means++: each new centre drawn with probability ~ squared distance
        d2 = torch.cdist(x, centres).min(1).values.pow(2).cpu().double()
        pick = torch.multinomial(d2 / d2.sum(), 1, generator=g).to(x.device)
        centres = torch.cat([centres, x[pick]])
    centres = centres.clone()
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
    loss_kind = "ce_index"
    crop_scale = (0.08, 1.0)

    def __init__(self, encoder: ViT, codebook_size: int | None = None, mask_ratio: float | None = None,
                 masking: str = "default"):
        codebook_size = codebook_size or (64 if encoder.dim < 192 else 256)
        super().__init__(encoder, codebook_size, mask_ratio, masking)
        self.register_buffer("codebook", torch.zeros(codebook_size, encoder.patch ** 2 * encoder.channels))

    @torch.no_grad()
    def prepare(self, pool, device, samples: int = 20_000, seed: int = 0) -> dict:
        """Fit the tokenizer on patches of the unlabelled pool (half of the images drawn); report its usage
        on the patches of the other half."""
        g = torch.Generator().manual_seed(seed)
        n_images = min(len(pool), max(64, 2 * (samples // self.encoder.num_patches + 1)))
        images = pool.get(torch.randperm(len(pool), generator=g)[:n_images]).to(device)
        half = len(images) // 2
        fit = patchify(images[:half].float(), self.encoder.patch).flatten(0, 1)[:samples]
        self.codebook.copy_(kmeans(fit, len(self.codebook), seed=seed))
        return {"tokenizer": self.codebook_usage(images[half:])}

    @torch.no_grad()
    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """The visual token of every patch (B, N): its nearest code."""
        p = patchify(images.float(), self.encoder.patch)
        b, n, d = p.shape
        return torch.cdist(p.reshape(b * n, d), self.codebook.float()).argmin(1).reshape(b, n)

    @torch.no_grad()
    def codebook_usage(self, images: torch.Tensor) -> dict:
        assign = self.tokens(images).flatten()
        freq = torch.bincount(assign, minlength=len(self.codebook)).float() / len(assign)
        entropy = -(freq[freq > 0] * freq[freq > 0].log()).sum()
        return {"codes": len(self.codebook), "used": int((freq > 0).sum()),
                "used_share": float((freq > 0).float().mean()), "perplexity": float(entropy.exp()),
                "largest_code_share": float(freq.max())}

    def patch_targets(self, images: torch.Tensor) -> torch.Tensor:
        return self.tokens(images)
