"""Leave-one-out placement accuracy (top-1 / top-3) at each taxonomy level: the default (k-NN vote times
node-description affinity, also with its parameters refitted without each held-out paper), the vote alone,
a TF-IDF k-NN and the majority class; and the calibration of the scores. Text: title + dev abstract where available.
Usage: python benchmarks/bench_placement.py [--no-abstracts]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from taxonomy.corpus.folder import load_corpus  # noqa: E402
from taxonomy.explore.place import Placer, audit, calibration, evaluate_placement  # noqa: E402

ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-abstracts", action="store_true")
    args = parser.parse_args()
    abstracts = None if args.no_abstracts or not ABSTRACTS.exists() else ABSTRACTS
    corpus = load_corpus()
    placer = Placer().fit(corpus, abstracts, progress=False)
    table = evaluate_placement(corpus, placer=placer)
    params = {name: vars(p) for name, p in placer.params_.items()}
    print(f"text: titles{' + dev abstracts' if abstracts else ' only'}; k = {placer.k}; fitted parameters:")
    for key, p in params.items():
        print(f"  {key}: {p}")
    print(table.to_string(index=False))
    cal = {name: calibration(placer, name) for name in corpus.taxonomies}
    for name, frame in cal.items():
        print(f"calibration of the top-1 score, {name} leaf level:")
        print(frame.to_string(index=False))
    flagged = audit(corpus, "awesome-mim", placer=placer)
    print(f"audit: {len(flagged)} survey-A papers placed elsewhere with score >= 0.7")
    suffix = "" if abstracts else "-titles"
    print("wrote", save(f"placement{suffix}", {
        "abstracts": str(abstracts) if abstracts else None, "k": placer.k, "parameters": params, "table": table.to_dict(orient="records"),
        "calibration": {k: v.to_dict(orient="records") for k, v in cal.items()}, "audit_flagged": len(flagged),
        "targets": {"awesome-mim subsection": {"top1": 0.65, "top3": 0.85}}}))


if __name__ == "__main__":
    main()
