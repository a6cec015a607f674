"""scikit-learn's 8×8 digits (1,797 images, UCI optdigits test set), scaled to [0, 1]."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from genlab.data.splits import select_split, split_indices
from genlab.data.tensors import TensorData

N_TEST = 297  # held out with a fixed permutation: train-full = 1,500 images
TEST_SEED = 1797


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().div_(16.0).unsqueeze(1)  # (1797, 1, 8, 8) in [0, 1]
    y = torch.from_numpy(bunch.target).long()  # (1797,)
    return x, y


def load_digits(split: str = "train", *, seed: int = 0, n_val: int = 150) -> TensorData:
    """Digits split: ``test`` (297 images, fixed), ``train-full`` (the other 1,500), and ``train`` /
    ``val`` (``n_val``) carved from ``train-full`` with ``seed``. x ``(N, 1, 8, 8)`` float32 in [0, 1]."""
    x, y = _digits()
    full_idx, test_idx = split_indices(len(x), N_TEST, TEST_SEED)
    xs, ys = select_split(split, (x[full_idx], y[full_idx]), (x[test_idx], y[test_idx]),
                          n_val=n_val, seed=seed)
    return TensorData(x=xs, y=ys, name="digits", split=split, kind="image")  # (indexing copied the rows)
