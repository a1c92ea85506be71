"""One GPU visit through the Python API (never the CLI): measure, print the plan, run it, save as it goes.

The visit's stages, in one process so that each method's model (and its compiled step) is built once and
reused by every stage and seed (`reference_impls.verify.method_model`):
1. measure: every method's step cost at GPU scale (eager; compiled too for the methods of the helped stage,
   which pays their compilation once), one encoder's evaluation on one seed, pixels + HOG on one seed;
2. plan: what fits the budget from those measured costs, printed and saved before anything else runs;
3. throughput of MAE ViT-T/4 at 32 px: the compiled model of stage 1, not compiled again;
4. learned: every method pretrained on one seed, its held-out pretext loss before and after beside its best
   trivial predictor (`reference_impls.pretext`);
5. helped: `verify` of MAE and one teacher method at the seeds the corrected test needs
   (`reference_impls.verdict.seeds_needed`), with what is left of the budget but the time kept for 6;
6. throughput rows that need a compilation of their own, planned only where they fit: MAE's encode-all twin at
   32 px and MAE ViT-S/16 at 224 px (data rendered on the device), against the chip's bf16 peak.
`visit.json` is rewritten (temp file + rename) after every row, so a visit killed mid-way keeps what it
finished; `verification/` holds verify's own summary. Usage (the runbook: docs/gpu-visit.md):
  python benchmarks/gpu_visit.py OUTDIR --device cuda --budget-s 480
  python benchmarks/gpu_visit.py OUTDIR --device cpu --dry-run       # the rehearsal (seconds, tiny sizes)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import CONFIGS, matmul_tflops, measure  # noqa: E402

from reference_impls import METHODS, build_method, method_info  # noqa: E402
from reference_impls.flops import peak_tflops  # noqa: E402
from reference_impls.runner import device_name, encoder_arms, evaluate_seed, fixed_arms, software  # noqa: E402
from reference_impls.train import pretrain  # noqa: E402
from reference_impls.verify import (SCALES, method_model, reinitialise, render_seeds, seconds_per_step,  # noqa: E402
                                    train_config, verify)
from taxonomy.fsutil import write_text_atomic  # noqa: E402

HELPED = ("mae", "data2vec")  # MAE and one teacher method (an EMA teacher, evaluated as its paper does)
LEARNED_SHARE = 0.35  # of the time left after the throughput rows: the pretext check of every method
MAX_LEARNED_STEPS = 2000
MEASURE_SHARE = 0.5  # measuring stops once less than this share of the budget is left


def seeds_for(family: int) -> int:
    """The fewest seeds for which the corrected test can reach significance over `family` methods."""
    from reference_impls import verdict

    needed = getattr(verdict, "seeds_needed", None)
    return needed(family) if needed else 8


class Visit:
    """The visit's record: rewritten whole (temp file + rename) after every row."""

    def __init__(self, out: Path, budget_s: float, **facts):
        self.out, self.budget, self.started = out, budget_s, time.perf_counter()
        self.record = {"started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "budget_s": budget_s,
                       **facts, "measured": {}, "plan": None, "throughput": [], "learned": [], "helped": None,
                       "not_run": [], "complete": False, "wall_s": 0.0}

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return self.budget - self.elapsed()

    def save(self) -> None:
        self.record["wall_s"] = round(self.elapsed(), 2)
        write_text_atomic(self.out / "visit.json", json.dumps(self.record, indent=1) + "\n")

    def attempt(self, stage: str, item: str, work) -> None:
        """Run one row; a row that fails (out of memory, a kernel missing on this chip) is recorded with its
        error and the visit goes on to the next: there is one visit, and the other rows are worth having."""
        try:
            work()
        except Exception as exc:  # noqa: BLE001
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            self.record["not_run"].append({"stage": stage, "item": item, "reason": "failed",
                                           "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
            say(f"{stage} {item}: FAILED ({type(exc).__name__}: {str(exc)[:200]})")
            self.save()

    def skip(self, stage: str, item: str, needed: float) -> None:
        self.record["not_run"].append({"stage": stage, "item": item, "needed_s": round(needed, 1),
                                       "left_s": round(self.left(), 1), "reason": "the budget left is less"})
        say(f"{stage} {item}: not run ({needed:.0f} s needed, {self.left():.0f} s left)")
        self.save()


def say(text: str) -> None:
    print(text, flush=True)


def measure_costs(visit: Visit, methods: list[str], helped: list[str], data: dict, scale, device: str) -> dict:
    """Stage 1: each method's eager step (and compiled step, for the methods that compile), one encoder's
    evaluation on one seed, pixels + HOG on one seed, all measured now on this device. Measuring stops once
    half the budget is gone (a compilation far slower than expected): the methods not measured are not run."""
    first = data[0]
    costs = {}
    eager = replace(scale, compile=False)
    for name in methods:
        if visit.left() < MEASURE_SHARE * visit.budget:
            visit.skip("measure", name, 0.0)
            continue
        model = method_model(name, first, scale, device)
        per_step, flops, measuring, overhead = seconds_per_step(model, name, first, eager, device)
        row = {"eager_step_s": per_step, "eager_measuring_s": measuring, "flops_per_step": flops,
               "compiled": name in helped and scale.compile and device != "cpu"}
        if row["compiled"]:  # compiles the model's step once; every later use of this object reuses it
            per_step_c, _, measuring_c, _ = seconds_per_step(model, name, first, scale, device)
            row.update(compiled_step_s=per_step_c, compile_s=max(0.0, measuring_c - measuring))
        row["step_s"] = row.get("compiled_step_s", per_step)
        # what one pretraining run pays besides its steps (held-out losses, a tokenizer, monitors), as measured
        row["overhead_s"] = overhead
        costs[name] = row
        visit.record["measured"][name] = row
        say(f"measured {name}: {per_step * 1e3:.1f} ms a step eager"
            + (f", {row['compiled_step_s'] * 1e3:.1f} ms compiled (compiling took {row['compile_s']:.0f} s)"
               if row["compiled"] else ""))
        visit.save()
    began = time.perf_counter()
    probe = build_method(methods[0], first.image_size, 4, first.channels, scale.size).to(device)
    fixed = fixed_arms(first, scale.eval, 0)
    fixed_s = time.perf_counter() - began
    began = time.perf_counter()
    evaluate_seed(probe, probe, first, scale.eval, 0, fixed)
    per_arm = (time.perf_counter() - began) / encoder_arms(probe)
    visit.record["measured"]["evaluation"] = {"per_encoder_arm_s": per_arm, "fixed_arms_per_seed_s": fixed_s}
    say(f"measured evaluation: {per_arm:.1f} s per encoder arm and seed, {fixed_s:.1f} s for pixels + HOG per seed")
    visit.save()
    return {"methods": costs, "per_arm_s": per_arm, "fixed_s": fixed_s}


def make_plan(visit: Visit, costs: dict, methods: list[str], helped: list[str], seeds: int, scale,
              throughput_rows: list[tuple]) -> dict:
    """Stage 2: the rows to run, each with its steps and its cost estimated from the measured costs.

    Everything is first costed at its least (learned and helped at the fewest steps); the throughput rows that
    need a compilation of their own are planned only if they fit beside that; what is left goes to more steps,
    `LEARNED_SHARE` of it to the learned stage and the rest to helped (verify sizes its own steps from it)."""
    m, per_arm = costs["methods"], costs["per_arm_s"]
    compile_s = max([m[n].get("compile_s", 0.0) for n in m] or [0.0])
    mae_step = m.get("mae", {}).get("step_s", 0.05)
    mae_eager = m.get("mae", {}).get("eager_step_s", mae_step)
    compiling = any(c["compiled"] for c in m.values())
    throughput = []
    for name, cfg_name, options, batch, steps in throughput_rows:
        reused = cfg_name == "vit-t/4@32" and not options and m.get("mae", {}).get("compiled", False)
        factor = 1 if cfg_name == "vit-t/4@32" else 8  # the 224 px step: estimated at 8x the 32 px one
        throughput.append({"stage": "throughput", "method": name, "config": cfg_name, **options, "batch": batch,
                           "steps": steps, "seeds": 1, "compile": compiling,
                           "estimate_s": (0.0 if reused else compile_s) + (steps + 7) * mae_step * factor,
                           "basis": "the compiled model of stage 1, reused" if reused else
                           f"its own compilation, estimated at the longest measured ({compile_s:.0f} s)"})
    first, twins = throughput[:1], throughput[1:]
    learned_cost = {n: lambda steps, c=m[n]: steps * c["step_s"] + 2 * c["overhead_s"] for n in methods}
    ceiling_s = scale.ceiling_steps * m[methods[0]]["eager_step_s"] * scale.eval.batch_size / scale.batch
    shared_s = seeds * costs["fixed_s"] + ceiling_s + encoder_arms_of(helped[0]) * per_arm
    helped_cost = {n: lambda steps, c=m[n], n=n: seeds * (steps * c["step_s"] + encoder_arms_of(n) * per_arm
                                                          + c["overhead_s"]) + 3 * c["overhead_s"]
                   for n in helped}
    least = (sum(r["estimate_s"] for r in first) + sum(f(scale.min_steps) for f in learned_cost.values())
             + shared_s + sum(f(scale.min_steps) for f in helped_cost.values()))
    left = visit.left()
    if compiling and least + sum(t["estimate_s"] for t in twins) > left:
        # their compilations do not fit: measured eager instead (labelled so), with MAE's eager 32 px row
        # beside them, so that the visible-only speed-up compares like with like
        eager = [{**first[0], "compile": False, "basis": "eager: the compilations did not fit"}, *twins]
        twins = [{**r, "compile": False, "estimate_s": (r["steps"] + 7) * mae_eager * (
            1 if r["config"] == "vit-t/4@32" else 8), "basis": "eager: the compilations did not fit"} for r in eager]
    planned_twins = [r for r in twins if least + sum(t["estimate_s"] for t in twins) <= left]
    dropped = [r for r in twins if r not in planned_twins]
    spare = max(0.0, left - least - sum(r["estimate_s"] for r in planned_twins))
    rows = list(first)
    for name in methods:
        extra = 0 if visit.record.get("dry_run") else int(LEARNED_SHARE * spare / len(methods) / m[name]["step_s"])
        steps = min(MAX_LEARNED_STEPS, scale.min_steps + extra)
        rows.append({"stage": "learned", "method": name, "steps": steps, "seeds": 1,
                     "seconds_per_step": m[name]["step_s"], "estimate_s": learned_cost[name](steps),
                     "basis": "compiled" if m[name]["compiled"] else "eager"})
    helped_budget = left - sum(r["estimate_s"] for r in rows) - sum(r["estimate_s"] for r in planned_twins)
    for name in helped:
        share = (helped_budget - shared_s) / len(helped)
        steps = scale.min_steps
        if not visit.record.get("dry_run"):
            steps = max(scale.min_steps, int((share - helped_cost[name](0)) / (seeds * m[name]["step_s"])))
        rows.append({"stage": "helped", "method": name, "steps": steps, "seeds": seeds,
                     "seconds_per_step": m[name]["step_s"],
                     "estimate_s": helped_cost[name](steps) + shared_s / len(helped),
                     "basis": f"evaluation {encoder_arms_of(name) * per_arm:.1f} s a seed; pixels, HOG and the "
                              f"supervised ceiling ({ceiling_s:.0f} s) shared; verify sizes its steps again"})
    rows += planned_twins
    total = sum(r["estimate_s"] for r in rows)
    plan = {"rows": rows, "not_planned": dropped, "total_s": total, "budget_left_s": left, "fits": total <= left,
            "helped_family": len(helped), "seeds": seeds, "least_s": least}
    visit.record["plan"] = plan
    for r in dropped:
        visit.record["not_run"].append({"stage": "throughput", "item": _item(r), "needed_s": round(r["estimate_s"], 1),
                                        "left_s": round(left - least, 1), "reason": "not planned: does not fit"})
    visit.save()
    say(f"plan ({left:.0f} s of the {visit.budget:.0f} s budget left after measuring), in the order it runs:")
    say(f"  {'stage':10s} {'method':9s} {'config':22s} {'seeds':>5s} {'steps':>6s} {'s/step':>8s} {'est. s':>7s}")
    for r in rows:
        per = f"{r['seconds_per_step']:.4f}" if "seconds_per_step" in r else "-"
        config = r.get("config", f"vit-{scale.size}/4@32") + (" all" if r.get("encode_all") else "") + (
            " eager" if r["stage"] == "throughput" and not r["compile"] and compiling else "")
        say(f"  {r['stage']:10s} {r['method']:9s} {config:22s} {r['seeds']:5d} {r['steps']:6d} {per:>8s} "
            f"{r['estimate_s']:7.1f}")
    for r in dropped:
        say(f"  not planned: throughput {_item(r)} ({r['estimate_s']:.0f} s; the least of the rest needs {least:.0f})")
    over = "" if plan["fits"] else ": over at the fewest steps; rows start only if they fit"
    say(f"  total {total:.0f} s against {left:.0f} s left{over}")
    return plan


def _item(row: dict) -> str:
    return f"{row['method']} {row.get('config', '')}{' encode-all' if row.get('encode_all') else ''}".strip()


def encoder_arms_of(name: str) -> int:
    """Encoders `evaluate_seed` scores for a method, without building it: 3 where the paper evaluates a teacher."""
    return 3 if name in ("ibot", "attmask", "ijepa") else 2


def run_throughput(visit: Visit, row: dict, model, device: str, compile_: bool, peak: float | None,
                   baseline: float) -> None:
    cfg = CONFIGS[row["config"]]
    options = {"encode_all": True} if row.get("encode_all") else {}
    result = measure(row["method"], cfg, row["batch"], row["steps"], device, compile_, method=model, **options)
    result["compiled"] = compile_
    result["utilisation_vs_matmul"] = result["achieved_tflops"] / baseline
    result["mfu_vs_peak"] = result["achieved_tflops"] / peak if peak else None
    visit.record["throughput"].append(result)
    visit.save()
    say(f"throughput {row['method']} {row['config']}{' encode-all' if options else ''}"
        f"{'' if compile_ else ' (eager)'}: "
        f"{result['images_per_s']:,.0f} images/s, {result['achieved_tflops']:.2f} TFLOP/s"
        + (f", {100 * result['mfu_vs_peak']:.1f} % of the bf16 peak" if peak else ""))


def run_learned(visit: Visit, row: dict, data: dict, scale, device: str) -> None:
    """Pretrain one method on seed 0 and check it learned its own pretext task on the held-out images."""
    name, first = row["method"], data[0]
    model = method_model(name, first, scale, device)
    reinitialise(model, name, first, scale, 0)
    cfg = replace(train_config(scale, device, row["steps"], 0), compile=visit.record["measured"][name]["compiled"])
    pretext = _pretext()
    before = _try(lambda: pretext.measure(model, first.heldout)) if pretext else None
    training = pretrain(model, first, cfg, progress=False)
    check = training.get("pretext")
    if check is None and pretext and not isinstance(before, str):
        check = _try(lambda: pretext.pretext_check(model, first.heldout, before=before))
    elif check is None:
        check = before if isinstance(before, str) else "reference_impls.pretext is not available"
    result = {"method": name, "steps": row["steps"], "compiled": cfg.compile, "wall_s": training["wall_s"],
              "images_per_s": training["images_per_s"], "heldout_loss_before": training["heldout_loss_before"],
              "heldout_loss_after": training["heldout_loss_after"], "pretext": check,
              "health": training["diagnostics"].get("health") if training["diagnostics"] else None}
    visit.record["learned"].append(result)
    visit.save()
    verdict = (("learned" if check.get("passed") else "did NOT clear its trivial predictor")
               if isinstance(check, dict) else f"no pretext check ({check})")
    say(f"learned {name}: {row['steps']} steps in {training['wall_s']:.1f} s; held-out loss "
        f"{training['heldout_loss_before']:.4f} -> {training['heldout_loss_after']:.4f}; {verdict}")


def run_helped(visit: Visit, helped: list[str], seeds: int, budget: float, device: str, dry_run: bool) -> None:
    """`verify` of the helped methods (their own Holm family) in `budget` seconds, into OUTDIR/verification."""
    summary = verify(helped, budget / 60, device, seeds, dry_run, visit.out / "verification", progress=True)
    visit.record["helped"] = {
        "folder": "verification", "seeds": seeds, "family": len(helped), "budget_s": budget,
        "rows": [{"method": r["method"], "steps": r["steps"], "verdict": r["verdict"]["verdict"],
                  "text": r["verdict"]["text"]} for r in summary["methods"]],
        "not_run": summary["not_run"], "supervised_ceiling": summary["supervised_ceiling"]["accuracy"]}
    visit.save()
    for r in visit.record["helped"]["rows"]:
        say(f"helped {r['method']}: {r['text']}")


def _pretext():
    try:
        from reference_impls import pretext
    except ImportError:
        return None
    return pretext


def _try(work):
    """The check's result, or one line saying why it could not run (a method without `pretext_terms`)."""
    try:
        return work()
    except Exception as exc:  # noqa: BLE001 - one check that cannot run must not end a once-only visit
        return f"{type(exc).__name__}: {str(exc)[:160]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget-s", type=float, default=480.0, help="seconds for the whole visit (this script)")
    parser.add_argument("--dry-run", action="store_true", help="the rehearsal: toy sizes, every stage and code path")
    parser.add_argument("--methods", default=",".join(METHODS), help="methods of the learned stage")
    parser.add_argument("--helped", default=",".join(HELPED), help="methods of the helped stage (its Holm family)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds of the helped stage (default: seeds_needed; "
                                                                "2 in a dry run)")
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    helped = [m for m in args.helped.split(",") if m]
    for name in {*methods, *helped}:
        method_info(name)
    methods = list(dict.fromkeys(helped + methods))  # the helped ones measured (and compiled) first
    device = args.device
    if args.dry_run and device == "cpu":
        torch.set_num_threads(1)  # toy sizes: on a shared CPU a second thread only waits (as `verify` does)
    scale = SCALES["dry" if args.dry_run else "gpu"]
    seeds = args.seeds or (2 if args.dry_run else seeds_for(len(helped)))
    args.out.mkdir(parents=True, exist_ok=True)
    visit = Visit(args.out, args.budget_s, device=device_name(device), software=software(), dry_run=args.dry_run,
                  scale=scale.label,
                  command="python " + " ".join(sys.argv if argv is None else ["gpu_visit.py", *argv]))
    peak = peak_tflops(device_name(device))
    baseline = matmul_tflops(device)
    visit.record.update(peak_tflops=peak, matmul_tflops=baseline)
    say(f"visit: {visit.record['device']}, torch {torch.__version__}, {scale.label}, budget {args.budget_s:.0f} s; "
        f"matmul {baseline:.1f} TFLOP/s, peak {peak or 'unknown'}")
    data = render_seeds(1, scale, device)
    costs = measure_costs(visit, methods, helped, data, scale, device)
    methods = [m for m in methods if m in costs["methods"]]
    helped = [m for m in helped if m in costs["methods"]]
    if not helped:
        raise SystemExit("visit: measuring took half the budget before a helped method was measured; see visit.json")
    small = scale.batch
    large = 256 if device.startswith("cuda") else 1
    steps = 1 if args.dry_run else 30
    rows = [("mae", "vit-t/4@32", {}, small, steps), ("mae", "vit-t/4@32", {"encode_all": True}, small, steps),
            ("mae", "vit-s/16@224", {}, large, steps)]
    plan = make_plan(visit, costs, methods, helped, seeds, scale, rows)
    if not plan["fits"] and len(helped) > 1 and not args.dry_run and args.seeds is None:
        # decided before anything runs, so the smaller family is the one the Holm correction covers
        say(f"the plan does not fit with {len(helped)} methods in the helped stage: planning {helped[0]} alone")
        visit.record["helped_reduced"] = {"from": helped, "to": helped[:1], "estimate_s": plan["total_s"],
                                          "left_s": plan["budget_left_s"]}
        helped, seeds = helped[:1], seeds_for(1)
        plan = make_plan(visit, costs, methods, helped, seeds, scale, rows)
    compile_ = scale.compile and device != "cpu"
    planned = {stage: [r for r in plan["rows"] if r["stage"] == stage] for stage in ("throughput", "learned", "helped")}
    reserved = sum(r["estimate_s"] for r in planned["throughput"][1:])  # the twins run last, in time kept for them
    first = planned["throughput"][:1]
    for row in first:
        model = method_model("mae", data[0], scale, device) if scale.size == "tiny" else None
        visit.attempt("throughput", _item(row), lambda: run_throughput(visit, row, model, device,
                                                                        compile_ and row["compile"], peak, baseline))
    for row in planned["learned"]:
        if row["estimate_s"] > visit.left() - reserved:
            visit.skip("learned", row["method"], row["estimate_s"])
            continue
        visit.attempt("learned", row["method"], lambda: run_learned(visit, row, data, scale, device))
    least = costs["fixed_s"] * seeds  # verify's pixels and HOG arms alone; it decides itself what else fits
    if not args.dry_run and least > visit.left() - reserved:
        visit.skip("helped", ",".join(helped), least)
    else:
        budget = max(visit.left() - reserved, 1.0)
        say(f"helped: verify {','.join(helped)} x {seeds} seeds within {budget:.0f} s")
        visit.attempt("helped", ",".join(helped), lambda: run_helped(visit, helped, seeds, budget, device,
                                                                     args.dry_run))
    for row in planned["throughput"][1:]:
        if row["estimate_s"] > visit.left():
            visit.skip("throughput", _item(row), row["estimate_s"])
            continue
        visit.attempt("throughput", _item(row), lambda: run_throughput(visit, row, None, device,
                                                                        compile_ and row["compile"], peak, baseline))
    visit.record["cli_imported"] = "typer" in sys.modules or "pydantic" in sys.modules  # must stay False
    visit.record["complete"] = True
    visit.save()
    say(f"visit done in {visit.elapsed():.0f} s of {visit.budget:.0f}; {args.out / 'visit.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
