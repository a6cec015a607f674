"""Seeded train/validation split of a training set, and selection of a named split."""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.data.seeding import mix_seed
from genlab.errors import ConfigError


def split_indices(n: int, n_val: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Carve ``n_val`` validation rows out of ``n`` training rows with a seeded permutation.

    Returns ``(train_idx, val_idx)``, both sorted int64, disjoint, together ``0..n-1``; the same
    ``(n, n_val, seed)`` always gives the same split.
    """
    if not 0 <= n_val < n:
        raise ConfigError(f"n_val must be in [0, {n}) for a training set of {n} rows, got {n_val}")
    g = torch.Generator().manual_seed(mix_seed(seed, n, n_val))
    perm = torch.randperm(n, generator=g)  # (n,)
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def select_split(split: str, train_full: tuple[Tensor | None, ...], test: tuple[Tensor | None, ...],
                 *, n_val: int, seed: int) -> tuple[Tensor | None, ...]:
    """Rows of ``split`` from full-training and test tensors: ``train-full``, ``train``, ``val`` or ``test``.

    ``train`` and ``val`` come from ``split_indices(len(train_full[0]), n_val, seed)``.
    """
    if split == "test":
        return test
    if split == "train-full":
        return train_full
    if split not in ("train", "val"):
        raise ConfigError(f"unknown split {split!r}: use 'train', 'val', 'test' or 'train-full'")
    train_idx, val_idx = split_indices(len(train_full[0]), n_val, seed)
    idx = train_idx if split == "train" else val_idx
    return tuple(None if t is None else t[idx] for t in train_full)
