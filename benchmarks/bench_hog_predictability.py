"""How much of a patch's HOG target can its surroundings predict at all? (issue #39, MaskFeat)

MaskFeat's check compares the trained model with the best trivial predictor, the per-position mean HOG. Before
asking a model to beat it, this measures an upper-bound-like yardstick that needs no training: predict each
patch's HOG from the exact HOG of its four neighbours (their mean, shrunk towards the per-position mean by the
best factor on a grid), and report how much lower its mean squared error is than the per-position mean's. A target
whose own neighbours barely predict it leaves a masked-patch model nothing to learn from context.

Variants: the HOG cell (2 px: two per side of a 4 px patch, as the paper's ratio; 4 px: one per patch), the
gradient operator (central differences; Sobel, as the paper's code, scaled to the same gain; central differences
of a Gaussian-smoothed image), at MaskFeat's noise floor. Images: 1,024 `shapes` images (parameters seed 99,
pixel-noise seed 5), never used for training.
Usage: python benchmarks/bench_hog_predictability.py [--images 1024] [--out PATH]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHRINK = (0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def sobel_gradients_hog(images, cell: int):
    """HOG as `maskfeat.hog`, but with Sobel gradients divided by 4 (the central difference's gain)."""
    import torch
    import torch.nn.functional as F

    from reference_impls.methods.maskfeat import orientation_histograms

    b, c, h, w = images.shape
    x = F.pad(images.float().reshape(b * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3) / 4
    return orientation_histograms(F.conv2d(x, kx), F.conv2d(x, kx.transpose(-1, -2)), c, cell)


def neighbour_gain(target) -> dict:
    """Error of the per-position mean, of the best shrunk four-neighbour mean, and the relative gain."""
    import torch.nn.functional as F
    import torch

    b, n, d = target.shape
    grid = int(math.isqrt(n))
    per_position = target.mean(0, keepdim=True)
    padded = F.pad(target.reshape(b, grid, grid, d).permute(0, 3, 1, 2), (1, 1, 1, 1))
    ones = F.pad(torch.ones(1, 1, grid, grid), (1, 1, 1, 1))
    around = lambda t: t[..., :-2, 1:-1] + t[..., 2:, 1:-1] + t[..., 1:-1, :-2] + t[..., 1:-1, 2:]  # noqa: E731
    neighbours = (around(padded) / around(ones)).permute(0, 2, 3, 1).reshape(b, n, d)
    mse = lambda p: float(((p - target) ** 2).mean())  # noqa: E731
    base = mse(per_position)
    best, factor = min((mse(a * neighbours + (1 - a) * per_position), a) for a in SHRINK)
    return {"per_position_mse": round(base, 5), "neighbour_mse": round(best, 5), "shrink": factor,
            "relative_gain": round(1 - best / base, 4)}


def main() -> None:
    import torch

    import reference_impls.methods.maskfeat as maskfeat
    from reference_impls.data import render_shapes, shape_params

    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=RESULTS / "hog-predictability.json")
    args = parser.parse_args()
    images = render_shapes(shape_params(args.images, 99), 32, noise=torch.Generator().manual_seed(5))
    rows = []
    for cell in (2, 4):
        for gradients, smoothing in (("central differences", 0.0), ("Sobel / 4", 0.0),
                                     ("central differences of a Gaussian-smoothed image", maskfeat.SMOOTHING)):
            histograms = sobel_gradients_hog if gradients.startswith("Sobel") else maskfeat.hog
            target = maskfeat.hog_targets(images, 4, cell, smoothing, histograms)
            target = target * math.sqrt(target.shape[-1])  # as MaskFeat scales it
            row = {"cell_px": cell, "gradients": gradients, "smoothing_sigma_px": smoothing,
                   **neighbour_gain(target)}
            rows.append(row)
            print(f"cell {cell} px, {gradients}: neighbours beat the per-position mean by "
                  f"{100 * row['relative_gain']:.1f} %", file=sys.stderr)
    save("hog-predictability", {
        "what": "how much better the exact HOG of a patch's four neighbours (mean, shrunk towards the per-position "
                "mean) predicts the patch's HOG target than the per-position mean does; MaskFeat's noise floor and "
                "target scale; 4 px patches on 32 px `shapes` images",
        "images": args.images, "params_seed": 99, "noise_seed": 5, "noise_floor": maskfeat.NOISE_FLOOR,
        "torch": torch.__version__, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
