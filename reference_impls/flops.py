"""FLOPs counted from the model, and the peaks utilisation is measured against."""

from __future__ import annotations

import torch

from reference_impls.train import autocast

PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0}  # dense bf16, from the data sheets


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a known GPU (by name), else None: no utilisation is claimed without a peak."""
    return next((v for k, v in PEAK_TFLOPS.items() if k in device_name), None)


def step_flops(method, images: torch.Tensor, device: str) -> float:
    """FLOPs of one training step's forward and backward, counted by torch (not estimated)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        with autocast(device):
            loss = method(images)
        loss.backward()
    method.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())
