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
    # pretraining augmentation: a random resized crop with this area range and a horizontal flip (the MAE /
    # BEiT / data2vec / I-JEPA recipe); None for methods that make their own views (iBOT, AttMask)
    crop_scale: tuple[float, float] | None = (0.2, 1.0)
    flip = 0.5

    def __init__(self, encoder: ViT, masking: str = "default"):
        super().__init__()
        if masking not in ("default", "attention"):
            raise ValueError(f"masking must be 'default' or 'attention', got '{masking}'")
        self.encoder = encoder
        self.masking = masking

    def new_mask(self, batch: int, device) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def attention_source(self) -> ViT:
        """The network whose attention guides AttMask-style masking: the teacher where there is one."""
        return getattr(self, "teacher", None) or self.encoder

    def make_mask(self, images: torch.Tensor, attention: torch.Tensor | None = None) -> torch.Tensor:
        """The method's own mask, or (masking='attention') hide the patches the teacher attends to most,
        at the same ratio, so shapes do not change. A method that has the teacher's attention already (from
        the pass that made its targets) passes it in."""
        if self.masking == "default":
            return self.new_mask(images.shape[0], images.device)
        if attention is None:
            attention = self.attention_source().cls_attention(images)
        return self.attention_mask(attention)

    def attention_mask(self, attention: torch.Tensor) -> torch.Tensor:
        """AttMask: the most attended patches, as many as the default mask hides."""
        from reference_impls.masking import attention_guided_mask

        return attention_guided_mask(attention, self.mask_ratio)

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """The pretraining view: random resized crop + flip while training; the image itself in eval mode
        (held-out losses and the pretext check see unaugmented images)."""
        if not self.training or self.crop_scale is None:
            return images
        from reference_impls.augment import random_resized_crop

        return random_resized_crop(images, scale=self.crop_scale, flip=self.flip)

    def pretext_terms(self, images: torch.Tensor) -> list:  # pragma: no cover - abstract
        """The held-out loss as `reference_impls.pretext.Term`s (prediction, target, weights): what the
        "learned its task" check compares with trivial predictors on the same masks."""
        raise NotImplementedError

    def prepare(self, pool, device) -> dict:
        """Hook run once before pretraining (e.g. fit a tokenizer); returns facts for the report."""
        return {}

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def evaluated_encoder(self) -> ViT:
        """The network the paper evaluates downstream: the student by default; the EMA teacher where the
        paper takes it (iBOT, AttMask) or the target encoder (I-JEPA)."""
        return self.encoder

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Frozen features for probes: the evaluated encoder's pooled output (`ViT.pool`) on the full image."""
        return self.evaluated_encoder.pooled(images)

    def reconstruct(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError(f"{self.name} does not predict pixels")

    def after_step(self, step: int, total: int) -> None:
        """Hook for methods with a teacher (EMA update); nothing by default."""

    @torch.no_grad()
    def health(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Measures of whether the targets still tell images apart (see monitors.py): methods with a teacher."""
        return {}


def masked_term(name: str, kind: str, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                beta: float = 1.0):
    """A per-patch pretext term counted on masked patches; for regression targets, each image's mean target
    over its visible patches is offered to the check as a trivial predictor."""
    from reference_impls.pretext import Term, grid_positions

    visible = None
    if kind != "ce_index":
        seen = (~mask).float()[..., None]
        visible = (target.float() * seen).sum(1) / seen.sum(1).clamp_min(1)
    return Term(name, kind, prediction.float(), target, mask.float(), grid_positions(*mask.shape, mask.device),
                visible, beta)


class MaskTokenMethod(MIMMethod):
    """Shared shape of BEiT, MaskFeat and data2vec: masked patches are replaced by a learned token inside the
    encoder, a linear head predicts a per-patch target (`patch_targets`), and the loss (`loss_kind`, see
    `reference_impls.pretext.elementwise`) is averaged over masked patches only."""

    mask_ratio = 0.4
    loss_kind = "mse"
    beta = 1.0  # smooth-L1 only

    def __init__(self, encoder: ViT, out_dim: int, mask_ratio: float | None = None, masking: str = "default"):
        super().__init__(encoder, masking)
        self.mask_ratio = mask_ratio or self.mask_ratio
        self.mask_token = nn.Parameter(torch.zeros(1, 1, encoder.dim))
        self.head = nn.Linear(encoder.dim, out_dim)
        nn.init.normal_(self.mask_token, std=0.02)

    def new_mask(self, batch: int, device) -> torch.Tensor:
        from reference_impls.masking import block_mask

        return block_mask(batch, self.encoder.grid, self.mask_ratio, device=device)

    def predict(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        z = self.encoder(images, mask=mask, mask_token=self.mask_token)[:, self.encoder.prefix:]
        return self.head(z)

    def patch_targets(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """This method's target per patch: (B, N, D) features, or (B, N) token indices."""
        raise NotImplementedError

    def patch_loss(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Loss per patch (B, N) between predictions and this method's target."""
        from reference_impls.pretext import elementwise

        return elementwise(self.loss_kind, pred, self.patch_targets(images), self.beta)

    def forward(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        images = self.augment(images)
        mask = self.make_mask(images) if mask is None else mask
        per_patch = self.patch_loss(self.predict(images, mask).float(), images)
        return (per_patch * mask).sum() / mask.sum()

    @torch.no_grad()
    def pretext_terms(self, images: torch.Tensor) -> list:
        mask = self.make_mask(images)
        return [masked_term("masked patches", self.loss_kind, self.predict(images, mask).float(),
                            self.patch_targets(images), mask, self.beta)]
