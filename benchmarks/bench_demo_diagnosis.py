"""Why MAE's pretraining did not help in the CPU demonstration: where its pretext loss is spent. Issue #34.

Pretrains MAE as the demonstration's seed 0 did (`SCALES["cpu-demo"]`: ViT-micro/4, 3,000 steps of 128 images,
`constellations`), then on that seed's 512 held-out images (never the test split), with masks from a fixed
generator, splits the held-out masked-patch loss by what the patch shows: a glyph (any glyph pixel in it, what the
class is made of) or only background stripes. Beside each: the best trivial predictor of `reference_impls.pretext`
(each image's mean target over its visible patches) and the loss at initialisation. Then a linear probe of the
pretrained and of a randomly initialised encoder on the validation split (20 per class; trained on the 100 labels
per class), so the diagnosis never reads the test split. The training loss every 250 steps is the learning curve.
Usage: python benchmarks/bench_demo_diagnosis.py [--steps 3000] [--threads 1] [--out PATH]
Writes benchmarks/results/demo-diagnosis.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_design_options, apply_design, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def split_loss(model, images, glyphs):
    """Mean masked-patch MSE of the model and of each image's visible mean, on glyph and on stripe patches."""
    import torch

    from reference_impls.patches import patchify

    torch.manual_seed(1234)
    model.eval()
    with torch.no_grad():
        mask = model.make_mask(images)
        pred = model.decode(images, mask).float()
        target = model.target_patches(images).float()
    visible = (~mask).float()[..., None]
    trivial = (target * visible).sum(1, keepdim=True) / visible.sum(1, keepdim=True)
    model_err, trivial_err = ((pred - target) ** 2).mean(-1), ((trivial - target) ** 2).mean(-1)
    has_glyph = patchify(glyphs[:, None].float(), model.encoder.patch).amax(-1) > 0
    out = {}
    for name, where in (("glyph patches", mask & has_glyph), ("stripe-only patches", mask & ~has_glyph)):
        out[name] = {"share_of_masked": float(where.sum() / mask.sum()),
                     "model": float(model_err[where].mean()), "trivial_visible_mean": float(trivial_err[where].mean()),
                     "share_of_model_loss": float(model_err[where].sum() / model_err[mask].sum())}
    return out


def main() -> None:
    import torch

    from reference_impls import build_method
    from reference_impls.constellations import glyph_mask
    from reference_impls.evaluate import encode, linear_probe
    from reference_impls.train import pretrain
    from reference_impls.verify import SCALES, procedural, train_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=SCALES["cpu-demo"].steps)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--data", default=None, help="a procedural dataset (default: the preset's)")
    add_design_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    design = apply_design(args)
    scale = SCALES["cpu-demo"]
    data = procedural(args.data or scale.data)[0](0, pool=scale.pool, per_class=scale.per_class,
                                     test_per_class=scale.test_per_class, labelled_per_class=scale.per_class)
    glyphs = glyph_mask(data.pretrain.make_params(512, 3, size=32))  # the held-out set's parameters (seed * 1000 + 3)
    torch.manual_seed(0)
    model = build_method("mae", 32, 4, 3, scale.size)
    torch.manual_seed(10_000)
    random_init = build_method("mae", 32, 4, 3, scale.size)
    at_init = split_loss(model, data.heldout, glyphs)
    began = time.perf_counter()
    torch.manual_seed(0)
    trained = pretrain(model, data, train_config(scale, "cpu", args.steps, 0), progress=False)
    wall = time.perf_counter() - began
    curve = [(step, round(loss, 4)) for step, loss in trained["history"] if step % 250 == 0 or step == args.steps]
    after = split_loss(model, data.heldout, glyphs)
    probes = {}
    for arm, encoder in (("pretrained", model.encoder), ("random_init", random_init.encoder), ("pixels", None)):
        train, val = encode(encoder, data.train_x), encode(encoder, data.val_x)
        probes[arm] = 100 * float(linear_probe(train, data.train_y, val, data.val_y, 10, scale.eval.probe_steps,
                                               0).float().mean())
    save("demo-diagnosis", {"what": __doc__.split("\n\n")[0], "steps": args.steps, "threads": args.threads,
                            "design": {"data": data.name, **design},
                            "pretrain_wall_s": round(wall, 1), "heldout_images": len(data.heldout),
                            "loss_at_init": at_init, "loss_after": after,
                            "training_loss_curve": {"every": "250 steps, mean of the last 25 batches",
                                                    "points": curve},
                            "validation_linear_probe_pct": probes}, args.out)
    print(after, probes)


if __name__ == "__main__":
    main()
