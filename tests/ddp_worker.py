"""Two training steps of each method on given global batches, then the gradients and weights, as safetensors.

Run alone (one process, batch B, learning rate 2x) or under `torchrun --nproc_per_node 2` (each rank B/2,
the preset's rate, scaled 2x by the global batch): `tests/test_distributed.py` compares the two. Also writes
iBOT's teacher centre after one update, and frozen features gathered across ranks.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch

from reference_impls import build_method, distributed
from reference_impls.data import shapes
from reference_impls.evaluate import encode
from reference_impls.train import TrainConfig, Trainer

METHODS = ("mae", "simmim", "beit", "maskfeat", "data2vec", "ijepa")
GLOBAL_BATCH = 8


def masks_for(model, batch: int):
    return model.new_masks(batch, "cpu") if hasattr(model, "new_masks") else model.new_mask(batch, "cpu")


def main(out: Path) -> None:
    group, device = distributed.init("cpu")
    torch.set_num_threads(1)
    data = shapes(0, pool=64, test_per_class=2, labelled_per_class=2)
    per_rank = GLOBAL_BATCH // group.world
    cfg = TrainConfig(steps=2, batch_size=per_rank, lr=1e-3, warmup_steps=1, device=device, log_every=1)
    if not group.active:  # one process at the same global batch: the rate the ranks get by scaling
        cfg = replace(cfg, lr=cfg.lr * 2)
    tensors: dict[str, torch.Tensor] = {}
    generator = torch.Generator().manual_seed(1)  # the global batches, drawn before any rank reseeds the noise
    batches = [data.pretrain.get(torch.randint(0, len(data.pretrain), (GLOBAL_BATCH,), generator=generator))
               for _ in range(2)]
    views = data.pretrain.get(torch.arange(GLOBAL_BATCH))
    for name in METHODS:
        torch.manual_seed(0)
        model = build_method(name, data.image_size, 4, data.channels, "micro")
        model.crop_scale = None  # each rank draws its own crops: this compares the step itself, not augmentation
        model.prepare(data.pretrain, device)
        trainer = Trainer(model, data, cfg)
        for step, images in enumerate(batches):
            torch.manual_seed(100 + step)
            trainer.step(step, (images, masks_for(model, GLOBAL_BATCH)))
            for key, p in model.named_parameters():
                if p.grad is not None:
                    tensors[f"{name}.step{step}.grad.{key}"] = p.grad.detach().clone()
        for key, value in model.state_dict().items():
            tensors[f"{name}.weights.{key}"] = value.detach().clone()
    torch.manual_seed(0)
    ibot = build_method("ibot", data.image_size, 4, data.channels, "micro").train()
    ibot.teacher_outputs(views[distributed.rank_slice(GLOBAL_BATCH)])
    tensors["ibot.center_cls"], tensors["ibot.center_patch"] = ibot.center_cls.clone(), ibot.center_patch.clone()
    tensors["features"] = encode(ibot.encoder, data.test_x[:7])  # 7 rows: ranks hold 4 and 3
    if group.main:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in tensors.items()}, str(out))
    distributed.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
