"""Wall time of `mimtax dendrogram` on the shipped corpus, cold and warm cache, pictures included.

Baseline, measured in the same run: survey B's recipe (`--embedding tfidf`, Ward) through the same command.
Each run is a fresh process, as a user would start it. Usage: python benchmarks/bench_regenerate.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"


def timed(args: list[str], cache: Path, out: Path) -> float:
    env = dict(os.environ, MIMTAX_CACHE=str(cache), HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "taxonomy", "dendrogram", "--out", str(out), *args], check=True,
                   capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    variants = {"titles": []}
    if ABSTRACTS.exists():
        variants["with_abstracts"] = ["--abstracts", str(ABSTRACTS)]
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, extra in variants.items():
            cache = tmp / f"cache-{name}"
            cold = timed(extra, cache, tmp / "out")
            warm = [timed(extra, cache, tmp / "out") for _ in range(args.repeat)]
            base = [timed([*extra, "--embedding", "tfidf"], cache, tmp / "out") for _ in range(args.repeat)]
            figures[name] = {"cold_s": round(cold, 2), "warm_s": round(statistics.median(warm), 2),
                             "survey_recipe_s": round(statistics.median(base), 2),
                             "warm_vs_recipe": round(statistics.median(warm) / statistics.median(base), 2),
                             "target_warm_s": 3.0}
            f = figures[name]
            print(f"{name:15s} cold {f['cold_s']:6.2f} s   warm {f['warm_s']:6.2f} s (median of {args.repeat})   "
                  f"survey recipe {f['survey_recipe_s']:6.2f} s   warm/recipe {f['warm_vs_recipe']:.2f}x   "
                  f"warm/target {f['warm_s'] / 3.0:.2f}x")
    print("wrote", save("regenerate", figures))


if __name__ == "__main__":
    main()
