"""Is a gain from pretraining reachable on a procedural dataset? Issue #34, point 1, measured before any
pretraining comparison.

For `shapes` and `constellations`, on their fixed test sets (100 images per class):
- the share of flat 4 x 4 patches (every channel's spread under 0.02 of the [0, 1] range): masked prediction
  of a flat patch is colour filling;
- what simple statistics give a linear probe (mean colour; colour spread, edge density and histograms of grey
  levels and gradient magnitudes; pooled HOG, the verification's handcrafted arm; raw pixels), at
  `--labels` labels per class;
- the supervised ceiling: the ViT of the run (`--size`, patch 4) trained from scratch on those labels with the
  probes' own fine-tuning recipe, `--steps` steps, learning rate picked on the validation split.
Usage: python benchmarks/bench_datasets.py [--datasets constellations shapes] [--size micro] [--labels 100 500]
       [--steps 3000] [--threads 2]
Writes benchmarks/results/datasets.json after every row.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def flat_share(images) -> float:
    patches = (images * 0.25).unfold(2, 4, 4).unfold(3, 4, 4)  # B, C, 8, 8, 4, 4 in [0, 1] units
    return float((patches.std(dim=(-1, -2)).amax(1) < 0.02).float().mean())


def main() -> None:
    import torch

    from reference_impls.constellations import (labelled_constellations, labelled_glyphs,
                                               labelled_large_constellations)
    from reference_impls.data import labelled_shapes
    from reference_impls.evaluate import linear_probe, right_answers, train_classifier
    from reference_impls.handcrafted import HOGFeatures, simple_statistics
    from reference_impls.vit import ViT

    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["constellations", "shapes"])
    parser.add_argument("--size", default="micro")
    parser.add_argument("--labels", nargs="+", type=int, default=[100, 500])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lrs", nargs="+", type=float, default=[5e-4, 1.5e-3])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    render = {"shapes": labelled_shapes, "constellations": labelled_constellations, "glyphs": labelled_glyphs,
              "constellations-large": labelled_large_constellations}
    flips = {"shapes": True, "constellations": False, "glyphs": False, "constellations-large": False}
    rows: dict = {}
    for name in args.datasets:
        test_x, test_y = render[name](100, 10_000_019)
        val_x, val_y = render[name](20, 77_777)
        row = rows[name] = {"flat_patch_share": flat_share(test_x), "chance": 10.0, "by_labels": {}}
        for labels in args.labels:
            x, y = render[name](labels, 31_337)
            probe = lambda f: 100 * float(linear_probe(f(x), y, f(test_x), test_y, 10, 300, 0).float().mean())  # noqa: E731
            hog = HOGFeatures(32, 3).pooled
            cell = row["by_labels"][str(labels)] = {
                "mean_colour": probe(lambda v: v.mean((2, 3))), "simple_statistics": probe(simple_statistics),
                "pooled_hog": probe(hog), "raw_pixels": probe(lambda v: v.flatten(1))}
            best = None
            for lr in args.lrs:
                began = time.perf_counter()
                torch.manual_seed(0)
                encoder = ViT(32, 4, 3, args.size)
                classifier = train_classifier(encoder, x, y, 10, lr, args.steps, 100, flips[name], 0)
                val = 100 * float(right_answers(classifier, val_x, val_y).float().mean())
                if best is None or val > best[0]:
                    test = 100 * float(right_answers(classifier, test_x, test_y).float().mean())
                    best = (val, lr, test, time.perf_counter() - began)
            cell["supervised_ceiling"] = {"size": args.size, "steps": args.steps, "lr_chosen_on_validation": best[1],
                                          "validation": best[0], "test": best[2], "wall_s": best[3]}
            print(name, labels, cell, flush=True)
            save("datasets", {"what": __doc__.split("\n\n")[0], "threads": args.threads, "rows": rows},
                 args.out)


if __name__ == "__main__":
    main()
