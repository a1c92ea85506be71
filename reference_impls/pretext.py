"""Did a method learn its own pretext task? Held-out pretext loss beside the best trivial predictor.

Every method describes its held-out loss as one or more `Term`s: the prediction, the target and the weight
of every position (masked patches; target blocks; the class token), in the method's own loss. Here the same
loss is computed for the model and for trivial predictors that look at no image, on the same held-out images
and the same masks (the global random generator is seeded for the measurement and restored after it):

- `constant`: one target for every position (the mean target for squared losses, the mean and the median for
  L1 / smooth-L1, the target marginal for cross-entropy: the token frequencies for BEiT, the mean teacher
  distribution for iBOT / AttMask);
- `per_position`: one target per patch position (the same statistics, per position);
- `image_mean` (regression targets): each image's mean target over the positions the model can see.

The constants are fitted on the held-out images themselves (in-sample), and the best candidate is chosen on
them too: both favour the trivial predictor, so the check is conservative. The loss is the ratio estimator
sum(weight x loss) / sum(weight) over the images (as in training, patches weigh equally), with a bootstrap
over held-out images for the interval; the model passes when the lower end of the interval of its relative
gain over the trivial predictor, 1 - model / trivial, clears the margin declared below before any run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# Declared before the acceptance run (benchmarks/bench_pretext.py) and not changed after it: after
# pretraining, the 95 % bootstrap interval of 1 - loss / trivial loss must lie above 5 %.
MARGIN = 0.05
CONFIDENCE = 0.95
BOOTSTRAP = 2000
KINDS = ("mse", "l1", "smooth_l1", "ce_index", "ce_soft")


@dataclass
class Term:
    """One part of a method's held-out loss. `prediction` (B, n, D) (logits for `ce_index`, log-probabilities
    for `ce_soft`); `target` (B, n, D), or (B, n) token indices for `ce_index`; `weight` (B, n) 0/1, the
    positions the loss counts; `positions` (B, n) the patch index of each slot (for the per-position
    predictor); `visible_mean` (B, D): each image's mean target over what the model sees, where it makes sense."""

    name: str
    kind: str
    prediction: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor
    positions: torch.Tensor
    visible_mean: torch.Tensor | None = None
    beta: float = 1.0  # smooth-L1

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"term '{self.name}': kind must be one of {KINDS}, got '{self.kind}'")


def grid_positions(batch: int, n: int, device) -> torch.Tensor:
    return torch.arange(n, device=device).expand(batch, n)


def elementwise(kind: str, prediction: torch.Tensor, target: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Loss per slot (B, n) between a prediction and the target, as the method computes it."""
    if kind == "mse":
        return ((prediction - target) ** 2).mean(-1)
    if kind == "l1":
        return (prediction - target).abs().mean(-1)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(prediction, target.expand_as(prediction), beta=beta, reduction="none").mean(-1)
    if kind == "ce_index":
        return -torch.gather(F.log_softmax(prediction, -1), -1, target[..., None])[..., 0]
    return -(target * prediction).sum(-1)  # ce_soft: prediction holds log-probabilities


def _fits(term: Term) -> list[tuple[str, torch.Tensor]]:
    """Statistics of the trivial predictors: (candidate name, prediction broadcastable to the target)."""
    w = term.weight.float()
    flat_w = w.reshape(-1)
    pos = term.positions.reshape(-1)
    slots = pos.max().item() + 1
    if term.kind == "ce_index":
        tokens = term.target.reshape(-1)
        k = term.prediction.shape[-1]
        counts = torch.zeros(k, device=w.device).index_add_(0, tokens, flat_w) + 1e-3
        per = torch.zeros(slots, k, device=w.device).index_put_((pos, tokens), flat_w, accumulate=True) + 1e-3
        # as logits: log-frequencies (the softmax recovers the frequencies)
        return [("constant", counts.log()), ("per_position", per.log()[term.positions])]
    d = term.target.shape[-1]
    target = term.target.float().reshape(-1, d)
    total = flat_w.sum().clamp_min(1)
    mean = (target * flat_w[:, None]).sum(0) / total
    per_sum = torch.zeros(slots, d, device=w.device).index_add_(0, pos, target * flat_w[:, None])
    per_count = torch.zeros(slots, device=w.device).index_add_(0, pos, flat_w).clamp_min(1)
    per_mean = per_sum / per_count[:, None]
    if term.kind == "ce_soft":  # the best constant distribution is the mean target distribution
        return [("constant", mean.clamp_min(1e-12).log()),
                ("per_position", per_mean.clamp_min(1e-12).log()[term.positions])]
    out = [("constant", mean), ("per_position", per_mean[term.positions])]
    if term.kind in ("l1", "smooth_l1"):
        counted = target[flat_w > 0]
        out.append(("constant_median", counted.median(0).values if len(counted) else mean))
    if term.visible_mean is not None:
        out.append(("image_mean", term.visible_mean.float()[:, None, :]))
    return out


def per_image(term: Term, prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of weighted losses, sum of weights) per image."""
    if term.kind == "ce_index":
        prediction = prediction.expand(*term.target.shape, prediction.shape[-1])
    else:
        prediction = prediction.expand_as(term.target)
    loss = elementwise(term.kind, prediction.float(), term.target.float() if term.kind != "ce_index" else term.target,
                       term.beta)
    w = term.weight.float()
    return (loss * w).sum(1), w.sum(1)


def _concat(parts: list[Term]) -> Term:
    first = parts[0]
    cat = lambda attr: torch.cat([getattr(p, attr) for p in parts])  # noqa: E731
    return Term(first.name, first.kind, cat("prediction"), cat("target"), cat("weight"), cat("positions"),
                cat("visible_mean") if first.visible_mean is not None else None, first.beta)


def ratio_loss(m: dict, key: str, idx=slice(None)) -> float:
    """Held-out loss of `key` ('model' or 'trivial'): each term's weighted mean over its positions (its
    per-image sums over its weights), added over terms, as the method's training loss adds them."""
    return float(sum(m[f"{key}:{name}"][idx].sum() / max(m["weights"][name][idx].sum(), 1e-12)
                     for name in m["weights"]))


def pretext_check(method, images: torch.Tensor, before: dict | None = None, seed: int = 1234,
                  margin: float = MARGIN, bootstrap: int = BOOTSTRAP) -> dict:
    """Measure the method now ("after") on `images` and judge it against its best trivial predictor.

    `before`: the `measure` of the same method on the same images before pretraining (at init), reported
    beside it. Returns plain numbers: losses, the trivial candidate chosen per term, the bootstrap interval
    of the relative gain, the declared margin, `passed`, and the collapse monitors of methods with a teacher."""
    after = measure(method, images, seed)
    rng = np.random.default_rng(seed)
    n = len(images)
    gains, befores = [], []
    for _ in range(bootstrap):
        idx = rng.integers(0, n, n)
        model, trivial = ratio_loss(after, "model", idx), ratio_loss(after, "trivial", idx)
        gains.append(1 - model / trivial)
    alpha = (1 - CONFIDENCE) / 2
    lo, hi = np.quantile(gains, [alpha, 1 - alpha])
    model, trivial = ratio_loss(after, "model"), ratio_loss(after, "trivial")
    out = {"after": model, "trivial": trivial, "trivial_choice": after["trivial_choice"],
           "relative_gain": 1 - model / trivial, "gain_interval": [float(lo), float(hi)],
           "confidence": CONFIDENCE, "margin": margin, "passed": bool(lo >= margin), "images": n}
    if before is not None:
        out["before"] = ratio_loss(before, "model")
        out["before_trivial"] = ratio_loss(before, "trivial")
        for _ in range(min(bootstrap, 500)):
            idx = rng.integers(0, n, n)
            befores.append(ratio_loss(before, "model", idx) - ratio_loss(after, "model", idx))
        out["drop_interval"] = [float(x) for x in np.quantile(befores, [alpha, 1 - alpha])]
    health = method.health(images[:256])
    if health:
        from reference_impls.monitors import summarise

        out["health"] = summarise(health)
    return out


@torch.no_grad()
def measure(method, images: torch.Tensor, seed: int = 1234, batch: int = 128) -> dict:
    """Per-image loss sums of the model and of the best trivial candidate, per term (`model:<term>`,
    `trivial:<term>`) with each term's per-image weights, on `images` with masks (and views) drawn from `seed`:
    the same masks whenever the method is measured again on the same images (at init, after pretraining)."""
    was_training = method.training
    method.eval()
    state = torch.random.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    torch.manual_seed(seed)
    terms: dict[str, list[Term]] = {}
    try:
        for start in range(0, len(images), batch):
            for term in method.pretext_terms(images[start:start + batch]):
                terms.setdefault(term.name, []).append(term)
    finally:
        torch.random.set_rng_state(state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)
        method.train(was_training)
    out: dict = {"weights": {}, "trivial_choice": {}}
    for name, parts in terms.items():
        term = _concat(parts)
        s, w = per_image(term, term.prediction)
        out[f"model:{name}"] = s.cpu().double().numpy()
        out["weights"][name] = w.cpu().double().numpy()
        best = None
        for candidate, prediction in _fits(term):
            cs, _ = per_image(term, prediction)
            value = float(cs.sum() / w.sum().clamp_min(1))
            if best is None or value < best[0]:
                best = (value, candidate, cs.cpu().double().numpy())
        out["trivial_choice"][name] = best[1]
        out[f"trivial:{name}"] = best[2]
    return out


def pretext_text(checks: list[dict]) -> str:
    """One Markdown sentence for a report: per seed, the held-out pretext loss at init and after pretraining,
    the best trivial predictor's, the interval of the relative gain and whether it clears the margin."""
    if not checks:
        return ""
    parts = []
    for seed, c in enumerate(checks):
        lo, hi = c["gain_interval"]
        before = f"{c['before']:.4f} → " if "before" in c else ""
        collapsed = " (teacher collapsed)" if c.get("health", {}).get("collapsed") else ""
        parts.append(f"seed {seed}: {before}{c['after']:.4f} vs trivial {c['trivial']:.4f} "
                     f"({'/'.join(sorted(set(c['trivial_choice'].values())))}), gain {c['relative_gain']:+.1%} "
                     f"[{lo:+.1%}, {hi:+.1%}] {'passes' if c['passed'] else 'FAILS'}{collapsed}")
    verdict = "yes" if all(c["passed"] for c in checks) else "NO"
    return (f"Learned its task: **{verdict}** (held-out pretext loss at init → after, against the best trivial "
            f"predictor on the same images and masks; {checks[0]['confidence']:.0%} interval of 1 − after / trivial "
            f"must clear {checks[0]['margin']:.0%}): " + "; ".join(parts) + ".")
