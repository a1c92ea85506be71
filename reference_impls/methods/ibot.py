"""iBOT — Zhou et al., "iBOT: Image BERT Pre-Training with Online Tokenizer" (ICLR 2022, arXiv 2111.07832).

Method, in the paper's terms:
1. An online tokenizer: the teacher, an EMA of the student (encoder + projection head), maps every patch and
   the class token of the *unmasked* image to a distribution over K prototypes.
2. Teacher outputs are centred (a running mean is subtracted, against collapse onto one prototype) and
   sharpened (low temperature, against collapse to uniform).
3. The student sees the image with block-wise masked patches replaced by a mask token; its patch outputs at
   masked positions are trained to match the teacher's distributions (masked image modelling as
   self-distillation), and its class token to match the teacher's class token.
   Minimal variant: one view, so the class-token term is in-view rather than across two crops.
4. A collapse monitor (`health`, run on held-out images at the log interval) reports the teacher's
   per-sample entropy and the entropy of its batch-average distribution; either near its limit means the
   targets no longer carry information.
`masking="attention"` gives AttMask (Kakogeorgiou et al., ECCV 2022): hide the patches the teacher's class
token attends to most.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reference_impls.ema import ema_rate, ema_update, make_teacher
from reference_impls.masking import block_mask
from reference_impls.method import MIMMethod
from reference_impls.monitors import distribution_health, summarise
from reference_impls.vit import ViT


class ProjectionHead(nn.Module):
    """MLP then a weight-normalised linear layer onto K prototypes (the DINO/iBOT head)."""

    def __init__(self, dim: int, prototypes: int, hidden: int | None = None, bottleneck: int = 64):
        super().__init__()
        hidden = hidden or 2 * dim
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, bottleneck))
        self.prototypes = nn.utils.parametrizations.weight_norm(nn.Linear(bottleneck, prototypes, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prototypes(F.normalize(self.mlp(x), dim=-1))


def collapse_stats(teacher_probs: torch.Tensor) -> dict:
    """Mean per-sample entropy and entropy of the mean distribution, both as a share of log K, and the flag."""
    return summarise(distribution_health(teacher_probs))


class IBOT(MIMMethod):
    name = "ibot"
    target = "EMA-teacher prototype distributions of masked patches + class token (self-distillation)"

    def __init__(self, encoder: ViT, prototypes: int | None = None, mask_ratio: float = 0.3,
                 student_temp: float = 0.1, teacher_temp: float = 0.04, center_momentum: float = 0.9,
                 ema_start: float | None = None, masking: str = "default"):
        super().__init__(encoder, masking)
        prototypes = prototypes or (256 if encoder.dim < 192 else 1024)
        self.mask_ratio, self.student_temp, self.teacher_temp = mask_ratio, student_temp, teacher_temp
        self.center_momentum, self.ema_start = center_momentum, ema_start
        self.mask_token = nn.Parameter(torch.zeros(1, 1, encoder.dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.head = ProjectionHead(encoder.dim, prototypes)
        self.teacher = make_teacher(encoder)
        self.teacher_head = make_teacher(self.head)
        self.register_buffer("center_cls", torch.zeros(1, prototypes))
        self.register_buffer("center_patch", torch.zeros(1, 1, prototypes))

    def new_mask(self, batch: int, device) -> torch.Tensor:
        return block_mask(batch, self.encoder.grid, self.mask_ratio, device=device)

    @torch.no_grad()
    def teacher_outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Centred, sharpened teacher distributions for the class token (B, K) and patches (B, N, K)."""
        out = self.teacher_head(self.teacher(images).float())
        cls, patches = out[:, 0], out[:, 1:]
        p_cls = F.softmax((cls - self.center_cls) / self.teacher_temp, dim=-1)
        p_patch = F.softmax((patches - self.center_patch) / self.teacher_temp, dim=-1)
        if self.training:
            m = self.center_momentum
            self.center_cls.mul_(m).add_(cls.mean(0, keepdim=True), alpha=1 - m)
            self.center_patch.mul_(m).add_(patches.mean((0, 1), keepdim=True), alpha=1 - m)
        return p_cls, p_patch

    def predict(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Student log-probabilities for the class token and every patch (B, 1 + N, K)."""
        z = self.encoder(images, mask=mask, mask_token=self.mask_token)
        return F.log_softmax(self.head(z).float() / self.student_temp, dim=-1)

    def forward(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = self.make_mask(images) if mask is None else mask
        p_cls, p_patch = self.teacher_outputs(images)
        log_s = self.predict(images, mask)
        patch_loss = -(p_patch * log_s[:, 1:]).sum(-1)
        patch_loss = (patch_loss * mask).sum() / mask.sum()
        cls_loss = -(p_cls * log_s[:, 0]).sum(-1).mean()
        return patch_loss + cls_loss

    def after_step(self, step: int, total: int) -> None:
        tau = ema_rate(step, total, self.ema_start)
        ema_update(self.teacher, self.encoder, tau)
        ema_update(self.teacher_head, self.head, tau)

    @torch.no_grad()
    def health(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        was_training = self.training
        self.eval()  # no centre update
        _, p_patch = self.teacher_outputs(images)
        self.train(was_training)
        return distribution_health(p_patch)
