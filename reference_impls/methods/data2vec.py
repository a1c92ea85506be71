"""data2vec — Baevski et al., "data2vec: A General Framework for Self-supervised Learning in Speech, Vision
and Language" (ICML 2022, arXiv 2202.03555), vision branch.

Method, in the paper's terms:
1. A teacher, the exponential moving average of the student, encodes the *unmasked* image.
2. The target of each patch is the average of the teacher's top-K blocks' feed-forward outputs, taken before
   the last residual connection, each instance-normalised (every channel over the image's patches, no learned
   parameters): contextualised features, not pixels.
3. The student sees the image with about 60 % of patches (block-wise) replaced by a learned mask token and
   regresses the targets of masked patches through a linear head with a smooth-L1 loss (beta = 2).
4. After every step the teacher moves towards the student: momentum 0.9998 rising to 0.9999.

Where this departs from the paper, and why:
- K: the paper averages the top 6 of ViT-B's 12 blocks; here the same half of the depth (6 of ViT-tiny's 12,
  1 of ViT-micro's 2).
- EMA: the paper anneals 0.9998 -> 0.9999 over its first steps then holds; here linearly over the whole run.
  Over a few hundred steps the teacher then stays close to its initialisation (as the paper's would at the same
  step): the targets are features of a nearly random network, which the student must still predict.
- Augmentation: random resized crop (area 8-100 %) and flip, as the paper's BEiT-derived recipe; no colour
  jitter.
- Scale: 32 px images, 4 px patches, a short run; the student's loss is not scaled by 1 / sqrt(dim).
- Headline evaluation: fine-tuning (the paper's Table 4), declared as `PRIMARY_PROBE`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reference_impls.ema import ema_rate, ema_update, make_teacher
from reference_impls.method import MaskTokenMethod
from reference_impls.vit import ViT

PRIMARY_PROBE = "finetune"  # the paper's headline for images: end-to-end fine-tuning


class Data2Vec(MaskTokenMethod):
    name = "data2vec"
    target = "average of the EMA teacher's top-K feed-forward outputs, instance-normalised (smooth-L1)"
    mask_ratio = 0.6
    loss_kind = "smooth_l1"
    crop_scale = (0.08, 1.0)

    def __init__(self, encoder: ViT, top_k: int | None = None, beta: float = 2.0, mask_ratio: float | None = None,
                 ema_start: float = 0.9998, ema_end: float = 0.9999, masking: str = "default"):
        super().__init__(encoder, encoder.dim, mask_ratio, masking)
        self.top_k = top_k or max(1, encoder.depth // 2)
        self.beta, self.ema_start, self.ema_end = beta, ema_start, ema_end
        self.teacher = make_teacher(encoder)
        self.last_tau = None

    @torch.no_grad()
    def targets(self, images: torch.Tensor) -> torch.Tensor:
        """(B, N, D): the mean of the top-K feed-forward outputs at the patches, each instance-normalised."""
        self.teacher.eval()
        _, ffn = self.teacher(images, ffn_outputs=True)
        prefix = self.teacher.prefix
        top = [F.instance_norm(x[:, prefix:].float().transpose(1, 2)).transpose(1, 2) for x in ffn[-self.top_k:]]
        return torch.stack(top).mean(0)

    def patch_targets(self, images: torch.Tensor) -> torch.Tensor:
        return self.targets(images)

    @torch.no_grad()
    def health(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Spread and effective rank of the teacher's output across images (collapse shows as both falling).
        Its output, not the targets: instance normalisation sets every image's mean target to zero."""
        from reference_impls.monitors import feature_health

        self.teacher.eval()
        return feature_health(self.teacher(images)[:, self.teacher.prefix:])

    def after_step(self, step: int, total: int) -> None:
        self.last_tau = ema_rate(step, total, self.ema_start, self.ema_end, schedule="linear")
        ema_update(self.teacher, self.encoder, self.last_tau)
