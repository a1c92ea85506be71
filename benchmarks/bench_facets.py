"""How often the inferred facets are right, and whether `in_scope` agrees with hand labels.

Per facet (target, masking, backbone against the crosswalk's curated values; modality against the modalities survey
A's headings imply): accuracy where the rules answer, its 95 % Wilson interval, coverage (share answered) and n,
by leave-one-out cross-validation (each paper is inferred with the cues chosen on the others). Twice: on titles
only, and on titles with the dev abstracts (`/work/shared/corpus/abstracts-dev.jsonl` by default, read by path;
skipped when absent). Beside it, the old behaviour for comparison: every cue answers and, where none fires, the
value most other curated papers have (a default refitted without the paper scored).

Out of sample, by hand (benchmarks/data/facet_checks.csv, title and abstract read by the lead, 2026-12-06): every value
the title rules inferred (at their 0.85 bar) on papers with no curated value, before the cue-word fixes of that day
(`titles-all`), and 30 values drawn at random (seed 20261206) from those that the dev abstracts add or change when
the rules read title and abstract as one text (`abstracts-random`). Each is right, wrong or unsure; the figures give
the share right with unsure counted wrong and counted right, and which of the rows today's title rules still give.

`in_scope` is scored against benchmarks/data/scope_labels.csv: hand labels (title and abstract read by H4,
2026-12-06) of every paper the rule put outside masked modelling (drawn = flagged: with titles only, or with the
abstracts in an earlier version of the rule) and of 40 papers drawn at random (seed 20261206) from the ones it put
inside that have no curated facet (drawn = random).

Usage: python benchmarks/bench_facets.py [--abstracts PATH] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from taxonomy.corpus import facets as F  # noqa: E402
from taxonomy.corpus.folder import load_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEV_ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"
LABELS = Path(__file__).resolve().parent / "data" / "scope_labels.csv"
CHECKS = Path(__file__).resolve().parent / "data" / "facet_checks.csv"


def scope_labels(path: Path = LABELS) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [dict(row, in_scope=row["in_scope"] == "True") for row in csv.DictReader(fh)]


def facet_figures(corpus, abstracts=None) -> dict:
    """Per facet: the leave-one-out figures of `taxonomy.corpus.facets.evaluate`."""
    texts = F._texts(corpus, abstracts)
    table = F.evaluate(corpus, texts=texts)
    return {row["facet"]: {k: row[k] for k in ("accuracy", "low", "high", "coverage", "n", "answered", "correct")}
            for row in table.to_dict(orient="records")}


def default_rules_figures(corpus, abstracts=None) -> dict:
    """The rules before abstaining: every cue answers, else the most common value among the other curated papers."""
    texts = F._texts(corpus, abstracts)
    out = {}
    for facet in F.FACETS:
        truths = F.truth_values(corpus, facet)
        known = [i for i, t in enumerate(truths) if t]
        right = 0
        for i in known:
            guess = F.answer(facet, F.fired_cues(facet, texts[i]))
            if guess == F.UNKNOWN:
                guess = Counter(truths[j] for j in known if j != i).most_common(1)[0][0]
            right += F.is_right(guess, truths[i])
        low, high = F.wilson(right, len(known))
        out[facet] = {"accuracy": round(right / len(known), 3), "low": low, "high": high, "coverage": 1.0,
                      "n": len(known)}
    return out


def hand_checked_figures(corpus, path: Path = CHECKS) -> dict:
    """Per drawn group of hand-checked inferred values: how many right / wrong / unsure, the share right with unsure
    counted wrong (and its Wilson interval) and counted right; and of the rows, those today's rules (title only,
    queries' 0.85 bar) still give with the same value, with their verdicts."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    facets = F.compute_facets(corpus)
    given = facets[F.is_confident(facets) & (facets["provenance"] == "inferred") & (facets["rule"] == "cue")]
    today = {(r.id, r.facet): r.value for r in given.itertuples()}
    out = {}
    for drawn in dict.fromkeys(r["drawn"] for r in rows):
        group = [r for r in rows if r["drawn"] == drawn]
        for name, subset in (("checked", group), ("still_given", [r for r in group
                                                                  if today.get((r["id"], r["facet"])) == r["value"]])):
            counts = Counter(r["verdict"] for r in subset)
            n = len(subset)
            low, high = F.wilson(counts["right"], n)
            out.setdefault(drawn, {})[name] = {
                "n": n, "right": counts["right"], "wrong": counts["wrong"], "unsure": counts["unsure"],
                "share_right": round(counts["right"] / n, 3) if n else None, "low": low, "high": high,
                "share_right_if_unsure_right": round((counts["right"] + counts["unsure"]) / n, 3) if n else None,
                "by_facet": {f: dict(Counter(r["verdict"] for r in subset if r["facet"] == f))
                             for f in F.FACETS if any(r["facet"] == f for r in subset)}}
    out["titles_given_today"] = len(today)
    return out


def scope_figures(corpus, labels: list[dict]) -> dict:
    """'out': of the labelled papers the rule puts outside, the share the labels agree with; 'in': the same on the
    random sample of papers it puts inside."""
    table = {}
    for drawn, says in (("flagged", "out"), ("random", "in")):
        subset = {row["id"]: row["in_scope"] for row in labels if row["drawn"] == drawn}
        row = F.evaluate_scope(corpus, subset).set_index("rule_says").loc[says]
        table[says] = {"labelled": int(row["labelled"]), "agree": int(row["agree"]), "precision": row["precision"],
                       "low": row["low"], "high": row["high"], "disagree": list(row["disagree"])}
    scoped = F.compute_scope(corpus)
    table["papers_outside"] = sum(v is False for v in scoped["in_scope"])
    table["papers_without_evidence"] = sum(v is None for v in scoped["in_scope"])
    table["papers"] = len(scoped)
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--abstracts", type=Path, default=DEV_ABSTRACTS)
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    corpus = load_corpus(args.corpus)
    papers_csv = Path(corpus.path) / "papers.csv"
    payload = {"papers_csv_sha256": hashlib.sha256(papers_csv.read_bytes()).hexdigest(),
               "min_precision": F.MIN_PRECISION, "min_support": F.MIN_SUPPORT,
               "titles": facet_figures(corpus), "titles_default_rules": default_rules_figures(corpus)}
    if args.abstracts.is_file():
        payload["abstracts"] = facet_figures(corpus, args.abstracts)
        payload["abstracts_default_rules"] = default_rules_figures(corpus, args.abstracts)
        payload["abstracts_file"] = args.abstracts.name
    else:
        print(f"{args.abstracts}: not found; the with-abstracts figures are left out")
    payload["in_scope"] = scope_figures(corpus, scope_labels())
    payload["hand_checked"] = hand_checked_figures(corpus)
    for mode in ("titles", "abstracts"):
        for facet, row in payload.get(mode, {}).items():
            base = payload[f"{mode}_default_rules"][facet]
            accuracy = "-" if row["accuracy"] is None else \
                f"{row['accuracy']:.3f} [{row['low']:.2f}, {row['high']:.2f}]"
            print(f"{mode:9s} {facet:8s} accuracy {accuracy:20s} coverage {row['coverage']:.3f} "
                  f"({row['answered']}/{row['n']}); default rules {base['accuracy']:.3f} on all {base['n']}")
    for says in ("out", "in"):
        s = payload["in_scope"][says]
        print(f"in_scope rule says {says}: labels agree {s['agree']}/{s['labelled']} = {s['precision']:.3f} "
              f"[{s['low']:.2f}, {s['high']:.2f}]; disagree: {', '.join(s['disagree'])}")
    for drawn, figures in payload["hand_checked"].items():
        if isinstance(figures, dict):
            for name, row in figures.items():
                print(f"by hand, {drawn} ({name}): {row['right']} right, {row['wrong']} wrong, {row['unsure']} "
                      f"unsure of {row['n']}: {row['share_right']} [{row['low']}, {row['high']}] "
                      f"({row['share_right_if_unsure_right']} counting unsure as right)")
    print("wrote", save("facets", payload))


if __name__ == "__main__":
    main()
