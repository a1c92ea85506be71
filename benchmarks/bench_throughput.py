"""Pretraining throughput of the real training loop (data rendered on the device, masks, clipping, fused AdamW,
the EMA: `reference_impls.train.Trainer`): images/s and model FLOP utilisation, for every method at ViT-T/4
32 px and for MAE and SimMIM at ViT-S/16 224 px, plus MAE's saving from encoding only the visible patches.

FLOPs per step come from torch's FLOP counter (forward + backward of the real step). Utilisation is shown
against two ceilings: the device's peak (--peak-tflops; defaults for known GPUs, named in the output) and a
dense matmul measured in the same run on the same device (the baseline). Usage:
  python benchmarks/bench_throughput.py --device cpu --steps 5          # quick look on a laptop
  python benchmarks/bench_throughput.py --device cuda --steps 50 --compile
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from reference_impls import METHODS, build_method  # noqa: E402
from reference_impls.data import ShapesSource  # noqa: E402
from reference_impls.flops import peak_tflops, step_flops  # noqa: E402
from reference_impls.train import TrainConfig, Trainer  # noqa: E402

CONFIGS = {"vit-t/4@32": dict(size="tiny", patch=4, image=32), "vit-s/16@224": dict(size="small", patch=16, image=224)}


def matmul_tflops(device: str, n: int = 4096, repeat: int = 10) -> float:
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    n = n if device == "cuda" else 1024
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(repeat):
        a @ b
    sync(device)
    return 2 * n ** 3 * repeat / (time.perf_counter() - start) / 1e12


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def pool_on(device: str, size: int, n: int, seed: int = 0) -> SimpleNamespace:
    """What the training step reads: the unlabelled pool, its parameters on `device` and every batch rendered
    there (no labelled, test or held-out split rendered on the host: at 224 px that cost more than the
    measurement), and a few held-out images for the target-health monitors."""
    pool = ShapesSource(n, seed, size, device=device)
    return SimpleNamespace(pretrain=pool, heldout=pool.get(torch.arange(min(n, 64), device=device)))


def measure(name: str, cfg: dict, batch: int, steps: int, device: str, compile_: bool, mode: str | None = None,
            method=None, **options) -> dict:
    """Seconds per step of the real loop, after warm-up (and compilation), on shapes rendered at the size on
    the device. `method`: an existing model object of that configuration to time (a compiled one is reused,
    not compiled again: `reference_impls.train.compiled` keeps one per object)."""
    data = pool_on(device, cfg["image"], max(4 * batch, 1024))
    if method is None:
        torch.manual_seed(0)
        method = build_method(name, cfg["image"], cfg["patch"], 3, cfg["size"], **options).to(device)
    method.prepare(data.pretrain, device)
    images = data.pretrain.get(torch.arange(batch, device=device) % len(data.pretrain))
    flops = step_flops(method, images, device)
    warm = 5 if compile_ else 2
    trainer = Trainer(method, data, TrainConfig(steps=warm + 1 + steps, batch_size=batch, device=device,
                                                compile=compile_, compile_mode=mode, warmup_steps=1))
    began = time.perf_counter()
    for step in range(warm):  # warm-up (and compilation)
        trainer.step(step)
    sync(device)
    warm_s = time.perf_counter() - began
    host_sync = host_sync_in_step(trainer, warm) if device == "cuda" else None
    start = time.perf_counter()
    for step in range(warm + 1, warm + 1 + steps):
        trainer.step(step)
    sync(device)
    seconds = (time.perf_counter() - start) / steps
    return dict(method=name, config=cfg, batch=batch, step_s=seconds, images_per_s=batch / seconds,
                warmup_s=warm_s, tflops_per_step=flops / 1e12, achieved_tflops=flops / seconds / 1e12,
                host_sync_in_step=host_sync, **options)


def host_sync_in_step(trainer: Trainer, step: int) -> str:
    """One real step under CUDA's sync-debug mode: "none", or the first operation that made the host wait."""
    torch.cuda.set_sync_debug_mode("error")
    try:
        trainer.step(step)
        return "none"
    except RuntimeError as exc:
        return str(exc).splitlines()[0][:200]
    finally:
        torch.cuda.set_sync_debug_mode("default")


def plan_for(methods: list[str]) -> list[tuple[str, str, dict]]:
    """What to measure, most needed first, so that a visit cut short still answers the acceptance figures:
    MAE at both sizes with its encode-everything twin, SimMIM at both sizes, then the other methods."""
    small = [("mae", "vit-t/4@32", {}), ("mae", "vit-t/4@32", {"encode_all": True})] if "mae" in methods else []
    large = [("mae", "vit-s/16@224", {}), ("mae", "vit-s/16@224", {"encode_all": True}), ("simmim", "vit-s/16@224", {})]
    others = sorted((m for m in methods if m != "mae"), key=lambda m: m != "simmim")  # stable: SimMIM, then as given
    return small + large + [(m, "vit-t/4@32", {}) for m in others]


def annotate(row: dict, baseline: float, peak: float | None) -> dict:
    row["utilisation_vs_matmul"] = row["achieved_tflops"] / baseline
    row["mfu_vs_peak"] = row["achieved_tflops"] / peak if peak else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--mode", default=None, help="torch.compile mode, e.g. reduce-overhead (CUDA graphs)")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--batch-small", type=int, default=None, help="batch for ViT-T/4 at 32 px")
    parser.add_argument("--batch-large", type=int, default=None, help="batch for ViT-S/16 at 224 px")
    parser.add_argument("--methods", default=",".join(METHODS), help="methods at ViT-T/4 32 px (comma-separated)")
    parser.add_argument("--deadline-s", type=float, default=None,
                        help="start no measurement after this many seconds (the rest are listed as not measured)")
    parser.add_argument("--out", type=Path, default=None, help="result file (default benchmarks/results/"
                                                                "throughput-DEVICE.json)")
    args = parser.parse_args()
    started = time.perf_counter()
    device = args.device
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    peak = args.peak_tflops or peak_tflops(gpu)
    baseline = matmul_tflops(device)
    batches = {"vit-t/4@32": args.batch_small or (1024 if device == "cuda" else 32),
               "vit-s/16@224": args.batch_large or (256 if device == "cuda" else 4)}
    plan = plan_for([m for m in args.methods.split(",") if m])
    payload = {"device_name": gpu, "matmul_tflops": baseline, "peak_tflops": peak, "compile": args.compile,
               "mode": args.mode, "steps": args.steps, "loop": "reference_impls.train.Trainer (the real step)",
               "complete": False, "rows": [], "not_measured": []}
    for name, cfg_name, options in plan:
        if args.deadline_s is not None and time.perf_counter() - started > args.deadline_s:
            payload["not_measured"].append({"method": name, "config": CONFIGS[cfg_name], **options})
            continue
        row = measure(name, CONFIGS[cfg_name], batches[cfg_name], args.steps, device, args.compile, args.mode,
                      **options)
        payload["rows"].append(annotate(row, baseline, peak))
        save(f"throughput-{device}", payload, args.out)  # after every row: a visit stopped at its limit keeps it
        print(f"measured {name} {cfg_name} {options or ''}: {payload['rows'][-1]['images_per_s']:,.0f} img/s "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    rows = payload["rows"]
    print(f"device {gpu}; dense matmul baseline {baseline:.2f} TFLOP/s; peak {peak or 'unknown'} TFLOP/s"
          + (" (dense bf16, from the data sheet)" if peak else ""))
    for r in rows:
        tag = f"{r['method']}{' (encode all)' if r.get('encode_all') else ''}"
        mfu = f"{100 * r['mfu_vs_peak']:.1f}% of peak" if peak else "peak unknown"
        print(f"{tag:20s} {r['config']['size']:5s}/{r['config']['patch']}@{r['config']['image']:<4d} "
              f"{r['images_per_s']:12,.0f} img/s  {r['achieved_tflops']:8.3f} TFLOP/s  "
              f"{100 * r['utilisation_vs_matmul']:5.1f}% of matmul  {mfu}"
              + (f"  host waits in a step: {r['host_sync_in_step']}" if r["host_sync_in_step"] else ""))
    for cfg_name in CONFIGS:
        visible = [r for r in rows if r["method"] == "mae" and not r.get("encode_all") and r["config"] == CONFIGS[cfg_name]]
        full = [r for r in rows if r["method"] == "mae" and r.get("encode_all") and r["config"] == CONFIGS[cfg_name]]
        if visible and full:
            print(f"MAE visible-only speed-up at 75% masking, {cfg_name}: "
                  f"{full[0]['step_s'] / visible[0]['step_s']:.2f}x per step")
    for item in payload["not_measured"]:
        print(f"not measured (past --deadline-s {args.deadline_s:g}): {item['method']} {item['config']}")
    payload["complete"] = not payload["not_measured"]
    print("wrote", save(f"throughput-{device}", payload, args.out))


if __name__ == "__main__":
    main()
