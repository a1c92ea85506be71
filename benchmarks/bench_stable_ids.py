"""How many cluster ids survive when papers are added and the tree is regenerated.

For several random draws, 10 papers are left out, the tree is built and written; then the full corpus is built
and written into the same folder, so its clusters take their ids from the first run. Printed per draw: the share
of earlier clusters whose id lives on, with the cuts chosen to keep clusters (the default) and, as the baseline,
with plain cuts at one height matched the same way. Target: >= 90 % (issue "Keep a taxonomy current").
Usage: python benchmarks/bench_stable_ids.py [--draws 8] [--added 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from taxonomy.corpus.folder import Corpus, load_corpus  # noqa: E402
from taxonomy.clustering.dendrogram import build_dendrogram  # noqa: E402
from taxonomy.render.export import change_summary, write_outputs  # noqa: E402
from taxonomy.clustering.stable_ids import assign_ids, kept_share, read_previous  # noqa: E402

ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"


def draw(corpus: Corpus, abstracts, seed: int, added: int) -> dict:
    drop = np.random.default_rng(seed).choice(len(corpus), added, replace=False)
    keep = np.setdiff1d(np.arange(len(corpus)), drop)
    smaller = Corpus(corpus.papers.iloc[keep].reset_index(drop=True), corpus.taxonomies, corpus.results, corpus.path)
    with tempfile.TemporaryDirectory() as folder:
        write_outputs(build_dendrogram(smaller, abstracts=abstracts, progress=False, permutations=2), folder,
                      pictures=False)
        previous = read_previous(Path(folder) / "clusters.csv")
        result = build_dendrogram(corpus, abstracts=abstracts, progress=False, permutations=2)
        plain = assign_ids(result.cuts, previous)[1]  # cuts at one height, matched the same way
        write_outputs(result, folder, pictures=False)
    per_k = change_summary(result).set_index("k")["ids_kept"].to_dict()
    return dict(seed=seed, tracked=round(kept_share(result.cluster_changes), 3), height_cut=round(kept_share(plain), 3),
                **{f"k{k}": v for k, v in per_k.items()})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--added", type=int, default=10)
    args = parser.parse_args()
    corpus = load_corpus()
    out = {"added": args.added, "target": 0.9, "conditions": {}}
    conditions = [("titles only", None)] + ([("title + dev abstract", ABSTRACTS)] if ABSTRACTS.exists() else [])
    for name, abstracts in conditions:
        frame = pd.DataFrame([draw(corpus, abstracts, seed, args.added) for seed in range(args.draws)])
        print(f"[{name}] share of cluster ids kept after adding {args.added} papers ({args.draws} draws):")
        print(frame.to_string(index=False))
        met = (frame["tracked"] >= 0.9).mean()
        print(f"mean {frame['tracked'].mean():.3f} (plain height cuts {frame['height_cut'].mean():.3f}, ratio "
              f"{frame['tracked'].mean() / frame['height_cut'].mean():.2f}); >= 0.90 in {met:.0%} of draws\n")
        out["conditions"][name] = dict(draws=frame.to_dict("records"), mean=round(float(frame["tracked"].mean()), 3),
                                       mean_height_cut=round(float(frame["height_cut"].mean()), 3),
                                       share_of_draws_meeting_target=round(float(met), 3))
    print(f"saved {save('stable-ids', out).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
