"""Shared building blocks: patchify, ViT, masks, datasets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference_impls import data, masking
from reference_impls.patches import patchify, unpatchify
from reference_impls.vit import SIZES, ViT, sincos_2d


def test_patchify_round_trip_and_layout():
    images = torch.randn(2, 3, 32, 24)
    patches = patchify(images, 8)
    assert patches.shape == (2, 12, 8 * 8 * 3)
    assert torch.equal(unpatchify(patches, 8, 3, 32, 24), images)
    # patch 1 is the second patch of the first row: columns 8..15
    assert torch.equal(patches[0, 1].reshape(8, 8, 3).permute(2, 0, 1), images[0, :, :8, 8:16])
    with pytest.raises(ValueError):
        patchify(images, 5)


@pytest.mark.parametrize("size", list(SIZES))
def test_vit_shapes_every_size(size):
    vit = ViT(image_size=16, patch=8, channels=3, size=size)
    out = vit(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 1 + 4, SIZES[size].dim)
    assert vit.pooled(torch.randn(2, 3, 16, 16)).shape == (2, SIZES[size].dim)


def test_vit_parameter_count_matches_the_standard_sizes():
    count = lambda s: sum(p.numel() for p in ViT(224, 16, 3, s).blocks.parameters())  # noqa: E731
    assert count("tiny") == pytest.approx(5.3e6, rel=0.05)
    assert count("base") == pytest.approx(85.0e6, rel=0.02)


def test_vit_keep_mask_and_no_class_token():
    vit = ViT(32, 4, 3, "micro", class_token=False)
    keep = torch.arange(10).repeat(2, 1)
    assert vit(torch.randn(2, 3, 32, 32), keep=keep).shape == (2, 10, 64)
    mask = torch.zeros(2, 64, dtype=torch.bool)
    token = torch.zeros(1, 1, 64)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(vit(x, mask=mask, mask_token=token), vit(x))


def test_sincos_embeddings_are_distinct_and_fixed():
    pe = sincos_2d(4, 4, 32)
    assert pe.shape == (16, 32)
    assert torch.cdist(pe, pe).add(torch.eye(16) * 10).min() > 0.1
    assert "pos_embed" not in dict(ViT(32, 4, 3, "micro").named_parameters())


@pytest.mark.parametrize("ratio", [0.1, 0.4, 0.6, 0.75, 0.9])
def test_masks_have_exact_ratio_and_static_shape(ratio):
    g = torch.Generator().manual_seed(0)
    n = 64
    expected = masking.num_masked(n, ratio)
    for mask in (masking.random_mask(5, 8, ratio, g), masking.coarse_random_mask(5, 8, ratio, 8, 4, g),
                 masking.block_mask(5, 8, ratio, g)):
        assert mask.shape == (5, n) and mask.dtype == torch.bool
        assert (mask.sum(1) == expected).all()
        keep = masking.keep_indices(mask, n - expected)
        assert keep.shape == (5, n - expected)
        assert not mask.gather(1, keep).any()


def test_coarse_and_block_masks_are_clustered():
    g = torch.Generator().manual_seed(1)

    def neighbours(mask):  # masked patches whose right neighbour is masked too
        grid = mask.reshape(-1, 8, 8)
        return (grid[:, :, :-1] & grid[:, :, 1:]).float().mean()

    random = neighbours(masking.random_mask(200, 8, 0.4, g))
    assert neighbours(masking.coarse_random_mask(200, 8, 0.4, 8, 4, g)) > random + 0.05
    assert neighbours(masking.block_mask(200, 8, 0.4, g)) > random + 0.05


def test_block_masks_hit_every_border_equally():
    """Trimming to the exact count used to mask the top row more often than the bottom one (0.26 vs 0.14)."""
    g = torch.Generator().manual_seed(2)
    grid = masking.block_mask(4000, 8, 0.4, g).reshape(-1, 8, 8).float()
    borders = [grid[:, 0].mean(), grid[:, -1].mean(), grid[:, :, 0].mean(), grid[:, :, -1].mean()]
    assert max(borders) - min(borders) < 0.02


def test_masks_with_a_count_per_image_are_exact_and_still_blocks():
    g = torch.Generator().manual_seed(3)
    counts = masking.mask_counts(300, 64, 0.1, 0.5, 0.5, generator=g)
    mask = masking.block_mask(300, 8, 0.5, g, counts=counts)
    assert torch.equal(mask.sum(1), counts)
    grid = mask.reshape(-1, 8, 8)
    together = (grid[:, :, :-1] & grid[:, :, 1:]).sum() / grid.sum()
    scattered = masking.ranked_mask(torch.rand(300, 64, generator=g), counts).reshape(-1, 8, 8)
    assert together > (scattered[:, :, :-1] & scattered[:, :, 1:]).sum() / scattered.sum() + 0.2
    attention = torch.arange(16, dtype=torch.float32).repeat(2, 1)
    hidden = masking.attention_guided_mask(attention, 0.5, randomness=0.0, counts=torch.tensor([0, 3]))
    assert not hidden[0].any() and hidden[1, 13:].all() and hidden[1].sum() == 3


def test_attention_guided_mask_hides_most_attended():
    attention = torch.arange(16, dtype=torch.float32).repeat(3, 1)
    mask = masking.attention_guided_mask(attention, 0.25, randomness=0.0)
    assert (mask.sum(1) == 4).all() and mask[:, 12:].all()


def test_mask_ratio_is_validated():
    with pytest.raises(ValueError):
        masking.num_masked(64, 1.0)


def test_shapes_dataset_is_deterministic_and_structural():
    a, b = data.shapes(seed=0, pool=1000), data.shapes(seed=0, pool=1000)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.pretrain.get(torch.arange(8)), b.pretrain.get(torch.arange(8)))
    c = data.shapes(seed=1, pool=1000)
    assert not torch.equal(a.train_x, c.train_x)
    assert torch.equal(a.test_x, c.test_x)  # one fixed test set
    assert a.train_x.shape == (100, 3, 32, 32) and len(a.pretrain) == 1000
    assert torch.bincount(a.train_y).tolist() == [10] * 10
    # mean colour carries (almost) no class information: per-class means are close
    means = torch.stack([a.test_x[a.test_y == k].mean() for k in range(10)])
    assert means.std() < 0.15


def test_shapes_need_more_than_simple_statistics():
    """With 300 labels per class, a linear model on simple statistics stays far below a small supervised
    network: the classes differ in structure, not in colour, intensity or edge density."""
    from torch import nn

    from reference_impls.evaluate import linear_probe
    from reference_impls.handcrafted import simple_statistics

    train_x, train_y = data.labelled_shapes(300, seed=11)
    test_x, test_y = data.labelled_shapes(100, seed=12)
    probe = lambda f: float(linear_probe(f(train_x), train_y, f(test_x), test_y, 10, 300, 0).float().mean())  # noqa: E731
    colour, simple = probe(lambda x: x.mean((2, 3))), probe(simple_statistics)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    opt = torch.optim.AdamW(net.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(400):
        idx = torch.randint(0, len(train_x), (128,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(net(train_x[idx]), train_y[idx]).backward()
        opt.step()
    with torch.no_grad():
        ceiling = float((net(test_x).argmax(1) == test_y).float().mean())
    assert ceiling > 0.55 and colour < 0.2 and simple < 0.6 * ceiling, (colour, simple, ceiling)


def test_shapes_pool_meets_the_size_requirement():
    pool = data.shapes(seed=0).pretrain
    assert len(pool) >= 50_000
    assert pool.get(torch.tensor([49_999])).shape == (1, 3, 32, 32)


def test_digits_dataset():
    d = data.digits(seed=0)
    assert d.channels == 1 and d.image_size == 16 and len(d.train_x) == 100 and len(d.test_x) > 400


def test_cifar_binary_reader(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in [(f"data_batch_{i}.bin", 20) for i in range(1, 6)] + [("test_batch.bin", 30)]:
        records = np.concatenate([rng.integers(0, 10, (n, 1)), rng.integers(0, 256, (n, 3072))], 1)
        (tmp_path / name).write_bytes(records.astype(np.uint8).tobytes())
    splits = data.cifar(tmp_path, "cifar10", per_class=2)
    assert len(splits.pretrain) == 100 and len(splits.test_x) == 30 and splits.channels == 3
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a CIFAR binary file"):
        data.cifar(tmp_path, "cifar10")


def test_imagefolder_reader(tmp_path):
    from PIL import Image

    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            Image.new("RGB", (40, 30), (i * 40, 10, 200 if cls == "cats" else 0)).save(tmp_path / cls / f"{i}.png")
    splits = data.imagefolder(tmp_path, size=16, per_class=2)
    assert splits.classes == ["cats", "dogs"] and splits.train_x.shape[1:] == (3, 16, 16)
    with pytest.raises(ValueError, match="nothing is downloaded"):
        data.load("cifar10")


def test_constellations_are_structure_not_colour_filling():
    """Almost no flat patch (shapes has 83.5 %), deterministic per seed, one fixed test set, balanced classes,
    colours that say nothing about the class, and four glyphs per image whatever the class."""
    from reference_impls.constellations import constellations

    a, b = constellations(seed=0, pool=500), constellations(seed=0, pool=500)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.pretrain.get(torch.arange(8)), b.pretrain.get(torch.arange(8)))
    c = constellations(seed=1, pool=500)
    assert not torch.equal(a.train_x, c.train_x) and torch.equal(a.test_x, c.test_x)
    assert torch.bincount(a.test_y).tolist() == [100] * 10 and a.pretrain.get(torch.tensor([499])).shape == (1, 3, 32, 32)
    patches = (a.test_x * 0.25).unfold(2, 4, 4).unfold(3, 4, 4)
    assert float((patches.std(dim=(-1, -2)).amax(1) < 0.02).float().mean()) < 0.05
    means = torch.stack([a.test_x[a.test_y == k].mean() for k in range(10)])
    assert means.std() < 0.1


def test_constellation_classes_differ_only_in_arrangement():
    """The same parameters rendered as two classes differ only where the glyphs moved: stripes and colours stay."""
    from reference_impls.constellations import constellation_params, render_constellations

    p = constellation_params(2, seed=5, labels=torch.tensor([0, 0]))
    q = {k: v.clone() for k, v in p.items()}
    q["cls"] = q["layout"] = torch.tensor([1, 1])  # a column instead of a row
    row, column = render_constellations(p), render_constellations(q)
    changed = (row - column).abs().amax(1) > 0.5
    assert 0 < changed.float().mean() < 0.3


def test_glyph_classes_differ_only_in_the_glyph_drawn():
    """`glyphs`: the class is the glyph's kind; rendered as two classes, the same parameters differ only inside the
    glyphs, and the arrangement is drawn at random, not by the class."""
    from reference_impls.constellations import GLYPH_CLASSES, glyph_params, glyphs, render_constellations

    p = glyph_params(2, seed=5, labels=torch.tensor([0, 0]))
    q = {k: v.clone() for k, v in p.items()}
    q["cls"] = q["glyph"] = torch.tensor([8, 8])  # a frame instead of a disc
    changed = (render_constellations(p) - render_constellations(q)).abs().amax(1) > 0.5
    assert 0 < changed.float().mean() < 0.15
    data = glyphs(seed=0, pool=200)
    assert data.classes == GLYPH_CLASSES and torch.bincount(data.test_y).tolist() == [100] * 10
    layouts = glyph_params(1000, seed=3)["layout"]
    assert torch.bincount(layouts, minlength=10).min() > 60  # every arrangement, whatever the class


def test_constellation_classes_are_not_in_simple_statistics():
    """Mean colour and simple image statistics leave a linear probe near chance (10 %) with 100 labels per class;
    the ViT's supervised ceiling (96 % with 1,000 labels per class) is measured by benchmarks/bench_datasets.py."""
    from reference_impls.constellations import labelled_constellations
    from reference_impls.evaluate import linear_probe
    from reference_impls.handcrafted import simple_statistics

    train_x, train_y = labelled_constellations(100, seed=11)
    test_x, test_y = labelled_constellations(60, seed=12)
    probe = lambda f: float(linear_probe(f(train_x), train_y, f(test_x), test_y, 10, 300, 0).float().mean())  # noqa: E731
    colour, simple = probe(lambda x: x.mean((2, 3))), probe(simple_statistics)
    assert colour < 0.16 and simple < 0.2, (colour, simple)
