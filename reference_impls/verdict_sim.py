"""The verdict's error rate and power, measured by simulation with the verdict's own functions.

A simulated verify run tests `methods` methods on `seeds` seeds x `images` fixed test images. For each method the
pretrained and random-init arms have a per-seed accuracy (their difference is `gain` points plus a normal wobble of
sd `seed_sd` points: training noise), and each test image has a difficulty shared by both arms and every seed (the
same test set serves all seeds). An arm with accuracy a gets image i right when a latent
rho * z_i + sqrt(1 - rho^2) * w < Phi^-1(a), so each image is right with probability exactly a on average and
hard images are hard for both arms (a paired, correlated outcome, as in a real run).

Only the comparison with random init is simulated: it is the binding one under the least favourable null (the
other "helped" comparisons, pixels and chance, are taken as passed for certain, which can only raise the chance
of a false "helped"), so the familywise rate measured here bounds the real rule's.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from reference_impls.verdict import ALPHA, MIN_EFFECT, holm_levels, paired_test

BASE_ACCURACY = 0.35
IMAGE_CORRELATION = 0.6  # rho: how much of an image's difficulty both arms share


def simulate_differences(rng: np.random.Generator, reps: int, methods: int, seeds: int, images: int,
                         gain: float, seed_sd: float) -> np.ndarray:
    """Paired 0/1 differences (pretrained - random init) x 100, shape (reps, methods, seeds, images), int8."""
    wobble = rng.normal(0.0, seed_sd / 100 / np.sqrt(2), size=(2, reps, methods, seeds, 1))
    accuracy = np.clip(np.stack([np.full_like(wobble[0], BASE_ACCURACY + gain / 100),
                                 np.full_like(wobble[1], BASE_ACCURACY)]) + wobble, 1e-4, 1 - 1e-4)
    z = rng.standard_normal((reps, methods, 1, images))  # image difficulty, fixed across seeds and arms
    rho = IMAGE_CORRELATION
    out = np.empty((reps, methods, seeds, images), np.int8)
    right = []
    for arm in range(2):  # P(right | z) = Phi((Phi^-1(a) - rho z) / sqrt(1 - rho^2)), averaging to a
        p = ndtr((ndtri(accuracy[arm]) - rho * z) / np.sqrt(1 - rho ** 2))
        right.append(rng.random(p.shape, dtype=np.float32) < p)
    np.subtract(right[0], right[1], out=out, dtype=np.int8)
    return out


def rejection_rates(rng: np.random.Generator, *, reps: int, methods: int, seeds: int, images: int = 1000,
                    gain: float, seed_sd: float, margin: float = MIN_EFFECT, alpha: float = ALPHA,
                    chunk: int = 50) -> dict:
    """Share of simulated runs where Holm over `methods` calls any method "helped" (familywise rate when every
    true gain is at the margin), and the share of methods called "helped" (power when the gain is above it)."""
    any_helped = per_method = 0
    for start in range(0, reps, chunk):
        n = min(chunk, reps - start)
        diff = simulate_differences(rng, n, methods, seeds, images, gain, seed_sd)
        p = paired_test(diff.astype(np.float32) * 100, margin)[3]  # (n, methods)
        for row in p:
            rejected = holm_levels(list(row), alpha)[1]
            any_helped += any(rejected)
            per_method += sum(rejected)
    return {"reps": reps, "methods": methods, "seeds": seeds, "images": images, "gain": gain, "seed_sd": seed_sd,
            "margin": margin, "alpha": alpha, "familywise": any_helped / reps,
            "per_method": per_method / (reps * methods)}
