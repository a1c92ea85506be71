"""data2vec — Baevski et al., "data2vec: A General Framework for Self-supervised Learning in Speech, Vision
and Language" (ICML 2022, arXiv 2202.03555), vision branch.

Method, in the paper's terms:
1. A teacher, the exponential moving average of the student, encodes the *unmasked* image.
2. The target of each patch is the average of the teacher's top-K block outputs, each layer-normalised
   (without learned scale), normalised once more after averaging: contextualised features, not pixels.
3. The student sees the image with about 60 % of patches (block-wise) replaced by a learned mask token and
   regresses the targets of masked patches through a linear head with a smooth-L1 loss.
4. After every step the teacher moves towards the student; the EMA rate rises over the run and its starting
   value is scaled to the run length (`reference_impls.ema.ema_rate`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reference_impls.ema import ema_rate, ema_update, make_teacher
from reference_impls.method import MaskTokenMethod
from reference_impls.vit import ViT


class Data2Vec(MaskTokenMethod):
    name = "data2vec"
    target = "average of the EMA teacher's top-K block outputs (smooth-L1)"
    mask_ratio = 0.6

    def __init__(self, encoder: ViT, top_k: int | None = None, beta: float = 1.0, mask_ratio: float | None = None,
                 ema_start: float | None = None, masking: str = "default"):
        super().__init__(encoder, encoder.dim, mask_ratio, masking)
        self.top_k = top_k or min(encoder.depth, 8)
        self.beta, self.ema_start = beta, ema_start
        self.teacher = make_teacher(encoder)
        self.last_tau = None

    @torch.no_grad()
    def targets(self, images: torch.Tensor) -> torch.Tensor:
        self.teacher.eval()
        _, layers = self.teacher(images, all_layers=True)
        top = [F.layer_norm(x.float(), x.shape[-1:]) for x in layers[-self.top_k:]]
        target = torch.stack(top).mean(0)[:, self.teacher.prefix:]
        return F.layer_norm(target, target.shape[-1:])

    def patch_loss(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return F.smooth_l1_loss(pred, self.targets(images), beta=self.beta, reduction="none").mean(-1)

    @torch.no_grad()
    def health(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Spread and effective rank of the teacher's targets across images (collapse shows as both falling)."""
        from reference_impls.monitors import feature_health

        return feature_health(self.targets(images))

    def after_step(self, step: int, total: int) -> None:
        self.last_tau = ema_rate(step, total, self.ema_start)
        ema_update(self.teacher, self.encoder, self.last_tau)
