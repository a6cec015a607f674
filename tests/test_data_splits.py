"""The seeded train/val split: a partition, deterministic per seed."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.data.splits import split_indices


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 500), frac=st.floats(0, 0.99), seed=st.integers(0, 2**31))
def test_train_and_val_are_disjoint_and_cover_the_training_set(n, frac, seed):
    n_val = min(int(frac * n), n - 1)
    train, val = split_indices(n, n_val, seed)
    assert len(val) == n_val and len(train) == n - n_val
    assert not set(train.tolist()) & set(val.tolist())
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(n))


def test_same_seed_same_split_other_seed_other_split():
    a, b = split_indices(60_000, 5_000, 0), split_indices(60_000, 5_000, 0)
    assert torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])
    assert not torch.equal(a[1], split_indices(60_000, 5_000, 1)[1])
