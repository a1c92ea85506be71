"""Verdicts as statistics: did pretraining help, beyond chance, noise and simple baselines?

Inputs are per-image outcomes: for each seed and arm, which test images the primary probe classified right
(a 0/1 vector). Every comparison is paired: the pretrained arm and a baseline arm share the seed (so the same
labelled split and recipe) and the test images. The uncertainty of the mean paired difference is estimated by a
two-level bootstrap that resamples seeds (training noise) and, independently, test images (test-set sampling
noise; the same images for both arms of a pair).

"helped" needs all of, on the primary probe:
- at least `MIN_SEEDS` seeds;
- pretrained minus random init: the one-sided lower confidence bound above `min_effect` points;
- pretrained minus every other baseline (raw pixels, handcrafted features): lower bound above 0;
- pretrained above chance (lower bound of its accuracy above 1 / classes).
Requiring every comparison at once is an intersection-union test: its p-value is the largest of the
comparisons' p-values, with no correction needed across baselines. Across methods (one verify run tests
several) the p-values are Holm-corrected, so the chance that any method is called "helped" when none is stays
below `alpha`. Anything else is "no verdict", with the arm that won named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_SEEDS = 5
MIN_EFFECT = 2.0  # points of accuracy over random init
ALPHA = 0.05
BOOTSTRAP = 4000
REFERENCE = "random_init"


@dataclass
class Comparison:
    """Pretrained minus one baseline, in accuracy points."""

    baseline: str
    margin: float  # the lower bound must clear this
    mean: float
    p_value: float  # one-sided, H0: difference <= margin
    samples: np.ndarray = field(repr=False)

    def interval(self, level: float) -> tuple[float, float]:
        """Two-sided interval whose lower end is the one-sided bound at `level` (e.g. 0.05 -> 5th percentile)."""
        return float(np.quantile(self.samples, level)), float(np.quantile(self.samples, 1 - level))


@dataclass
class MethodTest:
    """Everything one method's verdict rests on."""

    method: str
    probe: str
    seeds: int
    chance: float
    means: dict[str, float]  # accuracy % per arm
    comparisons: list[Comparison]
    p_value: float  # intersection-union: the largest comparison p-value (1 when untestable)
    reason: str = ""  # why no test was possible (too few seeds, smoke run)
    verdict: str = "no verdict"
    level: float = ALPHA  # the Holm-adjusted one-sided level this method was judged at
    text: str = ""

    def as_dict(self) -> dict:
        return {
            "method": self.method, "primary_probe": self.probe, "seeds": self.seeds, "chance": self.chance,
            "means": self.means, "verdict": self.verdict, "text": self.text, "p_value": self.p_value,
            "holm_level": self.level, "reason": self.reason,
            "comparisons": [{"baseline": c.baseline, "margin": c.margin, "mean": c.mean, "p_value": c.p_value,
                             "interval": list(c.interval(self.level))} for c in self.comparisons],
        }


def bootstrap_differences(pre: np.ndarray, base: np.ndarray, rng: np.random.Generator,
                          n_boot: int = BOOTSTRAP, seed_picks: np.ndarray | None = None,
                          image_counts: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap distribution of the mean paired difference (points): `pre`, `base` are (seeds, images) 0/1.
    Pass the same `seed_picks` / `image_counts` to every comparison of a method so they are paired too."""
    diff = (np.asarray(pre, np.float64) - np.asarray(base, np.float64)) * 100
    n_seeds, n_images = diff.shape
    if image_counts is None:
        image_counts = rng.multinomial(n_images, np.full(n_images, 1 / n_images), size=n_boot)
    if seed_picks is None:
        seed_picks = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_boot)
    per_seed = diff @ image_counts.T / n_images  # (seeds, boot): each seed's difference on resampled images
    return (seed_picks * per_seed.T).sum(1) / n_seeds


def p_above(samples: np.ndarray, margin: float) -> float:
    """One-sided bootstrap p-value for H0: the difference is at most `margin` (add-one smoothed)."""
    return float((np.sum(samples <= margin) + 1) / (len(samples) + 1))


def compare_method(method: str, correct: dict[str, np.ndarray], classes: int, probe: str = "linear_probe",
                min_effect: float = MIN_EFFECT, seed: int = 0, n_boot: int = BOOTSTRAP,
                reason: str = "") -> MethodTest:
    """The comparisons of one method. `correct[arm]` is (seeds, test images) of 0/1 for the primary probe;
    arm 'pretrained' against every other arm, `REFERENCE` with the minimum effect, the rest with margin 0."""
    pre = np.asarray(correct["pretrained"], np.float64)
    chance = 100.0 / classes
    means = {arm: float(np.asarray(v, np.float64).mean() * 100) for arm, v in correct.items()}
    n_seeds, n_images = pre.shape
    if n_seeds < MIN_SEEDS and not reason:
        reason = f"{n_seeds} seed(s): a verdict needs at least {MIN_SEEDS}"
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_images, np.full(n_images, 1 / n_images), size=n_boot)
    picks = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_boot)
    comparisons = []
    for arm in sorted(correct, key=lambda a: (a != REFERENCE, a)):
        if arm == "pretrained":
            continue
        margin = min_effect if arm == REFERENCE else 0.0
        samples = bootstrap_differences(pre, correct[arm], rng, n_boot, picks, counts)
        comparisons.append(Comparison(arm, margin, means["pretrained"] - means[arm], p_above(samples, margin), samples))
    chance_samples = bootstrap_differences(pre, np.full_like(pre, 1.0 / classes), rng, n_boot, picks, counts)
    comparisons.append(Comparison("chance", 0.0, means["pretrained"] - chance, p_above(chance_samples, 0.0),
                                  chance_samples))
    p_value = 1.0 if reason else max(c.p_value for c in comparisons)
    return MethodTest(method, probe, n_seeds, chance, means, comparisons, p_value, reason)


def holm(tests: list[MethodTest], alpha: float = ALPHA, family: int | None = None) -> list[MethodTest]:
    """Holm's step-down correction across methods; sets each test's level, verdict and text (in place).
    `family`: the number of methods the run set out to judge, when some were not run; they count as failed
    comparisons (p = 1, ranked last), so the levels of the others are those of the whole family."""
    order = sorted(range(len(tests)), key=lambda i: tests[i].p_value)
    m = max(len(tests), family or 0)
    still_rejecting = True
    for rank, i in enumerate(order):
        test = tests[i]
        test.level = alpha / (m - rank)
        helped = still_rejecting and not test.reason and test.p_value <= test.level
        still_rejecting = helped
        test.verdict = "helped" if helped else "no verdict"
        test.text = _describe(test, helped)
    return tests


def _describe(test: MethodTest, helped: bool) -> str:
    ref = next(c for c in test.comparisons if c.baseline == REFERENCE)
    lo, hi = ref.interval(test.level)
    conf = 1 - 2 * test.level
    gain = (f"{ref.mean:+.1f} points over random init ({conf:.1%} interval {lo:+.1f} to {hi:+.1f}, "
            f"{test.seeds} seeds, {test.probe})")
    if helped:
        others = ", ".join(f"{c.baseline} {c.mean:+.1f}" for c in test.comparisons if c.baseline != REFERENCE)
        return f"pretraining helped: {gain}; also ahead of {others}"
    if test.reason:
        return f"no verdict ({test.reason}); {gain}"
    best = max(test.means, key=test.means.get)
    failed = [c for c in test.comparisons if c.p_value > test.level]
    why = "; ".join(f"vs {c.baseline}: {c.mean:+.1f} does not clear {c.margin:+.1f} with confidence"
                    for c in failed)
    won = f"best arm: {best} ({test.means[best]:.1f} %, chance {test.chance:.1f} %)"
    return f"no verdict: {why}; {won}"


def judge(per_method: dict[str, dict[str, np.ndarray]], classes: int, probe: str = "linear_probe",
          min_effect: float = MIN_EFFECT, alpha: float = ALPHA, n_boot: int = BOOTSTRAP,
          reason: str = "", probes: dict[str, str] | None = None, family: int | None = None) -> dict[str, MethodTest]:
    """Test every method and apply Holm across them (and `family - len(per_method)` methods not run, see `holm`).
    `probes` names each method's primary probe (for the text)."""
    tests = [compare_method(name, correct, classes, (probes or {}).get(name, probe), min_effect, seed=i,
                         n_boot=n_boot, reason=reason)
             for i, (name, correct) in enumerate(sorted(per_method.items()))]
    holm(tests, alpha, family)
    return {t.method: t for t in tests}


def describe_smoke(means: dict[str, float], chance: float) -> str:
    """What a plumbing run says instead of a verdict."""
    best = max(means, key=means.get)
    return (f"smoke run: checks the plumbing, no verdict (best arm {best} {means[best]:.1f} %, chance "
            f"{chance:.1f} %)")
