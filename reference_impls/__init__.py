"""Minimal, readable PyTorch implementations of masked-image-modelling methods.

Importing this package does not import torch; `build_method` does. The registry links each method to the
corpus papers it implements (their ids in data/papers.csv, column `reference_impl`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class MethodInfo:
    name: str
    module: str
    cls: str
    papers: tuple[str, ...]  # corpus ids
    target: str  # crosswalk vocabulary: pixel, HOG-or-handcrafted, discrete-token, teacher-feature, contrastive
    masking: str  # random, block-wise, attention-guided, ...
    summary: str


METHODS: dict[str, MethodInfo] = {
    "mae": MethodInfo("mae", "reference_impls.methods.mae", "MAE", ("mae",), "pixel", "random",
                      "encoder on visible patches, light decoder, normalised-pixel MSE on masked patches"),
    "simmim": MethodInfo("simmim", "reference_impls.methods.simmim", "SimMIM", ("simmim",), "pixel", "random",
                         "mask tokens in the encoder, linear head, L1 on masked raw pixels"),
}


def method_info(name: str) -> MethodInfo:
    if name not in METHODS:
        raise KeyError(f"unknown method '{name}'; available: {', '.join(METHODS)}")
    return METHODS[name]


def build_method(name: str, image_size: int = 32, patch: int = 4, channels: int = 3, size: str = "tiny",
                 **options):
    """A fresh method (with its ViT encoder) ready to pretrain."""
    from reference_impls.vit import ViT

    info = method_info(name)
    cls = getattr(importlib.import_module(info.module), info.cls)
    return cls(ViT(image_size, patch, channels, size), **options)
