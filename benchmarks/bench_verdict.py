"""The verdict's familywise error and power by simulation (the verdict's own functions; model in
`reference_impls/verdict_sim.py`).

For each number of seeds and per-seed sd of the paired difference (training noise, points):
- familywise: share of simulated runs of `--methods` methods, every true gain exactly at the +2 margin (the least
  favourable null), in which Holm calls any method "helped" (must stay <= 5 %), with a 95 % Clopper-Pearson
  interval;
- power: share of methods called "helped" when every true gain is +5 points, in the same family.

    python benchmarks/bench_verdict.py            # about 4 minutes on the 2-core VM
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import save  # noqa: E402

from reference_impls.verdict import MIN_SEEDS, seeds_needed  # noqa: E402
from reference_impls.verdict_sim import rejection_rates  # noqa: E402


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--methods", type=int, default=8)
    args = parser.parse_args()
    rows, start = [], time.perf_counter()
    seed_counts = sorted({MIN_SEEDS, seeds_needed(2), seeds_needed(args.methods)})
    for seeds in seed_counts:
        for sd in (0.0, 1.0, 2.0, 4.0, 8.0):
            null = rejection_rates(np.random.default_rng(1000 + seeds * 10 + int(sd)), reps=args.reps,
                                   methods=args.methods, seeds=seeds, gain=2.0, seed_sd=sd)
            alt = rejection_rates(np.random.default_rng(2000 + seeds * 10 + int(sd)), reps=args.reps // 4,
                                  methods=args.methods, seeds=seeds, gain=5.0, seed_sd=sd)
            k = round(null["familywise"] * args.reps)
            rows.append({"seeds": seeds, "seed_sd": sd, "familywise": null["familywise"],
                         "familywise_interval": clopper_pearson(k, args.reps), "power_at_5": alt["per_method"],
                         "reps_null": args.reps, "reps_power": args.reps // 4})
            print(f"seeds {seeds:2d} sd {sd:3.0f}: familywise {null['familywise']:.3f} "
                  f"[{rows[-1]['familywise_interval'][0]:.3f}, {rows[-1]['familywise_interval'][1]:.3f}], "
                  f"power at +5 {alt['per_method']:.3f}", flush=True)
    save("verdict-errors", {"methods": args.methods, "images": 1000, "margin": 2.0, "alpha": 0.05,
                            "seeds_needed": {str(m): seeds_needed(m) for m in (1, 2, 4, 8)}, "rows": rows,
                            "wall_s": round(time.perf_counter() - start, 1)})


if __name__ == "__main__":
    main()
