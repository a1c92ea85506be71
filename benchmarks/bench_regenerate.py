"""Wall time of `mimtax dendrogram` on the shipped corpus, cold and warm cache, pictures included.

Targets: warm <= 2 s, cold with the dev abstracts <= 90 s (a cold run embeds every title, abstract and
title + abstract, and loads the model once).

Baseline, measured in the same run: survey B's recipe (`--embedding tfidf`, Ward) through the same command.
Each run is a fresh process, as a user would start it. "One paper added": the titles corpus plus one new paper
per run, so one text is embedded (the model is loaded) and the corpus-level features are recomputed. Usage: python benchmarks/bench_regenerate.py [--repeat 3]
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
TARGET_WARM_S = 2.0  # issue #18: warm regenerate <= 2 s, cold with the dev abstracts <= 90 s
TARGET_COLD_S = 90.0


def timed(args: list[str], cache: Path, out: Path) -> float:
    env = dict(os.environ, MIMTAX_CACHE=str(cache), HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "taxonomy", "dendrogram", "--out", str(out), *args], check=True,
                   capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def corpus_with_new_paper(folder: Path, i: int) -> Path:
    """A copy of the shipped corpus with one paper no earlier run has seen."""
    import csv
    import shutil

    shutil.copytree(ROOT / "data", folder, ignore=shutil.ignore_patterns("scripts"))
    with (folder / "papers.csv").open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    row = {col: "" for col in header}
    row.update(id=f"bench-new-{i}", title=f"Benchmark paper {i}: masked modelling of new images",
               awesome_mim="fundamental/transformers", source="benchmark")
    with (folder / "papers.csv").open("a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, header).writerow(row)
    return folder


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
                             "target_warm_s": TARGET_WARM_S, "target_cold_s": TARGET_COLD_S}
            if name == "titles":  # papers are added: one new text to embed, corpus-level features recomputed
                added = [timed(["--corpus", str(corpus_with_new_paper(tmp / f"corpus-{i}", i))], cache, tmp / "out")
                         for i in range(args.repeat)]
                figures[name]["one_paper_added_s"] = round(statistics.median(added), 2)
            f = figures[name]
            print(f"{name:15s} cold {f['cold_s']:6.2f} s   warm {f['warm_s']:6.2f} s (median of {args.repeat})   "
                  f"survey recipe {f['survey_recipe_s']:6.2f} s   warm/recipe {f['warm_vs_recipe']:.2f}x   "
                  f"warm/target {f['warm_s'] / TARGET_WARM_S:.2f}x   cold/target {f['cold_s'] / TARGET_COLD_S:.2f}x"
                  + (f"   one paper added {f['one_paper_added_s']:6.2f} s" if "one_paper_added_s" in f else ""))
    print("wrote", save("regenerate", figures))


if __name__ == "__main__":
    main()
