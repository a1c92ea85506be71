"""iBOT — Zhou et al., "iBOT: Image BERT Pre-Training with Online Tokenizer" (ICLR 2022, arXiv 2111.07832).

Method, in the paper's terms:
1. Two augmented views of every image (random resized crop, flip, colour jitter: `augment.two_views`).
2. An online tokenizer: the teacher, an EMA of the student (encoder + projection head), maps every patch and
   the class token of each *unmasked* view to a distribution over K prototypes. Its outputs are centred (a
   running mean is subtracted, against collapse onto one prototype) and sharpened by a temperature that warms
   up from 0.04 to 0.07 over the first 30 % of training (against collapse to uniform).
3. The student sees each view with block-wise masked patches replaced by a mask token; half of the views are
   masked, each with a ratio drawn from [0.1, 0.5], the other half not at all. Its patch outputs at masked
   positions match the teacher's distributions of the same view (masked image modelling as
   self-distillation); its class token matches the teacher's class token of the *other* view (cross-view
   invariance, as in DINO).
4. Downstream, the paper evaluates the teacher (`evaluated_encoder`).
5. A collapse monitor (`health`, on held-out images at the log interval) reports the teacher's per-sample
   entropy and the entropy of its batch-average distribution; either near its limit means the targets no
   longer carry information.
`masking="attention"` gives AttMask (Kakogeorgiou et al., ECCV 2022): hide the patches the teacher's class
token attends to most, with the attention taken from the same teacher pass that makes the targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reference_impls.augment import two_views
from reference_impls.distributed import all_reduce_mean_
from reference_impls.ema import ema_rate, ema_update, make_teacher
from reference_impls.masking import attention_guided_mask, block_mask, mask_counts
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
    target = "EMA-teacher prototype distributions of masked patches + class token of the other view"

    def __init__(self, encoder: ViT, prototypes: int | None = None, mask_ratio: tuple[float, float] = (0.1, 0.5),
                 masked_share: float = 0.5, student_temp: float = 0.1, teacher_temp: tuple[float, float] = (0.04, 0.07),
                 teacher_temp_warmup: float = 0.3, center_momentum: float = 0.9, ema_start: float | None = None,
                 masking: str = "default"):
        super().__init__(encoder, masking)
        prototypes = prototypes or (256 if encoder.dim < 192 else 1024)
        self.mask_ratio, self.masked_share = mask_ratio, masked_share
        self.student_temp, self.teacher_temp, self.teacher_temp_warmup = student_temp, teacher_temp, teacher_temp_warmup
        self.center_momentum, self.ema_start = center_momentum, ema_start
        self.mask_token = nn.Parameter(torch.zeros(1, 1, encoder.dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.head = ProjectionHead(encoder.dim, prototypes)
        self.teacher = make_teacher(encoder)
        self.teacher_head = make_teacher(self.head)
        self.register_buffer("center_cls", torch.zeros(1, prototypes))
        self.register_buffer("center_patch", torch.zeros(1, 1, prototypes))
        # a tensor, so the schedule changes it without recompiling a compiled step
        self.register_buffer("temperature", torch.tensor(teacher_temp[0]))

    @property
    def evaluated_encoder(self) -> ViT:
        return self.teacher

    def counts(self, batch: int, device) -> torch.Tensor:
        """Patches to hide per view: half the views none, the others a ratio drawn in [0.1, 0.5]."""
        low, high = self.mask_ratio
        return mask_counts(batch, self.encoder.num_patches, low, high, self.masked_share, device=device)

    def new_mask(self, batch: int, device) -> torch.Tensor:
        return block_mask(batch, self.encoder.grid, self.mask_ratio[1], device=device, counts=self.counts(batch, device))

    def attention_mask(self, attention: torch.Tensor) -> torch.Tensor:
        counts = self.counts(attention.shape[0], attention.device)
        return attention_guided_mask(attention, self.mask_ratio[1], counts=counts)

    @torch.no_grad()
    def teacher_outputs(self, views: torch.Tensor, update_center: bool = True):
        """Centred, sharpened teacher distributions for the class token (B, K) and patches (B, N, K), and the
        class token's last-block attention (B, N) from the same pass (used by AttMask)."""
        tokens, attention = self.teacher(views, cls_attention=True)
        out = self.teacher_head(tokens.float())
        cls, patches = out[:, 0], out[:, 1:]
        p_cls = F.softmax((cls - self.center_cls) / self.temperature, dim=-1)
        p_patch = F.softmax((patches - self.center_patch) / self.temperature, dim=-1)
        if update_center and self.training:  # the centre follows the mean over every rank's batch
            m = self.center_momentum
            self.center_cls.mul_(m).add_(all_reduce_mean_(cls.mean(0, keepdim=True)), alpha=1 - m)
            self.center_patch.mul_(m).add_(all_reduce_mean_(patches.mean((0, 1), keepdim=True)), alpha=1 - m)
        return p_cls, p_patch, attention

    def predict(self, views: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Student log-probabilities for the class token and every patch (B, 1 + N, K)."""
        z = self.encoder(views, mask=mask, mask_token=self.mask_token)
        return F.log_softmax(self.head(z).float() / self.student_temp, dim=-1)

    def forward(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        views = two_views(images)  # (2B): view 1 of every image, then view 2
        p_cls, p_patch, attention = self.teacher_outputs(views)
        mask = self.make_mask(views, attention) if mask is None else mask
        log_s = self.predict(views, mask)
        per_view = (-(p_patch * log_s[:, 1:]).sum(-1) * mask).sum(1) / mask.sum(1).clamp_min(1)
        has_mask = mask.any(1).float()
        patch_loss = (per_view * has_mask).sum() / has_mask.sum().clamp_min(1)
        other_view = p_cls.roll(images.shape[0], dims=0)  # view 1's target is view 2's teacher class token
        cls_loss = -(other_view * log_s[:, 0]).sum(-1).mean()
        return patch_loss + cls_loss

    def after_step(self, step: int, total: int) -> None:
        tau = ema_rate(step, total, self.ema_start)
        ema_update(self.teacher, self.encoder, tau)
        ema_update(self.teacher_head, self.head, tau)
        start, end = self.teacher_temp
        warm = min(1.0, (step + 1) / max(1.0, self.teacher_temp_warmup * total))
        self.temperature.fill_(start + (end - start) * warm)  # a host number written, never read

    @torch.no_grad()
    def health(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        _, p_patch, _ = self.teacher_outputs(images, update_center=False)
        return distribution_health(p_patch)
