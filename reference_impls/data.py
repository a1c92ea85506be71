"""Datasets for pretraining and evaluation. Nothing is ever downloaded.

- `shapes`: procedural 32 px images, ten classes defined by *structure* (shape, texture, arrangement) with
  random foreground/background colours, position, size and rotation, so mean colour says little about the
  class. An unlabelled pool of 50k images is rendered on the fly from per-image parameters drawn from the
  seed; a small labelled split (10 per class) and a test split come from other seeds.
- `constellations` (`reference_impls.constellations`): four glyphs in one of ten arrangements on a striped
  background; masked prediction needs structure and the class is the arrangement.
- `digits`: scikit-learn's bundled real handwritten digits (8x8, upsampled to 16x16).
- `imagefolder`, `cifar10`, `cifar100`: read from a local path the user supplies (CIFAR in its binary format).

Images are float tensors standardised as (x - 0.5) / 0.25.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

SHAPE_CLASSES = ["disc", "square", "triangle", "ring", "cross", "striped disc", "checkered square",
                 "two discs", "three discs", "diamond"]


class ImageSource(Protocol):
    def __len__(self) -> int: ...

    def get(self, indices: torch.Tensor) -> torch.Tensor: ...


class TensorSource:
    """Images already in memory (moved to the training device once, when they fit)."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def to(self, device) -> "TensorSource":
        return TensorSource(self.images.to(device))

    def get(self, indices: torch.Tensor) -> torch.Tensor:
        return self.images[indices.to(self.images.device)]


LABEL_CURVE = (1, 10, 100)  # labels per class of the label-efficiency curves
VAL_PER_CLASS = 20  # the validation split that picks the fine-tuning learning rate (never the test split)


@dataclass
class Splits:
    """The unlabelled pool and held-out images for pretraining; a labelled pool (`labelled_*`, up to 100 per
    class, class by class in a fixed order, so the first m of each class are a nested subset); the primary
    few-label split (`train_*`, the first `per_class` of each class of that pool); a validation split; and
    the test split."""

    name: str
    channels: int
    image_size: int
    classes: list[str]
    pretrain: ImageSource
    heldout: torch.Tensor
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    labelled_x: torch.Tensor
    labelled_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor

    def to(self, device) -> "Splits":
        pre = self.pretrain.to(device) if hasattr(self.pretrain, "to") else self.pretrain
        return Splits(self.name, self.channels, self.image_size, self.classes, pre, self.heldout.to(device),
                      *(t.to(device) for t in (self.train_x, self.train_y, self.test_x, self.test_y, self.labelled_x,
                                               self.labelled_y, self.val_x, self.val_y)))

    def first_per_class(self, m: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first `m` labelled images of each class (fewer where a class has fewer)."""
        keep = first_per_class(self.labelled_y, m)
        return self.labelled_x[keep], self.labelled_y[keep]


def first_per_class(labels: torch.Tensor, m: int) -> torch.Tensor:
    """Indices of the first `m` entries of each label, in their order."""
    labels = labels.cpu()
    rank = torch.zeros_like(labels)
    for c in labels.unique():
        where = labels == c
        rank[where] = torch.arange(int(where.sum()))
    return torch.nonzero(rank < m).ravel()


def standardise(images: torch.Tensor) -> torch.Tensor:
    return (images - 0.5) / 0.25


# --- shapes ----------------------------------------------------------------------------------------------

def shape_params(n: int, seed: int, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-image parameters (class, pose, colours, texture frequency, noise seed) drawn from `seed`."""
    g = torch.Generator().manual_seed(seed)
    u = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    cls = labels if labels is not None else torch.randint(0, len(SHAPE_CLASSES), (n,), generator=g)
    bg = u(n, 3)
    fg = u(n, 3)
    low = (fg - bg).abs().mean(1) < 0.3
    fg[low] = 1 - bg[low]  # keep the shape visible
    return dict(cls=cls, cx=u(n) * 0.6 - 0.3, cy=u(n) * 0.6 - 0.3, r=0.4 + u(n) * 0.3, theta=u(n) * 2 * math.pi,
                fg=fg, bg=bg, freq=3 + u(n) * 2, noise=torch.randint(0, 2**31 - 1, (n,), generator=g))


def render_shapes(p: dict[str, torch.Tensor], size: int = 32, device="cpu",
                  noise: torch.Generator | None = None) -> torch.Tensor:
    """Render images from parameters, all at once (vectorised over the batch). Pixel noise comes from `noise`
    (a generator on `device`), else from a generator seeded by the images' parameters (fixed sets)."""
    p = {k: v.to(device) for k, v in p.items()}
    n = len(p["cls"])
    axis = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    dx, dy = x[None] - p["cx"][:, None, None], y[None] - p["cy"][:, None, None]
    c, s = p["theta"].cos()[:, None, None], p["theta"].sin()[:, None, None]
    r = p["r"][:, None, None]
    u, v = (c * dx + s * dy) / r, (-s * dx + c * dy) / r
    rad = (u ** 2 + v ** 2).sqrt()
    f = p["freq"][:, None, None] * math.pi
    disc, square = rad < 1, torch.maximum(u.abs(), v.abs()) < 0.8

    def dot(cu: float, cv: float, radius: float) -> torch.Tensor:
        return (u - cu) ** 2 + (v - cv) ** 2 < radius ** 2

    three = torch.zeros_like(disc)
    for angle in (90, 210, 330):
        three |= dot(0.6 * math.cos(math.radians(angle)), 0.6 * math.sin(math.radians(angle)), 0.35)
    shapes = torch.stack([
        disc, square, (v > -0.5) & (v < 1 - math.sqrt(3) * u.abs()), (rad > 0.55) & disc,
        ((u.abs() < 0.3) & (v.abs() < 1)) | ((v.abs() < 0.3) & (u.abs() < 1)),
        disc & ((f * v).sin() > 0), square & ((f * u).sin() * (f * v).sin() > 0),
        dot(0.55, 0, 0.4) | dot(-0.55, 0, 0.4), three, u.abs() + v.abs() < 1,
    ], dim=1)
    inside = shapes[torch.arange(n, device=device), p["cls"]].float()[:, None]
    images = inside * p["fg"][:, :, None, None] + (1 - inside) * p["bg"][:, :, None, None]
    if noise is None:  # a fixed set: its noise depends on its parameters only (reading them waits, once)
        noise = torch.Generator(device=device).manual_seed(int(p["noise"].sum().item()) % (2**31 - 1))
    images = images + 0.05 * torch.randn(images.shape, generator=noise, device=device)
    return standardise(images.clamp(0, 1))


class ShapesSource:
    """The unlabelled pool: parameters kept on the training device, pixels rendered per batch there, with
    the pixel noise from a generator on that device: fetching a batch never waits for the host."""

    make_params = staticmethod(shape_params)
    render = staticmethod(render_shapes)

    def __init__(self, n: int, seed: int, size: int = 32, params: dict[str, torch.Tensor] | None = None,
                 device="cpu"):
        self.size, self.n, self.seed = size, n, seed
        self.params = {k: v.to(device) for k, v in (params or self.make_params(n, seed)).items()}
        self.noise = torch.Generator(device=device).manual_seed(seed)

    def __len__(self) -> int:
        return self.n

    def to(self, device) -> "ShapesSource":
        return type(self)(self.n, self.seed, self.size, self.params, device)

    def reseed(self, seed: int) -> None:
        """Restart the pixel noise, so a run's batches do not depend on what used the pool before it."""
        self.noise.manual_seed(self.seed * 7919 + seed)

    def get(self, indices: torch.Tensor) -> torch.Tensor:
        device = self.params["cls"].device
        return self.render({k: v[indices.to(device)] for k, v in self.params.items()}, self.size, device, self.noise)


def labelled_shapes(per_class: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """`per_class` rendered images of every class, class by class."""
    k = len(SHAPE_CLASSES)
    params = shape_params(k * per_class, seed, torch.arange(k).repeat_interleave(per_class))
    return render_shapes(params, size), params["cls"]


def shapes(seed: int = 0, pool: int = 50_000, per_class: int = 10, test_per_class: int = 100, size: int = 32,
           labelled_per_class: int = max(LABEL_CURVE)) -> Splits:
    labelled_x, labelled_y = labelled_shapes(max(per_class, labelled_per_class), seed * 1000 + 1, size)
    keep = first_per_class(labelled_y, per_class)
    return Splits("shapes", 3, size, SHAPE_CLASSES, ShapesSource(pool, seed * 1000 + 2, size),
                  render_shapes(shape_params(512, seed * 1000 + 3), size), labelled_x[keep], labelled_y[keep],
                  *labelled_shapes(test_per_class, 10_000_019, size),  # a fixed test set
                  labelled_x, labelled_y, *labelled_shapes(VAL_PER_CLASS, seed * 1000 + 4, size))


# --- real images ------------------------------------------------------------------------------------------

def _labelled_and_validation(labels: torch.Tensor, labelled: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per class, in a random order drawn from `seed`: the first `labelled` images form the labelled pool
    (class by class), the next VAL_PER_CLASS the validation split. A small class gives what it has."""
    g = torch.Generator().manual_seed(seed)
    pools, vals = [], []
    for c in labels.unique():
        idx = torch.nonzero(labels == c).ravel()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_val = min(VAL_PER_CLASS, len(idx) // 5)
        vals.append(idx[:n_val])
        pools.append(idx[n_val:n_val + labelled])
    return torch.cat(pools), torch.cat(vals)


def _from_arrays(name: str, images: torch.Tensor, labels: torch.Tensor, classes: list[str], seed: int,
                 per_class: int, test_fraction: float = 0.25, test: tuple | None = None) -> Splits:
    g = torch.Generator().manual_seed(12345)
    if test is None:
        order = torch.randperm(len(images), generator=g)
        n_test = int(len(images) * test_fraction)
        test = (images[order[:n_test]], labels[order[:n_test]])
        images, labels = images[order[n_test:]], labels[order[n_test:]]
    pool, val = _labelled_and_validation(labels, max(per_class, max(LABEL_CURVE)), seed)
    few = pool[first_per_class(labels[pool], per_class)]
    heldout = images[torch.randperm(len(images), generator=g)[: min(512, len(images))]]
    return Splits(name, images.shape[1], images.shape[-1], classes, TensorSource(images), heldout,
                  images[few], labels[few], test[0], test[1], images[pool], labels[pool], images[val], labels[val])


def digits(seed: int = 0, per_class: int = 10) -> Splits:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    images = F.interpolate(images, size=16, mode="bilinear", align_corners=False)
    return _from_arrays("digits", standardise(images), torch.tensor(d.target), [str(i) for i in range(10)],
                        seed, per_class)


def _read_cifar(path: Path, files: list[str], label_bytes: int, label_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    chunks, labels = [], []
    record = label_bytes + 3072
    for name in files:
        f = path / name
        if not f.is_file():
            raise FileNotFoundError(f"{f}: expected the CIFAR binary version (e.g. cifar-10-batches-bin)")
        raw = np.frombuffer(f.read_bytes(), dtype=np.uint8)
        if len(raw) % record:
            raise ValueError(f"{f}: size is not a multiple of {record} bytes; not a CIFAR binary file")
        raw = raw.reshape(-1, record)
        labels.append(torch.from_numpy(raw[:, label_index].astype(np.int64)))
        chunks.append(torch.from_numpy(raw[:, label_bytes:].reshape(-1, 3, 32, 32).copy()))
    return standardise(torch.cat(chunks).float() / 255), torch.cat(labels)


def cifar(path: str | Path, which: str = "cifar10", seed: int = 0, per_class: int = 10) -> Splits:
    path = Path(path)
    if which == "cifar10":
        train = _read_cifar(path, [f"data_batch_{i}.bin" for i in range(1, 6)], 1, 0)
        test = _read_cifar(path, ["test_batch.bin"], 1, 0)
        classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    else:
        train, test = _read_cifar(path, ["train.bin"], 2, 1), _read_cifar(path, ["test.bin"], 2, 1)
        classes = [str(i) for i in range(100)]
    return _from_arrays(which, train[0], train[1], classes, seed, per_class, test=test)


def imagefolder(path: str | Path, size: int = 32, seed: int = 0, per_class: int = 10) -> Splits:
    from PIL import Image

    root = Path(path)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    if not classes:
        raise FileNotFoundError(f"{root}: expected one sub-folder of images per class")
    images, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if file.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"):
                with Image.open(file) as im:
                    arr = np.asarray(im.convert("RGB").resize((size, size)), dtype=np.float32) / 255
                images.append(torch.from_numpy(arr).permute(2, 0, 1))
                labels.append(label)
    return _from_arrays("imagefolder", standardise(torch.stack(images)), torch.tensor(labels), classes, seed,
                        per_class)


def load(name: str, seed: int = 0, path: str | Path | None = None, per_class: int = 10, pool: int = 50_000) -> Splits:
    if name == "shapes":
        return shapes(seed, pool=pool, per_class=per_class)
    if name == "constellations":
        from reference_impls.constellations import constellations

        return constellations(seed, pool=pool, per_class=per_class)
    if name == "constellations-large":
        from reference_impls.constellations import large_constellations

        return large_constellations(seed, pool=pool, per_class=per_class)
    if name == "glyphs":
        from reference_impls.constellations import glyphs

        return glyphs(seed, pool=pool, per_class=per_class)
    if name == "digits":
        return digits(seed, per_class)
    if name in ("cifar10", "cifar100", "imagefolder") and path is None:
        raise ValueError(f"--data {name} reads a local copy: pass --data-path; nothing is downloaded")
    if name in ("cifar10", "cifar100"):
        return cifar(path, name, seed, per_class)
    if name == "imagefolder":
        return imagefolder(path, seed=seed, per_class=per_class)
    raise ValueError(f"unknown dataset '{name}': shapes, constellations, constellations-large, glyphs, digits, "
                     "imagefolder, cifar10 or cifar100")
