"""2-D toy datasets and digits: geometry, seeding, splits."""

from __future__ import annotations

import pytest
import torch

import genlab.data as data
from genlab.data.splits import split_indices

SMALL = {"n_train": 2_000, "n_val": 500, "n_test": 1_000}
TOYS = ["ring8", "grid25", "moons", "swissroll", "checkerboard"]


@pytest.mark.parametrize("name", TOYS)
def test_toy_splits_have_requested_sizes_and_2d_float_points(name):
    for split, n in {"train": 2_000, "val": 500, "test": 1_000, "train-full": 2_500}.items():
        d = data.load(name, split, **SMALL)
        assert d.x.shape == (n, 2) and d.x.dtype == torch.float32 and len(d) == n
        assert torch.isfinite(d.x).all()


@pytest.mark.parametrize("name", TOYS)
def test_toy_draws_are_reproducible_per_seed_and_test_differs_from_train(name):
    a, b = data.load(name, "test", seed=1, **SMALL), data.load(name, "test", seed=1, **SMALL)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, data.load(name, "test", seed=2, **SMALL).x)
    train = data.load(name, "train-full", seed=1, **SMALL).x
    assert not torch.equal(train[:1000], a.x)  # independent streams, not the same draw


def test_toy_val_is_carved_from_train_full():
    full = data.load("ring8", "train-full", **SMALL)
    train, val = data.load("ring8", "train", **SMALL), data.load("ring8", "val", **SMALL)
    train_idx, val_idx = split_indices(2_500, 500, 0)
    assert torch.equal(train.x, full.x[train_idx]) and torch.equal(val.x, full.x[val_idx])


def test_ring8_points_sit_on_radius_2_modes_with_std_002():
    d = data.load("ring8", **SMALL)
    assert d.modes.shape == (8, 2) and d.std == 0.02
    torch.testing.assert_close(d.modes.norm(dim=1), torch.full((8,), 2.0))
    offset = d.x - d.modes[d.y]  # (N, 2): pure Gaussian noise around the labelled mode
    assert abs(float(offset.std()) - 0.02) < 0.002
    assert (d.x.norm(dim=1) - 2).abs().max() < 0.15
    assert torch.bincount(d.y, minlength=8).min() > 180  # all 8 modes populated (≈ 250 each)


def test_grid25_modes_are_the_grid_minus4_to_4_spacing_2():
    d = data.load("grid25", **SMALL)
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    assert d.modes.shape == (25, 2) and d.std == 0.05
    assert set(map(tuple, d.modes.tolist())) == {(a, b) for a in ticks.tolist() for b in ticks.tolist()}
    nearest = torch.cdist(d.x, d.modes).argmin(dim=1)
    assert torch.equal(nearest, d.y)  # modes are 40 std apart: every point is nearest its own mode


def test_checkerboard_fills_alternate_squares_only():
    x = data.load("checkerboard", **SMALL).x
    assert x.abs().max() <= 4.0
    cell = torch.floor(x / 2).long()  # (N, 2) square index on a 4×4 board of side-2 squares
    parity = (cell[:, 0] + cell[:, 1]) % 2
    assert parity.unique().numel() == 1  # only one colour is populated
    occupied = set(map(tuple, cell.tolist()))
    assert len(occupied) == 8


def test_moons_labels_separate_the_two_arcs():
    d = data.load("moons", **SMALL)
    upper, lower = d.x[d.y == 0], d.x[d.y == 1]
    assert upper[:, 1].mean() > lower[:, 1].mean() + 0.8


def test_digits_are_8x8_images_in_unit_range_with_fixed_test_split():
    d = data.load("digits", "train-full")
    t = data.load("digits", "test")
    assert d.x.shape == (1_500, 1, 8, 8) and t.x.shape == (297, 1, 8, 8)
    assert float(d.x.min()) == 0.0 and float(d.x.max()) == 1.0
    assert set(d.y.unique().tolist()) == set(range(10))
    assert len(data.load("digits", "train")) + len(data.load("digits", "val")) == 1_500
    assert torch.equal(t.x, data.load("digits", "test", seed=7).x)  # test does not move with seed
