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


def fraction_split(n: int, split: str, *, seed: int, val_fraction: float, test_fraction: float,
                   what: str) -> Tensor:
    """The rows of ``split`` (``train``, ``val`` or ``test``) of a table of ``n`` rows cut by shares: a seeded
    permutation whose first ``round(n · test_fraction)`` rows are the test split, the next ``round(n ·
    val_fraction)`` validation, the rest training (int64 indices in that permuted order). ``what`` names the table
    (a file's path, a dataset) in the ``ConfigError`` when a split would be empty."""
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    if n_test < 1 or n_val < 1 or n - n_test - n_val < 1:
        raise ConfigError(f"{what} has {n} rows: too few for train, val and test splits with val_fraction "
                          f"{val_fraction} and test_fraction {test_fraction}; add rows or change the fractions")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))  # (n,)
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return parts[split]
