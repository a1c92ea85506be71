"""Before a GPU visit spends its minutes: is this machine able to run it? About ten seconds.

Checks, in order, and stops at the first that fails with exit 1 and one line on stderr saying why: the
project's modules import without the CLI (typer, pydantic), the device is visible, torch / CUDA / driver
versions, bf16 support (a bf16 matmul runs and is right), free device memory, and one real training step of
MAE on the device. Writes what it found as JSON (`--out`). Usage:
  python benchmarks/gpu_preflight.py --device cuda --out OUTDIR/preflight.json
  python benchmarks/gpu_preflight.py --device cpu      # the rehearsal
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIN_FREE_GIB = 8.0  # the visit's largest row (ViT-S/16 at 224 px, batch 256, bf16) needs a few GiB


class Failed(Exception):
    """One failed check: its message is the one line the preflight prints."""


def check(device: str, min_free_gib: float = MIN_FREE_GIB) -> dict:
    """Every check, in order; the facts found (raises `Failed` at the first that fails)."""
    began = time.perf_counter()
    try:
        import importlib

        import torch

        from reference_impls import METHODS, build_method
        from reference_impls.train import TrainConfig, Trainer

        sys.path.insert(0, str(ROOT / "benchmarks"))
        # everything the visit imports, also lazily (rich in `pretrain`, the statistics, each method's file)
        for module in ("gpu_visit", "rich.progress", "reference_impls.summary", "reference_impls.handcrafted",
                       "reference_impls.pretext", "safetensors.torch", *(m.module for m in METHODS.values())):
            importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is the reason to stop
        raise Failed(f"the project does not import: {type(exc).__name__}: {exc}") from None
    if "typer" in sys.modules or "pydantic" in sys.modules:
        raise Failed("importing the reference implementations pulled in the CLI (typer/pydantic); the visit must not")
    found = {"python": platform.python_version(), "torch": torch.__version__, "device": device,
             "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise Failed(f"no CUDA device visible to torch {torch.__version__} (CUDA build {torch.version.cuda})")
        props = torch.cuda.get_device_properties(0)
        free, total = torch.cuda.mem_get_info(0)
        found.update(gpu=props.name, capability=f"{props.major}.{props.minor}", gpus=torch.cuda.device_count(),
                     driver=_driver(), free_gib=round(free / 2**30, 1), total_gib=round(total / 2**30, 1),
                     bf16=torch.cuda.is_bf16_supported())
        if not found["bf16"]:
            raise Failed(f"{props.name} does not support bf16, which the training step autocasts to")
        if found["free_gib"] < min_free_gib:
            raise Failed(f"only {found['free_gib']} GiB free on {props.name}; the visit needs {min_free_gib} GiB")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    a = torch.randn(256, 256, device=device)
    product = (a.to(dtype) @ a.to(dtype).T).float()
    error = float((product - a @ a.T).abs().max() / (a @ a.T).abs().max())
    found["matmul_relative_error"] = error
    if not error < 0.05:
        raise Failed(f"a {dtype} matmul on {device} is wrong (relative error {error:.3g})")
    try:
        from reference_impls.data import ShapesSource

        pool = ShapesSource(64, 0, 32, device=device)
        method = build_method("mae", 32, 4, 3, "micro").to(device)
        data = argparse.Namespace(pretrain=pool, heldout=pool.get(torch.arange(8, device=device)))
        trainer = Trainer(method, data, TrainConfig(steps=2, batch_size=16, device=device, warmup_steps=1))
        loss = float(trainer.step(0))
    except Exception as exc:  # noqa: BLE001
        raise Failed(f"one MAE training step on {device} failed: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not loss == loss:  # NaN
        raise Failed(f"one MAE training step on {device} gave a NaN loss")
    found["one_step_loss"] = loss
    found["seconds"] = round(time.perf_counter() - began, 2)
    return found


def _driver() -> str | None:
    import subprocess

    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=10)
        return result.stdout.strip().splitlines()[0] if result.returncode == 0 and result.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, default=None, help="write the facts found here as JSON")
    parser.add_argument("--min-free-gib", type=float, default=MIN_FREE_GIB)
    args = parser.parse_args()
    try:
        found = check(args.device, args.min_free_gib)
    except Failed as exc:
        print(f"preflight failed: {exc}", file=sys.stderr)
        return 1
    if args.out:
        from taxonomy.fsutil import write_text_atomic

        write_text_atomic(args.out, json.dumps(found, indent=1) + "\n")
    print("preflight ok: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
