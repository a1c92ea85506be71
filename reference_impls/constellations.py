"""`constellations`: a procedural dataset on which masked prediction needs structure and the class is structure.

Why a second procedural dataset beside `shapes`: on `shapes` 83.5 % of 4 x 4 patches are flat, so masked
prediction is mostly filling in a colour, and the colours are random while the classes are not; pooled HOG beat
every pretrained encoder there. Here every image is:
- a background of stripes (random orientation, period and phase, low contrast), so almost no patch is flat and a
  masked patch is predicted by continuing the stripes seen around it, not by the image's mean colour;
- four copies of one small glyph (disc, square, ring, cross, triangle or bar; one kind and one colour per
  image), placed on a lattice in one of ten class-defining arrangements ("constellations": a row, a column,
  two diagonals, a 2 x 2 square, a diamond, an L, a T, an S, a zigzag), with a random spacing and offset.
A masked glyph is predicted from the three visible ones (same kind, same colour, where the arrangement says it
must be), and the class is the arrangement: glyph kind, colours, stripe texture and edge density carry no
class information, and pooled gradient histograms see little of it (measured in `benchmarks/bench_datasets.py`).
Horizontal flips change some classes (the diagonals, L, S), so probes on this dataset do not flip.

Two variants share the renderer: `constellations-large` (larger glyphs, so more of what is masked is the class;
the second CPU demonstration's data) and `glyphs` (the class is the glyph's kind, ten kinds, the arrangement
random). Both were chosen or set aside on validation images only (benchmarks/results/demo-screen.json).
"""

from __future__ import annotations

import math

import torch

from reference_impls.data import ShapesSource, Splits, VAL_PER_CLASS, LABEL_CURVE, first_per_class, standardise

CONSTELLATION_CLASSES = ["row", "column", "diagonal down", "diagonal up", "square", "diamond", "L", "T", "S",
                         "zigzag"]
# lattice positions (column, row) of the four glyphs of each class
LAYOUTS = torch.tensor([
    [(0, 0), (1, 0), (2, 0), (3, 0)],
    [(0, 0), (0, 1), (0, 2), (0, 3)],
    [(0, 0), (1, 1), (2, 2), (3, 3)],
    [(0, 3), (1, 2), (2, 1), (3, 0)],
    [(0, 0), (1, 0), (0, 1), (1, 1)],
    [(1, 0), (0, 1), (2, 1), (1, 2)],
    [(0, 0), (0, 1), (0, 2), (1, 2)],
    [(0, 0), (1, 0), (2, 0), (1, 1)],
    [(1, 0), (2, 0), (0, 1), (1, 1)],
    [(0, 0), (1, 1), (2, 0), (3, 1)],
], dtype=torch.float32)
GLYPHS = 6
STRIPE_CONTRAST = 0.12  # of the [0, 1] range; glyphs differ from the background by at least 0.35
NOISE = 0.03
GLYPH_RADIUS = 0.32  # of the lattice spacing (plus up to 0.06 at random)


def constellation_params(n: int, seed: int, labels: torch.Tensor | None = None, size: int = 32,
                         glyph_radius: float | None = None) -> dict[str, torch.Tensor]:
    """Per-image parameters (class = arrangement, glyph kind and size, spacing, offset, colours, stripes, noise
    seed)."""
    g = torch.Generator().manual_seed(seed)
    u = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    cls = labels if labels is not None else torch.randint(0, len(CONSTELLATION_CLASSES), (n,), generator=g)
    spacing = size * (0.19 + 0.04 * u(n))  # 6.1-7.4 px at 32 px
    extent = LAYOUTS[cls].amax(1) * spacing[:, None]  # (n, 2): the arrangement's width and height
    radius = spacing * ((GLYPH_RADIUS if glyph_radius is None else glyph_radius) + 0.06 * u(n))
    margin = radius + 1
    offset = margin[:, None] + u(n, 2) * (size - 2 * margin[:, None] - extent).clamp_min(0)
    bg, fg = u(n, 3) * 0.7 + 0.15, u(n, 3)
    low = (fg - bg).abs().mean(1) < 0.35
    fg[low] = (bg[low] + 0.5) % 1.0  # keep the glyphs visible against the stripes
    return dict(cls=cls, layout=cls, glyph=torch.randint(0, GLYPHS, (n,), generator=g), radius=radius, spacing=spacing,
                offset=offset, fg=fg, bg=bg, stripe_angle=u(n) * math.pi, stripe_period=3.5 + 4.5 * u(n),
                stripe_phase=u(n) * 2 * math.pi, noise=torch.randint(0, 2**31 - 1, (n,), generator=g))


def glyph_mask(p: dict[str, torch.Tensor], size: int = 32, device="cpu") -> torch.Tensor:
    """(n, size, size) True where a glyph covers the pixel: what the class is made of (the rest is stripes)."""
    p = {k: v.to(device) for k, v in p.items()}
    n = len(p["cls"])
    axis = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    centres = p["offset"][:, None] + LAYOUTS.to(device)[p["layout"]] * p["spacing"][:, None, None]  # (n, 4, 2)
    u = (x[None, None] - centres[..., 0, None, None]) / p["radius"][:, None, None, None]  # (n, 4, H, W)
    v = (y[None, None] - centres[..., 1, None, None]) / p["radius"][:, None, None, None]
    rad = (u ** 2 + v ** 2).sqrt()
    kinds = torch.stack([
        rad < 1,  # disc
        torch.maximum(u.abs(), v.abs()) < 0.85,  # square
        (rad < 1.05) & (rad > 0.55),  # ring
        ((u.abs() < 0.3) & (v.abs() < 1)) | ((v.abs() < 0.3) & (u.abs() < 1)),  # cross
        (v < 0.7) & (v > 1.9 * u.abs() - 1.0),  # triangle
        (u.abs() < 1) & (v.abs() < 0.35),  # bar
        u.abs() + v.abs() < 1.1,  # diamond (the kinds from here on are drawn only in `glyphs`)
        (((u - v).abs() < 0.45) | ((u + v).abs() < 0.45)) & (torch.maximum(u.abs(), v.abs()) < 0.9),  # X
        (torch.maximum(u.abs(), v.abs()) < 0.9) & (torch.maximum(u.abs(), v.abs()) > 0.5),  # frame
        (rad < 1) & (v > 0),  # half disc
    ], dim=1)  # (n, kinds, 4, H, W)
    return kinds[torch.arange(n, device=device), p["glyph"]].any(1)


def render_constellations(p: dict[str, torch.Tensor], size: int = 32, device="cpu",
                          noise: torch.Generator | None = None) -> torch.Tensor:
    """Render images from parameters, vectorised over the batch (as `data.render_shapes`)."""
    p = {k: v.to(device) for k, v in p.items()}
    axis = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    angle = p["stripe_angle"][:, None, None]
    along = x[None] * angle.cos() + y[None] * angle.sin()
    stripes = torch.sin(2 * math.pi * along / p["stripe_period"][:, None, None] + p["stripe_phase"][:, None, None])
    images = p["bg"][:, :, None, None] + STRIPE_CONTRAST * stripes[:, None]
    inside = glyph_mask(p, size, device).float()[:, None]
    images = inside * p["fg"][:, :, None, None] + (1 - inside) * images
    if noise is None:  # a fixed set: its noise depends on its parameters only
        noise = torch.Generator(device=device).manual_seed(int(p["noise"].sum().item()) % (2**31 - 1))
    images = images + NOISE * torch.randn(images.shape, generator=noise, device=device)
    return standardise(images.clamp(0, 1))


LARGE_RADIUS = 0.42  # `constellations-large`: the radius the design screen chose (benchmarks/results/demo-screen.json)


def large_constellation_params(n: int, seed: int, labels: torch.Tensor | None = None,
                               size: int = 32) -> dict[str, torch.Tensor]:
    """`constellations-large`: the same classes and draws with larger glyphs (radius 0.42-0.48 of the spacing
    instead of 0.32-0.38), so more of each masked image shows the glyphs whose arrangement is the class."""
    return constellation_params(n, seed, labels, size, LARGE_RADIUS)


GLYPH_CLASSES = ["disc", "square", "ring", "cross", "triangle", "bar", "diamond", "X", "frame", "half disc"]


def glyph_params(n: int, seed: int, labels: torch.Tensor | None = None, size: int = 32) -> dict[str, torch.Tensor]:
    """`glyphs`: the same images, but the class is the glyph's kind and the arrangement is drawn at random."""
    params = constellation_params(n, seed, None, size, LARGE_RADIUS)
    g = torch.Generator().manual_seed(seed * 7 + 5)
    params["cls"] = labels if labels is not None else torch.randint(0, len(GLYPH_CLASSES), (n,), generator=g)
    params["glyph"] = params["cls"].clone()
    return params


class ConstellationSource(ShapesSource):
    """The unlabelled pool, rendered per batch on the training device (see `data.ShapesSource`)."""

    make_params = staticmethod(constellation_params)
    render = staticmethod(render_constellations)


class LargeConstellationSource(ConstellationSource):
    make_params = staticmethod(large_constellation_params)


class GlyphSource(ConstellationSource):
    make_params = staticmethod(glyph_params)


def _labelled(make, classes: int, per_class: int, seed: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    params = make(classes * per_class, seed, torch.arange(classes).repeat_interleave(per_class), size)
    return render_constellations(params, size), params["cls"]


def labelled_constellations(per_class: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """`per_class` rendered images of every class, class by class."""
    return _labelled(constellation_params, len(CONSTELLATION_CLASSES), per_class, seed, size)


def labelled_large_constellations(per_class: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    return _labelled(large_constellation_params, len(CONSTELLATION_CLASSES), per_class, seed, size)


def labelled_glyphs(per_class: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    return _labelled(glyph_params, len(GLYPH_CLASSES), per_class, seed, size)


def _splits(name: str, source, labelled, classes: list[str], seed: int, pool: int, per_class: int,
            test_per_class: int, size: int, labelled_per_class: int) -> Splits:
    labelled_x, labelled_y = labelled(max(per_class, labelled_per_class), seed * 1000 + 1, size)
    keep = first_per_class(labelled_y, per_class)
    return Splits(name, 3, size, classes, source(pool, seed * 1000 + 2, size),
                  render_constellations(source.make_params(512, seed * 1000 + 3, size=size), size),
                  labelled_x[keep], labelled_y[keep], *labelled(test_per_class, 10_000_019, size),
                  labelled_x, labelled_y, *labelled(VAL_PER_CLASS, seed * 1000 + 4, size))


def constellations(seed: int = 0, pool: int = 50_000, per_class: int = 10, test_per_class: int = 100,
                   size: int = 32, labelled_per_class: int = max(LABEL_CURVE)) -> Splits:
    """Splits as `data.shapes` gives them (one fixed test set, per-seed labelled, validation and held-out)."""
    return _splits("constellations", ConstellationSource, labelled_constellations, CONSTELLATION_CLASSES, seed,
                   pool, per_class, test_per_class, size, labelled_per_class)


def large_constellations(seed: int = 0, pool: int = 50_000, per_class: int = 10, test_per_class: int = 100,
                         size: int = 32, labelled_per_class: int = max(LABEL_CURVE)) -> Splits:
    """`constellations-large` splits: `constellations` with larger glyphs."""
    return _splits("constellations-large", LargeConstellationSource, labelled_large_constellations,
                   CONSTELLATION_CLASSES, seed, pool, per_class, test_per_class, size, labelled_per_class)


def glyphs(seed: int = 0, pool: int = 50_000, per_class: int = 10, test_per_class: int = 100,
           size: int = 32, labelled_per_class: int = max(LABEL_CURVE)) -> Splits:
    """`glyphs` splits: class = glyph kind (ten kinds), in a random arrangement, larger glyphs."""
    return _splits("glyphs", GlyphSource, labelled_glyphs, GLYPH_CLASSES, seed, pool, per_class, test_per_class,
                   size, labelled_per_class)
