"""`mimtax verify`: every method pretrained and judged in one run that fits a time budget.

The data of each seed is rendered once and shared by all methods; each method's step time is measured first,
then the pretraining steps are sized so that the whole run (evaluation included) fits the budget; a method
whose fewest steps no longer fit is reported as not run. All methods are judged together, so the Holm correction
covers the whole family, the methods not run included. Writes `summary.json` (after every method, so a run
stopped from outside keeps what it finished) and `summary.md` (`reference_impls.summary`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

import torch

from reference_impls import METHODS, build_method, distributed, method_info
from reference_impls.data import Splits, labelled_shapes, shapes
from reference_impls.evaluate import EvalConfig, chosen_rates, outcomes_by_arm, summarise, supervised_ceiling
from reference_impls.flops import peak_tflops, step_flops
from reference_impls.runner import (_device, device_name, encoder_arms, evaluate_seed, fixed_arms, save_outcomes,
                                    software)
from reference_impls.summary import judge_rows, write_final, write_progress
from reference_impls.train import TrainConfig, pretrain
from reference_impls.vit import ViT


@dataclass(frozen=True)
class Scale:
    """Model, data and probe sizes of one kind of verify run."""

    label: str
    size: str
    batch: int
    pool: int
    test_per_class: int
    lr: float
    eval: EvalConfig
    calibration_steps: int
    min_steps: int
    ceiling_per_class: int  # the supervised ceiling: labels per class and steps
    ceiling_steps: int
    compile: bool = False
    heldout: int = 512  # held-out images for the pretext loss before / after (at most the 512 rendered)
    data: str = "shapes"  # a procedural dataset (`procedural`)
    per_class: int = 10  # labels per class of the primary split (the fine-tune's and the verdict's)
    steps: int | None = None  # pretraining steps fixed before the run; None: sized from the budget
    seeds: int = 5  # default seeds


SCALES = {
    "gpu": Scale("GPU scale", "tiny", 512, 50_000, 100, 1.5e-3,
                 EvalConfig(probe_steps=500, finetune_steps=150, batch_size=100, finetune_lrs=(5e-4, 1.5e-3)),
                 20, 200, 500, 3000, compile=True),
    "cpu": Scale("CPU scale", "micro", 128, 8192, 100, 1e-3,
                 EvalConfig(probe_steps=300, finetune_steps=40, batch_size=100, finetune_lrs=(5e-4, 1.5e-3)),
                 10, 50, 300, 400),
    "dry": Scale("dry run", "micro", 16, 256, 10, 1e-3,
                 EvalConfig(probe_steps=5, finetune_steps=2, batch_size=16, finetune_lrs=(5e-4,), label_curve=(1, 10)),
                 1, 2, 3, 2, heldout=32),
    # the two-hour CPU demonstration (issue #34); every choice fixed before the run from the measurements in
    # benchmarks/results/datasets.json and the step costs on the 2-core VM, as docs/verification.md says
    "cpu-demo": Scale("CPU demonstration", "micro", 128, 8192, 200, 1e-3,
                      EvalConfig(probe_steps=300, finetune_steps=500, batch_size=100, finetune_lrs=(5e-4, 1.5e-3),
                                 flips=False), 5, 50, 1000, 1500, data="constellations", per_class=100, steps=3000,
                      seeds=6),
}
# the second demonstration: the same choices on `constellations-large`, whose design was picked after the first
# run from its diagnosis (benchmarks/results/demo-diagnosis.json) and on validation images only
# (benchmarks/results/demo-screen.json), never on a test split
SCALES["cpu-demo-large"] = replace(SCALES["cpu-demo"], label="CPU demonstration, larger glyphs",
                                   data="constellations-large")


def procedural(name: str):
    """(splits builder, labelled-set renderer) of a procedural dataset."""
    if name == "shapes":
        return shapes, labelled_shapes
    if name == "constellations":
        from reference_impls.constellations import constellations, labelled_constellations

        return constellations, labelled_constellations
    if name == "constellations-large":
        from reference_impls.constellations import labelled_large_constellations, large_constellations

        return large_constellations, labelled_large_constellations
    if name == "glyphs":
        from reference_impls.constellations import glyphs, labelled_glyphs

        return glyphs, labelled_glyphs
    raise ValueError("verify renders a procedural dataset (shapes, constellations, constellations-large or glyphs), "
                     f"not '{name}'")


def render_seeds(seeds: int, scale: Scale, device: str) -> dict[int, Splits]:
    """Each seed's labelled split, unlabelled pool and held-out images, once for all methods."""
    build = procedural(scale.data)[0]
    rendered = {seed: build(seed, pool=scale.pool, per_class=scale.per_class, test_per_class=scale.test_per_class,
                            labelled_per_class=max(scale.per_class, *scale.eval.label_curve)) for seed in range(seeds)}
    return {seed: replace(splits, heldout=splits.heldout[:scale.heldout]).to(device)
            for seed, splits in rendered.items()}


def ceiling(data: Splits, scale: Scale, device: str) -> dict:
    """The same ViT trained from scratch with many labels (its own labelled images, never the test split):
    the accuracy the task allows this architecture, which every few-label arm is read against."""
    x, y = procedural(scale.data)[1](scale.ceiling_per_class, 999_983, data.image_size)
    torch.manual_seed(0)
    encoder = ViT(data.image_size, 4, data.channels, scale.size).to(device)
    began = time.perf_counter()
    right = supervised_ceiling(encoder, x.to(device), y.to(device), data, scale.ceiling_steps, 1e-3,
                               scale.eval.batch_size, seed=0, flips=scale.eval.flips)
    return {"labels_per_class": scale.ceiling_per_class, "steps": scale.ceiling_steps,
            "accuracy": float(right.mean() * 100), "wall_s": time.perf_counter() - began}


def train_config(scale: Scale, device: str, steps: int, seed: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=scale.batch, lr=scale.lr, warmup_steps=max(1, steps // 20),
                       compile=scale.compile and device != "cpu", device=device, seed=seed)


_MODELS: dict[tuple, torch.nn.Module] = {}


def method_model(name: str, splits: Splits, scale: Scale, device: str):
    """The one model object of a method at a scale and device in this process, re-initialised for each run
    (`reinitialise`): its compiled step (`train.compiled`) is compiled once for verify's seeds and for
    whatever else in the same process trains it (the GPU visit's stages, `benchmarks/gpu_visit.py`)."""
    key = (name, splits.image_size, splits.channels, scale.size, device)
    if key not in _MODELS:
        _MODELS[key] = build_method(name, splits.image_size, 4, splits.channels, scale.size).to(device)
    return _MODELS[key]


def reinitialise(model, name: str, splits: Splits, scale: Scale, seed: int) -> None:
    """Give `model` the initial weights of `seed` in place: the same object, so its compiled step is reused
    for every seed instead of compiled again."""
    torch.manual_seed(seed)
    fresh = build_method(name, splits.image_size, 4, splits.channels, scale.size)
    model.load_state_dict(fresh.state_dict())


def seconds_per_step(model, name: str, data: Splits, scale: Scale,
                     device: str) -> tuple[float, float, float, float]:
    """(seconds per step, FLOPs per step, seconds spent measuring, seconds a run pays besides its steps) of a
    method's real training step. A first run of `calibration_steps` pays the compilation and the warm-up and is
    not timed; a second of twice as many is: its loop time per step, and the rest of its call (preparing, e.g.
    BEiT's tokenizer, held-out losses, the pretext check) as the overhead each seed's run pays once. (The
    difference of two short runs, used before, was off by a third either way on 2 cores: 0.043 s planned for
    MAE's 0.067 s steps.)"""
    began = time.perf_counter()
    reinitialise(model, name, data, scale, 0)
    pretrain(model, data, train_config(scale, device, scale.calibration_steps, 0), progress=False)
    reinitialise(model, name, data, scale, 0)
    called = time.perf_counter()
    timed = pretrain(model, data, train_config(scale, device, 2 * scale.calibration_steps, 0), progress=False)
    overhead = max(0.0, time.perf_counter() - called - timed["wall_s"])
    per_step = timed["wall_s"] / (2 * scale.calibration_steps)
    images = data.pretrain.get(torch.arange(scale.batch, device=device) % len(data.pretrain))
    flops = step_flops(model, images, device)
    return per_step, flops, time.perf_counter() - began, overhead


def steps_for(seconds: float, seeds: int, per_step: float, eval_s: float, fewest: int) -> int:
    """Pretraining steps per seed (at least `fewest`) that spend `seconds` on `seeds` seeds, each also paying
    `eval_s` besides its steps (its run's overhead and its evaluation)."""
    return max(fewest, int((seconds / seeds - eval_s) / per_step))


def method_share(remaining: float, least: float, left: int, later_least: float) -> float:
    """Seconds a method may spend: its own fewest-steps cost `least`, plus an equal part of what remains once that
    and the `left` later methods' fewest-steps costs (`later_least` in all) are set aside. With equal costs it is
    an equal split of `remaining`; a dear method late in the list keeps its minimum."""
    return least + max(0.0, remaining - least - later_least) / (left + 1)


def fits(elapsed: float, cost: float, budget: float) -> bool:
    """Whether work of `cost` seconds, started now, ends within the budget."""
    return elapsed + cost <= budget


def verify(methods: list[str] | None = None, budget_minutes: float = 8.0, device: str = "cuda",
           seeds: int | None = None, dry_run: bool = False, out: str | Path = "runs/verify",
           progress: bool = True, preset: str | None = None) -> dict:
    """Pretrain and judge every method within the budget; write and return the summary (`_verify`).

    A dry run on the CPU runs on one thread: its tensors are toy-sized, and on a shared machine a second
    OpenMP thread only waits (`benchmarks/bench_dry_run.py`: 47 s on one thread, 553 s on two, at a load
    of 14 on the project's 2-core VM)."""
    threads = torch.get_num_threads()
    if dry_run and device == "cpu":
        torch.set_num_threads(1)
    try:
        return _verify(methods, budget_minutes, device, seeds, dry_run, out, progress, preset)
    finally:
        torch.set_num_threads(threads)


def _verify(methods: list[str] | None, budget_minutes: float, device: str, seeds: int | None, dry_run: bool,
            out: str | Path, progress: bool, preset: str | None = None) -> dict:
    """Pretrain and judge every method within the budget; write and return the summary.

    Every method's step is measured first; then each is started only if its fewest steps on every seed
    (evaluation included) still fit, and the ones that do not are reported as not run. The summary is rewritten
    after each method, so a run stopped from outside keeps every method it finished (`judge_saved` judges them
    afterwards)."""
    methods = list(methods or METHODS)
    for name in methods:
        method_info(name)  # unknown names fail before any work
    if preset is not None and preset not in SCALES:
        raise ValueError(f"unknown preset '{preset}': {', '.join(SCALES)}")
    if (seeds is not None and seeds <= 0) or budget_minutes <= 0:
        raise ValueError("--seeds and --budget-minutes must be above 0")
    device = _device(device)
    group, device = distributed.init(device)
    key = preset or ("dry" if dry_run else ("cpu" if device == "cpu" else "gpu"))
    scale = SCALES[key]
    dry_run = dry_run or preset == "dry"
    # each method's fewest steps: the preset's, or more where the method declares it needs more there
    fewest = {name: scale.min_steps if dry_run else max(scale.min_steps, method_info(name).steps_floor(key))
              for name in methods}
    seeds = seeds if seeds is not None else (1 if dry_run else scale.seeds)
    out = Path(out)
    from taxonomy.fsutil import check_writable

    if group.main:
        check_writable(out)
    started = time.perf_counter()
    budget = budget_minutes * 60
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if progress and group.main else (lambda text: None)
    data = render_seeds(seeds, scale, device)
    first = data[0]
    fixed = {0: fixed_arms(first, scale.eval, 0)}  # the fine-tuning rates are chosen on seed 0, then kept
    fixed.update({seed: fixed_arms(splits, scale.eval, seed, chosen_rates(fixed[0]))
                  for seed, splits in data.items() if seed})
    supervised = ceiling(first, scale, device)
    say(f"verify: supervised ceiling {supervised['accuracy']:.1f} % ({supervised['labels_per_class']} labels per "
        f"class, {supervised['wall_s']:.0f} s)")
    began = time.perf_counter()
    probe_model = build_method(methods[0], first.image_size, 4, first.channels, scale.size).to(device)
    evaluate_seed(probe_model, probe_model, first, scale.eval, 0, fixed[0])
    # seconds to evaluate one encoder arm, measured on untrained encoders (the fixed arms are cheaper and would
    # under-count it), then updated from the real evaluations
    per_arm = [(time.perf_counter() - began) / encoder_arms(probe_model)]
    say(f"verify: {scale.label} on {device_name(device)}; {len(methods)} methods x {seeds} seeds; "
        f"evaluating one encoder on a seed takes {per_arm[0]:.0f} s")
    command = (f"{distributed.launch_prefix()} verify --methods {','.join(methods)} --budget-minutes "
               f"{budget_minutes:g} --device {device.split(':')[0]} --seeds {seeds}" + (" --dry-run" if dry_run else "")
               + (f" --preset {preset}" if preset else ""))
    summary = {"scale": scale.label, "device": device_name(device), "software": software(),
               "date": date.today().isoformat(), "command": command, "budget_minutes": budget_minutes,
               "wall_s": 0.0, "peak_tflops": peak_tflops(device_name(device)),
               "model": {"size": scale.size, "patch": 4, "image_size": first.image_size},
               "data": {"name": scale.data, "labels_per_class": scale.per_class, "pool": scale.pool,
                        "batch": scale.batch, "lr": scale.lr},
               "eval": asdict(scale.eval), "test_images": len(first.test_y), "chance": 100 / len(first.classes),
               "supervised_ceiling": supervised, "planned": methods, "methods": [], "not_run": []}
    # every method's step is measured (and compiled) before any of them runs, so that each one's share is sized
    # knowing what every later one needs at its fewest steps: estimated from the methods measured so far, the
    # multi-crop methods' 0.8 s steps once squeezed I-JEPA, between them, to 67 steps
    costs = {}
    for name in methods:
        elapsed = time.perf_counter() - started
        # rank 0's clock decides whether a method runs, so that every rank runs the same methods
        if not distributed.broadcast_int(int(dry_run or fits(elapsed, 0.0, budget))):
            summary["not_run"].append({"method": name, "reason": f"the budget was spent ({elapsed:.0f} s) before "
                                                                  "its step could be measured"})
            say(f"verify: {name}: not run, the budget is spent")
            continue
        model = method_model(name, first, scale, device)
        per_step, flops, _, overhead = seconds_per_step(model, name, first, scale, device)
        costs[name] = {"model": model, "per_step": per_step, "flops": flops, "overhead": overhead}
        say(f"verify: {name}: {per_step:.3f} s a step, {overhead:.1f} s a run besides its steps")

    def fewest_cost(name: str) -> tuple[float, float]:
        """(seconds for the fewest steps on every seed, seconds each seed pays besides its steps: its run's
        overhead and the evaluation of its encoder arms, at the evaluation cost measured so far)."""
        cost = costs[name]
        eval_s = cost["overhead"] + encoder_arms(cost["model"]) * sum(per_arm) / len(per_arm)
        return seeds * ((scale.steps or fewest[name]) * cost["per_step"] + eval_s), eval_s

    per_method_runs = {}
    measured = [name for name in methods if name in costs]
    for index, name in enumerate(measured):
        info, model, per_step, flops = method_info(name), *(costs[name][k] for k in ("model", "per_step", "flops"))
        least, eval_s = fewest_cost(name)
        elapsed = time.perf_counter() - started
        if not distributed.broadcast_int(int(dry_run or fits(elapsed, least, budget))):
            reason = (f"{budget - elapsed:.0f} s of the budget left; {fewest[name]} steps on {seeds} seeds need "
                      f"{least:.0f} s")
            summary["not_run"].append({"method": name, "reason": reason})
            say(f"verify: {name}: not run, {least:.0f} s needed, {budget - elapsed:.0f} s left")
            continue
        later = measured[index + 1:]
        # each later method's fewest steps are set aside first, then the rest is split equally
        share = method_share(budget - elapsed, least, len(later), sum(fewest_cost(n)[0] for n in later))
        steps = fewest[name] if dry_run else scale.steps or steps_for(share, seeds, per_step, eval_s, fewest[name])
        steps = distributed.broadcast_int(steps)  # rank 0's timing decides, so every rank runs the same steps
        say(f"verify: {name}: {steps} steps x {seeds} seeds ({per_step:.3f} s a step)")
        runs, trainings = [], []
        for seed, splits in data.items():
            reinitialise(model, name, splits, scale, seed)
            trainings.append(pretrain(model, splits, train_config(scale, device, steps, seed),
                                     progress and sys.stdout.isatty()))
            torch.manual_seed(seed + 10_000)
            random_init = build_method(name, splits.image_size, 4, splits.channels, scale.size).to(device)
            began = time.perf_counter()
            runs.append(evaluate_seed(model, random_init, splits, scale.eval, seed, fixed[seed],
                                      chosen_rates(runs[0]) if runs else None))
            per_arm.append((time.perf_counter() - began) / encoder_arms(model))
        per_method_runs[name] = runs
        images_per_s = sum(t["images_per_s"] for t in trainings) / len(trainings)
        peak = peak_tflops(device_name(device))
        achieved = flops * images_per_s / scale.batch / 1e12
        summary["methods"].append({
            "method": name, "primary_probe": info.primary_probe, "steps": steps, "batch": scale.batch * group.world,
            "world_size": group.world, "images_per_s": images_per_s, "tflops_per_s": achieved,
            "utilisation": achieved / (peak * group.world) if peak else None,
            "heldout_loss_before": [t["heldout_loss_before"] for t in trainings],
            "heldout_loss_after": [t["heldout_loss_after"] for t in trainings],
            "pretext": [t["pretext"] for t in trainings],  # "learned its task" (reference_impls.pretext)
            "health": [t["diagnostics"].get("health") for t in trainings if t["diagnostics"]],
            "wall_s": sum(t["wall_s"] for t in trainings), "results": summarise(runs)})
        summary["wall_s"] = time.perf_counter() - started
        if group.main:
            save_outcomes(runs, _method_folder(out, name) / "outcomes.npz")
            write_progress(out, summary)
        say(f"verify: {name} done ({time.perf_counter() - started:.0f} s)")
    reason = "dry run: checks the plumbing, never a verdict" if dry_run else ""
    if per_method_runs:
        judge_rows(summary, {n: outcomes_by_arm(r, method_info(n).primary_probe) for n, r in per_method_runs.items()},
                   len(first.classes), reason)
    summary["wall_s"] = time.perf_counter() - started
    if group.main:
        write_final(out, summary)
    distributed.close()
    return summary


def _method_folder(out: Path, name: str) -> Path:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
