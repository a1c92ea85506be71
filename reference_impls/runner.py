"""`mimtax run`: pretrain a method, evaluate four arms over seeds, judge, write report.json / report.md / pictures."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import numpy as np
import torch

from reference_impls import build_method, distributed, method_info
from reference_impls.data import Splits, load
from reference_impls.evaluate import (PROBES, STUDENT, EvalConfig, chosen_rates, evaluate_arm, outcomes_by_arm,
                                      probe_keys, summarise)
from reference_impls.pretext import pretext_text
from reference_impls.verdict import judge
from taxonomy.fsutil import publish, scratch_folder, write_atomic
from reference_impls.train import TrainConfig, pretrain, save_checkpoint

PRESETS = {
    "smoke": dict(size="micro", patch=4, pool=4096, train=TrainConfig(steps=60, batch_size=64, lr=1e-3, warmup_steps=10),
                  eval=EvalConfig(probe_steps=100, finetune_steps=15, batch_size=100), seeds=3),
    "verify": dict(size="tiny", patch=4, pool=50_000,
                   train=TrainConfig(steps=6000, batch_size=512, lr=1.5e-3, warmup_steps=300, compile=True),
                   eval=EvalConfig(probe_steps=500, finetune_steps=300, batch_size=100), seeds=5),
}


def _device(requested: str) -> str:
    if requested != "cpu" and not requested.startswith("cuda"):
        raise ValueError(f"--device '{requested}': choose cpu or cuda (cuda:N for one of several GPUs)")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    return requested


def _check_counts(seeds: int | None, steps: int | None, epochs: float | None) -> None:
    for name, value in (("--seeds", seeds), ("--steps", steps), ("--epochs", epochs)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} {value}: expected a number above 0")


def fixed_arms(splits: Splits, cfg: EvalConfig, seed: int, rates: dict[str, float] | None = None) -> dict:
    """The arms that learn nothing before the probes (raw pixels, pooled HOG): the same for every method.
    `rates`: fine-tuning rates chosen on an earlier seed's validation split (else chosen now)."""
    from reference_impls.handcrafted import HOGFeatures

    rates = rates or {}
    hog = HOGFeatures(splits.image_size, splits.channels).to(splits.train_x.device)
    return {"pixels": evaluate_arm(None, splits, cfg, seed, rates.get("pixels")),
            "hog": evaluate_arm(hog, splits, cfg, seed, rates.get("hog"))}


def evaluate_seed(pretrained, random_init, splits: Splits, cfg: EvalConfig, seed: int,
                  fixed: dict | None = None, rates: dict[str, float] | None = None) -> dict:
    """Every arm scored with the same recipe on the same labelled splits and test images. `pretrained` and
    `random_init` are methods: the pretrained arm is the encoder the paper evaluates, and where that is a
    teacher the student is scored too (reported, not compared). `rates` as in `fixed_arms`."""
    rates = rates or {}
    arms = {"pretrained": evaluate_arm(pretrained.evaluated_encoder, splits, cfg, seed, rates.get("pretrained"))}
    if pretrained.evaluated_encoder is not pretrained.encoder:
        arms[STUDENT] = evaluate_arm(pretrained.encoder, splits, cfg, seed, rates.get(STUDENT))
    arms["random_init"] = evaluate_arm(random_init.encoder, splits, cfg, seed, rates.get("random_init"))
    return {**arms, **(fixed or fixed_arms(splits, cfg, seed, rates))}


def encoder_arms(method) -> int:
    """How many encoders `evaluate_seed` scores for this method (what its evaluation costs)."""
    return 3 if method.evaluated_encoder is not method.encoder else 2


def run_experiment(method: str, data: str = "shapes", preset: str = "smoke", epochs: float | None = None,
                   device: str = "cpu", seeds: int | None = None, out: str | Path | None = None,
                   data_path: str | None = None, steps: int | None = None, progress: bool = True) -> dict:
    """The whole experiment; returns the report (also written to `out`)."""
    info = method_info(method)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset '{preset}': {', '.join(PRESETS)}")
    _check_counts(seeds, steps, epochs)
    spec = PRESETS[preset]
    device = _device(device)
    group, device = distributed.init(device)
    n_seeds = seeds or spec["seeds"]
    out = Path(out or f"runs/{method}-{data}-{preset}")
    from taxonomy.fsutil import check_writable

    if group.main:
        check_writable(out)
    eval_cfg = replace(spec["eval"], flips=data == "shapes")
    runs, trainings = [], []
    last_method, last_data = None, None
    started = time.perf_counter()
    for seed in range(n_seeds):
        splits: Splits = load(data, seed=seed, path=data_path, pool=spec["pool"]).to(device)
        patch = spec["patch"] if splits.image_size % spec["patch"] == 0 else 2
        train_cfg = replace(spec["train"], device=device, seed=seed, compile=spec["train"].compile and device != "cpu")
        if epochs is not None:
            train_cfg = replace(train_cfg, steps=max(1, int(epochs * len(splits.pretrain) / train_cfg.batch_size)))
        if steps is not None:
            train_cfg = replace(train_cfg, steps=steps)
        torch.manual_seed(seed)
        fresh = build_method(method, splits.image_size, patch, splits.channels, spec["size"])
        if last_method is None:
            model = fresh.to(device)
        else:  # the same object for every seed, so a compiled step is compiled once
            model.load_state_dict(fresh.state_dict())
        if seed == 0 and device == "cpu" and preset == "verify":
            warning = slow_run_warning(model, splits, train_cfg, n_seeds)
            if warning and group.main:
                print(warning, file=sys.stderr, flush=True)
        trainings.append(pretrain(model, splits, train_cfg, progress))
        torch.manual_seed(seed + 10_000)
        random_init = build_method(method, splits.image_size, patch, splits.channels, spec["size"]).to(device)
        rates = chosen_rates(runs[0]) if runs else None  # chosen on the first seed's validation split
        runs.append(evaluate_seed(model, random_init, splits, eval_cfg, seed, rates=rates))
        last_method, last_data = model, splits
    reason = "smoke run: it checks the plumbing, never a verdict" if preset == "smoke" else ""
    test = judge({method: outcomes_by_arm(runs, info.primary_probe)}, len(last_data.classes),
                 info.primary_probe, reason=reason)[method]
    results = summarise(runs)
    results["verdict"] = test.as_dict()
    report = {
        "method": method, "papers": list(info.papers), "target": info.target, "data": data, "preset": preset,
        "labels_per_class": len(last_data.train_y) // len(last_data.classes),
        "device": device_name(device), "software": software(), "date": date.today().isoformat(),
        "command": f"{distributed.launch_prefix()} run {method} --data {data} --preset {preset} "
                   f"--device {device.split(':')[0]} --seeds {n_seeds}"
                   + (f" --epochs {epochs}" if epochs is not None else "")
                   + (f" --steps {steps}" if steps is not None else ""),
        "model": {"size": spec["size"], "patch": patch, "image_size": last_data.image_size,
                  "parameters": sum(p.numel() for p in last_method.encoder.parameters())},
        "train": trainings[-1]["config"], "eval": asdict(eval_cfg),
        "pretraining": {
            "wall_s_per_seed": [t["wall_s"] for t in trainings], "images_per_s": [t["images_per_s"] for t in trainings],
            "heldout_loss_before": [t["heldout_loss_before"] for t in trainings],
            "heldout_loss_after": [t["heldout_loss_after"] for t in trainings],
            "pretext": [t["pretext"] for t in trainings],  # "learned its task" (reference_impls.pretext)
            "history_last_seed": trainings[-1]["history"],
        },
        "results": results, "total_wall_s": time.perf_counter() - started,
        "prepared": trainings[-1].get("prepared") or None, "diagnostics": trainings[-1].get("diagnostics") or None,
    }
    if group.main:  # one writer: rank 0 (every rank holds the same weights and outcomes)
        # every file is staged first, then all are moved in together: a full disk leaves the previous run's set
        staging = scratch_folder(out, "staging")
        try:
            save_checkpoint(last_method, staging / "checkpoint.safetensors")
            if last_method.pixel_target:
                reconstruction_grid(last_method, last_data, staging / "reconstruction.png")
            save_outcomes(runs, staging / "outcomes.npz")
            (staging / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
            (staging / "report.md").write_text(report_markdown(report), encoding="utf-8")
            publish(out, {p.name: p for p in sorted(staging.iterdir())}, "run")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    distributed.close()
    return report


def slow_run_warning(model, splits: Splits, cfg: TrainConfig, seeds: int, limit_s: float = 600.0) -> str:
    """A warning when the pretraining alone will take longer than `limit_s`, from two steps timed here
    (the GPU-sized verify preset on a CPU takes hours): empty when the run is short."""
    images = splits.pretrain.get(torch.arange(cfg.batch_size) % len(splits.pretrain))
    timings = []
    for _ in range(2):  # the first step pays for allocation; the second is the one that counts
        began = time.perf_counter()
        model(images).backward()
        timings.append(time.perf_counter() - began)
    model.zero_grad(set_to_none=True)
    total = timings[-1] * cfg.steps * seeds
    if total <= limit_s:
        return ""
    return (f"warning: about {total / 3600:.1f} h of pretraining on this CPU ({cfg.steps} steps x {seeds} seeds at "
            f"{timings[-1]:.2f} s a step, measured now); the verify preset is sized for a GPU. For a CPU-sized check "
            "use `mimtax verify --device cpu`, or --steps / --preset smoke.")


def save_outcomes(runs: list[dict], path: Path) -> None:
    """Per seed, arm and probe, which test images were right: what the verdict can be recomputed from."""
    arrays = {f"{arm}.{probe}": np.stack([r[arm][probe] for r in runs]) for arm in runs[0]
              for probe in [*probe_keys(runs[0]), "finetune_lr"]}
    write_atomic(path, lambda fh: np.savez_compressed(fh, **arrays))


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def software() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda if torch.cuda.is_available() else None}


def overall_verdict(report: dict) -> str:
    return report["results"]["verdict"]["text"]


def comparison_lines(verdict: dict) -> list[str]:
    """The verdict's comparisons as a Markdown table."""
    conf = 1 - 2 * verdict["holm_level"]
    lines = [f"| pretrained minus | difference, points | {conf:.1%} interval | must clear | p |", "|---|---|---|---|---|"]
    for c in verdict["comparisons"]:
        lo, hi = c["interval"]
        lines.append(f"| {c['baseline']} | {c['mean']:+.1f} | {lo:+.1f} to {hi:+.1f} | {c['margin']:+.1f} | "
                     f"{c['p_value']:.4f} |")
    return lines


def label_curve_lines(arms: dict, probe: str, primary: int) -> list[str]:
    """The label-efficiency curve of one probe as a Markdown table (arms by labels per class; the primary
    split, `primary` labels per class, is the un-suffixed key), and the fine-tuning rates the validation split
    chose."""
    points = sorted({int(k.split("@")[1]) for k in next(iter(arms.values())) if k.startswith(probe + "@")} | {primary})
    key = lambda m: probe if m == primary else f"{probe}@{m}"  # noqa: E731
    lines = [f"Label efficiency, {probe} (% of the test split; labels per class):", "",
             "| arm | " + " | ".join(str(m) for m in points) + " | fine-tune rate chosen on validation |",
             "|---|" + "---|" * (len(points) + 1)]
    for arm, values in arms.items():
        rates = ", ".join(f"{r:g}" for r in values.get("finetune_lr", []))
        lines.append(f"| {arm} | " + " | ".join(f"{values[key(m)]['mean']:.1f}" if key(m) in values else "–"
                                               for m in points) + f" | {rates} |")
    return lines


def report_markdown(report: dict) -> str:
    res = report["results"]
    verdict = res["verdict"]
    primary = verdict["primary_probe"]
    arms = list(res["arms"])
    lines = [f"# {report['method']} on {report['data']} ({report['preset']} preset)", "",
             f"Device: {report['device']}; torch {report['software']['torch']}; date {report['date']}.",
             f"Reproduce: `{report['command']}`", "",
             f"Pretraining: {sum(report['pretraining']['wall_s_per_seed']) / len(report['pretraining']['wall_s_per_seed']):.1f} s "
             f"per seed, {sum(report['pretraining']['images_per_s']) / len(report['pretraining']['images_per_s']):,.0f} images/s; "
             f"held-out loss {report['pretraining']['heldout_loss_before'][-1]:.4f} → {report['pretraining']['heldout_loss_after'][-1]:.4f} (last seed).",
             pretext_text(report["pretraining"].get("pretext", [])),
             *( [f"Tokenizer / monitors: {json.dumps({**(report.get('prepared') or {}), **(report.get('diagnostics') or {})})}"]
                if report.get("prepared") or report.get("diagnostics") else []),
             "", f"Accuracy on the test split, % (mean ± std over {res['seeds']} seeds; chance "
                 f"{verdict['chance']:.1f} %). Primary probe, declared before the run: **{primary}**; the others are "
                 "secondary and decide nothing.", "",
             "| arm | " + " | ".join(p + (" (primary)" if p == primary else "") for p in PROBES) + " |",
             "|---|" + "---|" * len(PROBES)]
    for arm in arms:
        cells = [f"{res['arms'][arm][p]['mean']:.1f} ± {res['arms'][arm][p]['std']:.1f}" for p in PROBES]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", *label_curve_lines(res["arms"], primary, report.get("labels_per_class", 10))]
    lines += ["", f"Comparisons on {primary}, paired by seed and test image (t test, seed and image variance):", ""]
    lines += comparison_lines(verdict)
    lines += ["", f"**{verdict['text']}**", ""]
    return "\n".join(lines)


@torch.no_grad()
def reconstruction_grid(method, data: Splits, path: Path, n: int = 8) -> None:
    """Rows: original, masked input, reconstruction (visible patches kept, masked ones predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reference_impls.patches import patchify, unpatchify

    method.eval()
    images = data.test_x[torch.linspace(0, len(data.test_x) - 1, n).long()]  # one per class on shapes
    torch.manual_seed(0)
    mask, pred = method.reconstruct(images)
    enc = method.encoder
    patches = patchify(images, enc.patch).float()
    masked = torch.where(mask[..., None], torch.zeros_like(patches), patches)
    recon = torch.where(mask[..., None], pred, patches)
    rows = [images.float()] + [unpatchify(x, enc.patch, enc.channels, enc.image_size, enc.image_size)
                               for x in (masked, recon)]
    fig, axes = plt.subplots(3, n, figsize=(n * 1.2, 3.8))
    for r, (row, title) in enumerate(zip(rows, ("original", "masked input", "reconstruction"))):
        for c in range(n):
            img = (row[c] * 0.25 + 0.5).clamp(0, 1).permute(1, 2, 0).cpu().numpy()
            axes[r][c].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
            axes[r][c].axis("off")
        axes[r][0].set_title(title, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
