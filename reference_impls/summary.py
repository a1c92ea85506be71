"""The verification summary: written after every method (so a run stopped from outside keeps what it measured),
judged once at the end, or judged again from the saved per-image outcomes (`mimtax verify --judge-only`).

The Holm family is always every method the run was asked for: a method that was not run (the budget ran out,
or the run was stopped) counts as a comparison that failed, so a shorter run never earns an easier verdict.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reference_impls.evaluate import ARMS, PROBES
from reference_impls.pretext import pretext_text
from reference_impls.runner import comparison_lines, label_curve_lines
from reference_impls.verdict import judge
from taxonomy.errors import UserError
from taxonomy.fsutil import replacing_allowed, write_output_text

SUMMARY = "summary.json"


def write_progress(out: Path, summary: dict) -> None:
    """The rows so far, unjudged: what survives if the run is stopped before it can judge."""
    write_output_text(out / SUMMARY, json.dumps({**summary, "complete": False}, indent=1) + "\n", "verify")


def judge_rows(summary: dict, outcomes: dict[str, dict[str, np.ndarray]], classes: int, reason: str = "") -> None:
    """Verdicts for the rows that ran, Holm-corrected over every method planned (in place)."""
    rows = summary["methods"]
    tests = judge(outcomes, classes, reason=reason, probes={r["method"]: r["primary_probe"] for r in rows},
                  family=len(summary["planned"]))
    for row in rows:
        row["verdict"] = tests[row["method"]].as_dict()


def write_final(out: Path, summary: dict) -> None:
    write_output_text(out / SUMMARY, json.dumps({**summary, "complete": True}, indent=1) + "\n", "verify")
    write_output_text(out / "summary.md", summary_markdown(summary), "verify")


def judge_saved(out: str | Path) -> dict:
    """Judge a run again from its folder: the rows of summary.json and each method's outcomes.npz. For a run
    that was stopped before it could judge (a time limit, a lost machine), and to check a committed report."""
    out = Path(out)
    try:
        summary = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
        rows = summary["methods"]
        planned = summary.setdefault("planned", [r["method"] for r in rows])  # reports from before these keys
        summary.setdefault("not_run", [])
    except FileNotFoundError:
        raise UserError(f"{out / SUMMARY}: not found; --judge-only needs the folder of an earlier verify run") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{out / SUMMARY}: not a verify summary ({exc})") from None
    if not rows:
        raise UserError(f"{out / SUMMARY}: no method finished, so there is nothing to judge")
    outcomes = {}
    for row in rows:
        path = out / row["method"] / "outcomes.npz"
        try:
            with np.load(path) as saved:
                outcomes[row["method"]] = {arm: saved[f"{arm}.{row['primary_probe']}"] for arm in ARMS}
        except (OSError, KeyError, ValueError) as exc:
            raise UserError(f"{path}: cannot read the outcomes of {row['method']} ({exc})") from None
    stopped = [m for m in planned if m not in {r["method"] for r in rows} | {n["method"] for n in summary["not_run"]}]
    summary["not_run"] += [{"method": m, "reason": "the run was stopped before it finished this method"}
                           for m in stopped]
    reason = "dry run: checks the plumbing, never a verdict" if summary["scale"] == "dry run" else ""
    judge_rows(summary, outcomes, round(100 / summary["chance"]), reason)
    summary["judged_from_saved_outcomes"] = True
    with replacing_allowed(True):  # the summary of the run in this folder, just read and checked: rewritten
        write_final(out, summary)
    return summary


def _status_lines(summary: dict) -> list[str]:
    lines = []
    if summary.get("judged_from_saved_outcomes"):
        lines.append("Judged from the saved per-image outcomes after the run (`mimtax verify --judge-only`).")
    for item in summary["not_run"]:
        lines.append(f"Not run: {item['method']} ({item['reason']}); it counts in the Holm family as a failed "
                     "comparison.")
    return lines + [""] if lines else []


def summary_markdown(summary: dict) -> str:
    lines = [f"# Verification ({summary['scale']})", "",
             f"Device: {summary['device']}; torch {summary['software']['torch']}; date {summary['date']}; "
             f"wall {summary['wall_s'] / 60:.1f} min of a {summary['budget_minutes']:g}-minute budget.",
             f"Reproduce: `{summary['command']}`", "",
             *_status_lines(summary),
             f"Data: `{summary.get('data', {}).get('name', 'shapes')}`, "
             f"{summary.get('data', {}).get('labels_per_class', 10)} labels per class, {summary['test_images']} test images, chance "
             f"{summary['chance']:.1f} %. Model: ViT-{summary['model']['size']}/{summary['model']['patch']} at "
             f"{summary['model']['image_size']} px. Arms: pretrained, the same architecture randomly initialised, raw "
             "pixels, pooled HOG; each scored by the same probes. \"Helped\" needs >= 5 seeds and the primary probe's "
             "interval (paired by seed and test image; a t test on seeds - 1 df with the seed and image variance) "
             "above +2 points over random init and above raw pixels and chance; \"beats handcrafted features\" "
             "(HOG) is judged separately. Each is Holm-corrected across every method the run set out to judge (one "
             "not run counts as a failed comparison). Where the paper evaluates a "
             "teacher (iBOT, AttMask) or the target encoder (I-JEPA), that is the pretrained arm and the student is "
             "reported beside it.", "",
             "Supervised ceiling: the same ViT trained from scratch on "
             f"{summary['supervised_ceiling']['labels_per_class']} labels per class "
             f"({summary['supervised_ceiling']['steps']} steps) reaches "
             f"{summary['supervised_ceiling']['accuracy']:.1f} % on the same test split.", "",
             "| method | steps | images/s | utilisation | held-out loss | primary probe | pretrained | random init | "
             "pixels | HOG | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in summary["methods"]:
        arms = row["results"]["arms"]
        probe = row["primary_probe"]
        cells = [f"{arms[a][probe]['mean']:.1f} ± {arms[a][probe]['std']:.1f}" for a in
                 ("pretrained", "random_init", "pixels", "hog")]
        util = f"{100 * row['utilisation']:.1f} %" if row["utilisation"] is not None else "no peak known"
        before, after = row["heldout_loss_before"], row["heldout_loss_after"]
        lines.append(f"| {row['method']} | {row['steps']} | {row['images_per_s']:,.0f} | {util} | "
                     f"{sum(before) / len(before):.3f} → {sum(after) / len(after):.3f} | {probe} | "
                     + " | ".join(cells) + f" | {row['verdict']['verdict']}"
                     + (" (beats HOG)" if row["verdict"].get("beats_handcrafted") else "") + " |")
    for row in summary["methods"]:
        arms = row["results"]["arms"]
        lines += ["", f"## {row['method']}", "", row["verdict"]["text"], ""]
        if row.get("pretext"):
            lines += [pretext_text(row["pretext"]), ""]
        lines += comparison_lines(row["verdict"])
        if row.get("health"):
            lines += ["", "Target health at the end of pretraining, per seed (collapse shows as entropy at a limit, "
                      "or spread and effective rank falling): " + "; ".join(
                          ", ".join(f"{k} {v}" for k, v in h.items()) for h in row["health"]) + "."]
        lines += ["", "Secondary probes (reported, decide nothing): " + "; ".join(
            f"{p}: " + ", ".join(f"{a} {arms[a][p]['mean']:.1f}" for a in arms) for p in PROBES
            if p != row["primary_probe"]) + "."]
        per_class = summary.get("data", {}).get("labels_per_class", 10)
        lines += ["", *label_curve_lines(arms, row["primary_probe"], per_class)]
    return "\n".join(lines) + "\n"
