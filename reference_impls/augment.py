"""Image augmentations for the methods that compare two views of one image (iBOT, AttMask).

Everything is drawn per image on the images' device and applied in one batched `grid_sample`, so making the
views never waits for the host: a random resized crop (area 25-100 %, aspect 3/4-4/3) with a horizontal flip,
then brightness and contrast jitter and, for a fifth of the images, greyscale (the DINO/iBOT recipe, minus blur
and solarisation, which mean little at 32 px). `local_views` gives the multi-crop recipe's small crops: area
5-25 %, resized to half the image side (96 of 224 px in the papers).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_resized_crop(images: torch.Tensor, scale: tuple[float, float] = (0.25, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3), flip: float = 0.5,
                        size: int | None = None) -> torch.Tensor:
    """A crop of random area and aspect, resized to `size` px (default: the input's size), flipped left-right
    with `flip`."""
    b, device = images.shape[0], images.device
    u = lambda: torch.rand(b, device=device)  # noqa: E731
    area = scale[0] + (scale[1] - scale[0]) * u()
    log_ratio = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u()
    width = (area * log_ratio.exp()).sqrt().clamp(max=1.0)  # as a share of the image side
    height = (area / log_ratio.exp()).sqrt().clamp(max=1.0)
    cx = (u() * 2 - 1) * (1 - width)  # centre, in grid_sample's [-1, 1] coordinates, crop inside the image
    cy = (u() * 2 - 1) * (1 - height)
    sign = torch.where(u() < flip, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = width * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = height, cy
    out = list(images.shape[:2]) + ([size, size] if size else list(images.shape[2:]))
    grid = F.affine_grid(theta, out, align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def colour_jitter(images: torch.Tensor, brightness: float = 0.4, contrast: float = 0.4,
                  greyscale: float = 0.2) -> torch.Tensor:
    """Per-image brightness shift and contrast scale (on standardised images), and greyscale for a share."""
    b, device = images.shape[0], images.device
    shape = (b, 1, 1, 1)
    shift = (torch.rand(shape, device=device) * 2 - 1) * brightness * 4  # 4 = 1 / the standardisation's 0.25
    gain = 1 + (torch.rand(shape, device=device) * 2 - 1) * contrast
    mean = images.mean((1, 2, 3), keepdim=True)
    out = (images - mean) * gain + mean + shift
    grey = out.mean(1, keepdim=True).expand_as(out)
    return torch.where(torch.rand(shape, device=device) < greyscale, grey, out)


def two_views(images: torch.Tensor) -> torch.Tensor:
    """Two independently augmented views of every image, stacked as (2B, C, H, W): view 1 of all images,
    then view 2 of all images."""
    both = torch.cat([images, images])
    return colour_jitter(random_resized_crop(both))


def local_views(images: torch.Tensor, count: int, size: int, scale: tuple[float, float] = (0.05, 0.25)) -> torch.Tensor:
    """`count` small crops of every image (area 5-25 %), each resized to `size` px and jittered like the global
    views, stacked as (count * B, C, size, size): crop 1 of all images, then crop 2, ..."""
    many = images.repeat(count, 1, 1, 1)
    return colour_jitter(random_resized_crop(many, scale=scale, size=size))
