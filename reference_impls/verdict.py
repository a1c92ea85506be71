"""Verdicts as statistics: did pretraining help, beyond chance, noise and simple baselines?

Inputs are per-image outcomes: for each seed and arm, which test images the primary probe classified right
(a 0/1 vector). Every comparison is paired: the pretrained arm and a baseline arm share the seed (so the same
labelled split and recipe) and the test images.

**The test.** The paired differences d[s, i] (seed s, test image i, in points) are modelled as
d = gain + seed effect + image effect + residual: the seeds are a sample of training runs, the test images a
sample of the task's images, and the same images serve every seed. The variance of the mean difference is
estimated from the two-way ANOVA mean squares (seed, image, residual; each component kept at or above zero) and
the mean is compared with a t distribution on seeds - 1 degrees of freedom (exact when training noise dominates,
as it does at this project's scales; slightly conservative when test-image noise does). Unlike a bootstrap over five
seeds, this keeps its level when the seed noise is large (the old bootstrap gave 17 % familywise error at a
per-seed sd of 7 points) and does not count the seed x image noise twice when it is small. Its error rate and
power are measured by simulation with these same functions (`reference_impls/verdict_sim.py`, a test and
`benchmarks/bench_verdict.py`).

Two levels, each its own Holm family across the methods a run set out to judge:
- **helped**: pretrained minus random init above `min_effect` points, and above raw pixels and chance (every one
  of them at once: an intersection-union test, whose p-value is the largest of the three, no correction needed
  across baselines); at least `MIN_SEEDS` seeds.
- **beats handcrafted features**: pretrained minus HOG above 0, reported separately (a method can help over
  random init on a task where HOG is simply the better feature).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

MIN_SEEDS = 5
MIN_EFFECT = 2.0  # points of accuracy over random init
ALPHA = 0.05
REFERENCE = "random_init"
HANDCRAFTED = ("hog",)  # arms judged in the separate "beats handcrafted features" family
PLANNING_SEED_SD = 2.0  # per-seed sd of a paired difference (points) assumed when planning seeds; the committed CPU
# run measured 1.5-1.8
PLANNING_EFFECT = 5.0  # the true gain (points) a run is planned to detect with `PLANNING_POWER`
PLANNING_POWER = 0.8


@dataclass
class Comparison:
    """Pretrained minus one baseline, in accuracy points."""

    baseline: str
    margin: float  # the lower bound must clear this
    mean: float
    se: float  # standard error of the mean difference (seed, image and residual variance)
    df: float  # degrees of freedom: seeds - 1
    p_value: float  # one-sided, H0: difference <= margin
    family: str = "helped"  # "helped" or "handcrafted"

    def interval(self, level: float) -> tuple[float, float]:
        """Two-sided interval whose lower end is the one-sided bound at `level` (e.g. 0.05 -> 5th percentile)."""
        half = float(stats.t.ppf(1 - level, self.df)) * self.se
        return self.mean - half, self.mean + half

    def passed(self, level: float) -> bool:
        return self.p_value <= level


@dataclass
class MethodTest:
    """Everything one method's verdict rests on."""

    method: str
    probe: str
    seeds: int
    chance: float
    means: dict[str, float]  # accuracy % per arm
    comparisons: list[Comparison]
    p_value: float  # intersection-union over the "helped" comparisons: the largest p-value (1 when untestable)
    p_handcrafted: float = 1.0  # the same over the handcrafted arms
    reason: str = ""  # why no test was possible (too few seeds, smoke run)
    verdict: str = "no verdict"
    level: float = ALPHA  # the Holm-adjusted one-sided level "helped" was judged at
    beats_handcrafted: bool = False
    level_handcrafted: float = ALPHA
    text: str = ""

    def as_dict(self) -> dict:
        return {
            "method": self.method, "primary_probe": self.probe, "seeds": self.seeds, "chance": self.chance,
            "means": self.means, "verdict": self.verdict, "text": self.text, "p_value": self.p_value,
            "holm_level": self.level, "reason": self.reason, "beats_handcrafted": self.beats_handcrafted,
            "p_handcrafted": self.p_handcrafted, "holm_level_handcrafted": self.level_handcrafted,
            "test": "two-way random-effects t, seeds - 1 df",
            "comparisons": [{"baseline": c.baseline, "family": c.family, "margin": c.margin, "mean": c.mean,
                             "se": c.se, "df": c.df, "p_value": c.p_value,
                             "interval": list(c.interval(self._level(c)))} for c in self.comparisons],
        }

    def _level(self, c: Comparison) -> float:
        return self.level_handcrafted if c.family == "handcrafted" else self.level


def paired_test(diff: np.ndarray, margin: float | np.ndarray = 0.0) -> tuple[np.ndarray, ...]:
    """Mean, standard error, degrees of freedom and one-sided p (H0: mean <= margin) of paired differences
    `diff` of shape (..., seeds, images), vectorised over leading axes (the simulation tests many at once)."""
    diff = np.asarray(diff, np.float64)
    n_seeds, n_images = diff.shape[-2:]
    grand = diff.mean((-2, -1))
    seed_means, image_means = diff.mean(-1), diff.mean(-2)
    ms_seed = n_images * ((seed_means - grand[..., None]) ** 2).sum(-1) / max(n_seeds - 1, 1)
    ms_image = n_seeds * ((image_means - grand[..., None]) ** 2).sum(-1) / max(n_images - 1, 1)
    ss_total = ((diff - grand[..., None, None]) ** 2).sum((-2, -1))
    df_resid = max((n_seeds - 1) * (n_images - 1), 1)
    ms_resid = np.maximum(ss_total - (n_seeds - 1) * ms_seed - (n_images - 1) * ms_image, 0.0) / df_resid
    # variance of the grand mean: sigma_seed^2 / S + sigma_image^2 / I + sigma_resid^2 / (S I), components >= 0
    seed_part = np.maximum(ms_seed - ms_resid, 0.0)
    image_part = np.maximum(ms_image - ms_resid, 0.0)
    cells = n_seeds * n_images
    var = (seed_part + image_part + ms_resid) / cells
    # degrees of freedom of the seed mean square alone: the image and residual parts are estimated from about
    # 1,000 x seeds cells and are nearly exact, so t with seeds - 1 df is at worst slightly conservative.
    # Satterthwaite's df was tried and measured anti-conservative (8 % familywise error at 5 seeds, sd 2-4): in
    # runs whose seed spread is small by chance it inflates the df just as the variance is underestimated.
    df = np.full_like(grand, float(max(n_seeds - 1, 1)))
    se = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (grand - margin) / se
    p = np.where(se > 0, stats.t.sf(t, df), np.where(grand > margin, 0.0, 1.0))
    return grand, se, df, p


def holm_levels(p_values: list[float], alpha: float = ALPHA, family: int | None = None,
                testable: list[bool] | None = None) -> tuple[list[float], list[bool]]:
    """Holm's step-down: each test's level and whether it is rejected. `family`: the number of hypotheses the
    run set out to test, when some were not run; they count as failed (p = 1, ranked last)."""
    testable = testable or [True] * len(p_values)
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    m = max(len(p_values), family or 0)
    levels, rejected = [alpha] * len(p_values), [False] * len(p_values)
    still = True
    for rank, i in enumerate(order):
        levels[i] = alpha / (m - rank)
        rejected[i] = still and testable[i] and p_values[i] <= levels[i]
        still = rejected[i]
    return levels, rejected


def compare_method(method: str, correct: dict[str, np.ndarray], classes: int, probe: str = "linear_probe",
                   min_effect: float = MIN_EFFECT, reason: str = "") -> MethodTest:
    """The comparisons of one method. `correct[arm]` is (seeds, test images) of 0/1 for the primary probe;
    arm 'pretrained' against every other arm (`REFERENCE` with the minimum effect, the rest with margin 0) and
    against chance."""
    pre = np.asarray(correct["pretrained"], np.float64)
    chance = 100.0 / classes
    means = {arm: float(np.asarray(v, np.float64).mean() * 100) for arm, v in correct.items()}
    n_seeds = pre.shape[0]
    if n_seeds < MIN_SEEDS and not reason:
        reason = f"{n_seeds} seed(s): a verdict needs at least {MIN_SEEDS}"
    baselines = [(arm, np.asarray(correct[arm], np.float64)) for arm in
                 sorted(correct, key=lambda a: (a != REFERENCE, a)) if arm != "pretrained"]
    baselines.append(("chance", np.full_like(pre, 1.0 / classes)))
    comparisons = []
    for arm, base in baselines:
        margin = min_effect if arm == REFERENCE else 0.0
        mean, se, df, p = paired_test((pre - base) * 100, margin)
        comparisons.append(Comparison(arm, margin, float(mean), float(se), float(df), float(p),
                                      "handcrafted" if arm in HANDCRAFTED else "helped"))
    helped_p = max(c.p_value for c in comparisons if c.family == "helped")
    hand_p = [c.p_value for c in comparisons if c.family == "handcrafted"]
    return MethodTest(method, probe, n_seeds, chance, means, comparisons, 1.0 if reason else helped_p,
                      1.0 if reason or not hand_p else max(hand_p), reason)


def holm(tests: list[MethodTest], alpha: float = ALPHA, family: int | None = None) -> list[MethodTest]:
    """Holm's correction across methods, once for "helped" and once for "beats handcrafted features"; sets each
    test's levels, verdict and text (in place). `family`: see `holm_levels`."""
    testable = [not t.reason for t in tests]
    levels, helped = holm_levels([t.p_value for t in tests], alpha, family, testable)
    hand_levels, hand = holm_levels([t.p_handcrafted for t in tests], alpha, family, testable)
    for test, level, ok, hand_level, hand_ok in zip(tests, levels, helped, hand_levels, hand):
        test.level, test.level_handcrafted = level, hand_level
        test.verdict = "helped" if ok else "no verdict"
        test.beats_handcrafted = bool(hand_ok)
        test.text = _describe(test)
    return tests


def _describe(test: MethodTest) -> str:
    """One paragraph naming every comparison that passed and every one that failed."""
    ref = next(c for c in test.comparisons if c.baseline == REFERENCE)
    lo, hi = ref.interval(test.level)
    gain = (f"{ref.mean:+.1f} points over random init ({1 - 2 * test.level:.1%} interval {lo:+.1f} to {hi:+.1f}, "
            f"{test.seeds} seeds, {test.probe})")

    def listing(family: str, level: float) -> str:
        cs = [c for c in test.comparisons if c.family == family]
        ok = [f"{c.baseline} {c.mean:+.1f} (clears {c.margin:+.1f})" for c in cs if c.passed(level)]
        bad = [f"{c.baseline} {c.mean:+.1f} (does not clear {c.margin:+.1f} with confidence)" for c in cs
               if not c.passed(level)]
        return "; ".join(p for p in (f"passed: {', '.join(ok)}" if ok else "",
                                     f"failed: {', '.join(bad)}" if bad else "") if p)

    best = max(test.means, key=test.means.get)
    won = f"best arm: {best} ({test.means[best]:.1f} %, chance {test.chance:.1f} %)"
    if test.reason:
        return f"no verdict ({test.reason}); {gain}; {won}"
    head = "pretraining helped" if test.verdict == "helped" else "no verdict"
    hand = [c for c in test.comparisons if c.family == "handcrafted"]
    hand_text = ""
    if hand:
        hand_text = (f" Handcrafted features: {'beaten' if test.beats_handcrafted else 'not beaten'} "
                     f"({listing('handcrafted', test.level_handcrafted)}; level {test.level_handcrafted:.4f}).")
    return f"{head}: {gain}; {listing('helped', test.level)} (level {test.level:.4f}); {won}.{hand_text}"


def judge(per_method: dict[str, dict[str, np.ndarray]], classes: int, probe: str = "linear_probe",
          min_effect: float = MIN_EFFECT, alpha: float = ALPHA, reason: str = "",
          probes: dict[str, str] | None = None, family: int | None = None) -> dict[str, MethodTest]:
    """Test every method and apply Holm across them (and `family - len(per_method)` methods not run, see `holm`).
    `probes` names each method's primary probe (for the text)."""
    tests = [compare_method(name, correct, classes, (probes or {}).get(name, probe), min_effect, reason=reason)
             for name, correct in sorted(per_method.items())]
    holm(tests, alpha, family)
    return {t.method: t for t in tests}


def power(seeds: int, family: int, effect: float = PLANNING_EFFECT, seed_sd: float = PLANNING_SEED_SD,
          margin: float = MIN_EFFECT, alpha: float = ALPHA) -> float:
    """Power of the "helped" test against random init, alone at Holm's first step (level alpha / family), when
    the per-seed paired differences have sd `seed_sd` and df = seeds - 1 (noncentral t)."""
    if seeds < 2:
        return 0.0
    df = seeds - 1
    ncp = (effect - margin) * np.sqrt(seeds) / seed_sd
    return float(stats.nct.sf(stats.t.ppf(1 - alpha / max(family, 1), df), df, ncp))


def seeds_needed(family: int, alpha: float = ALPHA, effect: float = PLANNING_EFFECT,
                 seed_sd: float = PLANNING_SEED_SD, target: float = PLANNING_POWER, most: int = 64) -> int:
    """The fewest seeds (at least `MIN_SEEDS`) at which a method planned in a Holm family of `family` methods
    reaches `target` power for a true gain of `effect` points (see `power`); `most` if none up to it does."""
    for seeds in range(MIN_SEEDS, most + 1):
        if power(seeds, family, effect, seed_sd, alpha=alpha) >= target:
            return seeds
    return most


def describe_smoke(means: dict[str, float], chance: float) -> str:
    """What a plumbing run says instead of a verdict."""
    best = max(means, key=means.get)
    return (f"smoke run: checks the plumbing, no verdict (best arm {best} {means[best]:.1f} %, chance "
            f"{chance:.1f} %)")
