"""A design screen for the CPU demonstration, on validation images only (issue #34).

Pretrains one method on one procedural dataset as the `cpu-demo` preset would (ViT-micro/4, batch 128, 8,192-image
pool, seed 0), then scores on that seed's validation split (20 images per class, never the test split): a linear
probe and a fine-tune (the preset's steps, at its first rate) of the pretrained encoder and of a randomly
initialised one, and a linear probe on raw pixels, all trained on the preset's labels per class. One seed and 200
validation images: a screen that picks among designs with large gaps, not a verdict.
Usage: python benchmarks/bench_demo_screen.py --data glyphs --method mae [--steps 1500] [--threads 1] [--out PATH]
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


def main() -> None:
    import torch

    from reference_impls import build_method
    from reference_impls.evaluate import encode, linear_probe, right_answers, train_classifier
    from reference_impls.train import pretrain
    from reference_impls.verify import SCALES, procedural, train_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="glyphs")
    parser.add_argument("--method", default="mae")
    parser.add_argument("--preset", default="cpu-demo")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    add_design_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    design = apply_design(args)
    scale = SCALES[args.preset]
    data = procedural(args.data)[0](0, pool=scale.pool, per_class=scale.per_class,
                                    test_per_class=scale.test_per_class, labelled_per_class=scale.per_class)
    classes = len(data.classes)
    torch.manual_seed(0)
    model = build_method(args.method, 32, 4, 3, scale.size)
    torch.manual_seed(10_000)
    random_init = build_method(args.method, 32, 4, 3, scale.size)
    began = time.perf_counter()
    torch.manual_seed(0)
    trained = pretrain(model, data, train_config(scale, "cpu", args.steps, 0), progress=False)
    wall = time.perf_counter() - began
    ev = scale.eval
    scores = {}
    for arm, encoder in (("pretrained", model.evaluated_encoder), ("random_init", random_init.evaluated_encoder),
                         ("pixels", None)):
        train, val = encode(encoder, data.train_x), encode(encoder, data.val_x)
        row = {"linear_probe": 100 * float(linear_probe(train, data.train_y, val, data.val_y, classes,
                                                        ev.probe_steps, 0).float().mean())}
        if encoder is not None:
            classifier = train_classifier(encoder, data.train_x, data.train_y, classes, ev.finetune_lrs[0],
                                          ev.finetune_steps, ev.batch_size, ev.flips, 0,
                                          ev.probe_steps if ev.finetune_from_probe else 0)
            row["finetune"] = 100 * float(right_answers(classifier, data.val_x, data.val_y).float().mean())
        scores[arm] = row
    save(f"demo-screen-{args.data}-{args.method}", {
        "what": __doc__.split("\n\n")[0], "data": args.data, "method": args.method, "steps": args.steps,
        "threads": args.threads,
        "design": design, "pretrain_wall_s": round(wall, 1),
        "validation_images": len(data.val_y),
        "labels_per_class": scale.per_class, "final_training_loss": round(trained["history"][-1][1], 4),
        "validation_pct": scores}, args.out)
    print(args.data, args.method, scores)


if __name__ == "__main__":
    main()
