"""TensorLoader: coverage, order, DDP sharding, resumption, dynamic binarization (batches of x, y; the
other named fields, padding and bucketing are in test_data_batches.py)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils.data import DistributedSampler

from genlab.data import Batch, TensorLoader
from genlab.errors import ConfigError, ShapeError

N = 103  # not a multiple of batch sizes or world sizes: exercises the ragged last batch and padding


def make(n: int = N) -> dict[str, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)  # (n, 3): row i holds i
    y = torch.arange(n)  # (n,)
    return {"x": x, "y": y}


def epoch_rows(loader: TensorLoader) -> list[int]:
    return [int(i) for b in loader for i in b["y"]]


def test_one_epoch_visits_every_row_once_with_x_and_y_aligned():
    loader = TensorLoader(make(), batch_size=10, seed=0)
    batches = list(loader)
    assert len(batches) == len(loader) == 11
    assert all(isinstance(b, Batch) and list(b) == ["x", "y"] for b in batches)
    assert [b.size for b in batches] == [10] * 10 + [3]
    rows = [int(i) for b in batches for i in b["y"]]
    assert sorted(rows) == list(range(N)) and rows != list(range(N))
    assert all(torch.equal(b["x"][:, 0].long(), b["y"]) for b in batches)


def test_each_iter_call_starts_a_new_epoch_with_a_new_order():
    loader = TensorLoader(make(), batch_size=10)
    first, second = epoch_rows(loader), epoch_rows(loader)
    assert loader.epoch == 2 and sorted(first) == sorted(second) and first != second
    again = TensorLoader(make(), batch_size=10)
    assert epoch_rows(again) == first  # same seed, same order


def test_set_epoch_selects_the_permutation():
    a, b = TensorLoader(make(), batch_size=10), TensorLoader(make(), batch_size=10)
    epoch_rows(a)
    second = epoch_rows(a)
    b.set_epoch(1)
    assert epoch_rows(b) == second


def test_drop_last_and_no_shuffle():
    loader = TensorLoader(make(), batch_size=10, shuffle=False, drop_last=True)
    assert len(loader) == 10 and epoch_rows(loader) == list(range(100))


@pytest.mark.parametrize("world_size", [2, 3, 4])
@pytest.mark.parametrize("shuffle", [True, False])
def test_shards_match_distributed_sampler(world_size, shuffle):
    fields = make()
    for rank in range(world_size):
        sampler = DistributedSampler(fields["y"], num_replicas=world_size, rank=rank, shuffle=shuffle, seed=5)
        loader = TensorLoader(fields, batch_size=7, shuffle=shuffle, seed=5, rank=rank, world_size=world_size)
        for epoch in (0, 1):
            sampler.set_epoch(epoch)
            assert epoch_rows(loader) == list(sampler)


def test_ranks_see_disjoint_rows_that_cover_the_data():
    fields = make(120)  # divisible by 4: no padding rows at all
    shards = [set(epoch_rows(TensorLoader(fields, batch_size=8, rank=r, world_size=4))) for r in range(4)]
    assert all(len(s) == 30 for s in shards)
    assert set().union(*shards) == set(range(120)) and sum(map(len, shards)) == 120
    # 103 rows on 4 ranks: 1 padding row, the rest still disjoint
    rows = [epoch_rows(TensorLoader(make(), batch_size=8, rank=r, world_size=4)) for r in range(4)]
    flat = [i for r in rows for i in r]
    assert len(flat) == 104 and set(flat) == set(range(N))


def stream(loader: TensorLoader, n_batches: int) -> list[Batch]:
    """``n_batches`` batches across epochs, calling iter() per epoch like a training loop."""
    out: list = []
    while len(out) < n_batches:
        out += list(itertools.islice(iter(loader), n_batches - len(out)))
    return out


@pytest.mark.parametrize("stop", [3, 6, 11, 12, 22])
@pytest.mark.parametrize("binarize", ["none", "dynamic"])
@pytest.mark.parametrize("rank", [0, 1])
def test_resume_from_state_dict_gives_the_same_batches(stop, binarize, rank):
    fields = {"x": torch.rand(N, 1, 4, 4, generator=torch.Generator().manual_seed(0)), "y": torch.arange(N)}
    kw = dict(batch_size=10, seed=3, binarize=binarize, rank=rank, world_size=2)
    # 6 batches per epoch per rank; 1.5 epochs ≈ 9 batches, 3.5 epochs = 21
    total = stop + 9
    reference = stream(TensorLoader(fields, **kw), total)

    first = TensorLoader(fields, **kw)
    head = []
    it = iter(first)
    while len(head) < stop:  # stop mid-epoch (or exactly at an epoch's end), epochs rolled by iter()
        try:
            head.append(next(it))
        except StopIteration:
            it = iter(first)
    state = first.state_dict()
    resumed = TensorLoader(fields, **{**kw, "seed": 999})  # the seed comes from the state
    resumed.load_state_dict(state)
    tail = stream(resumed, total - stop)
    got = head + tail
    assert len(got) == len(reference)
    for g, r in zip(got, reference, strict=True):
        assert torch.equal(g["y"], r["y"]) and torch.equal(g["x"], r["x"])


def test_state_dict_counts_yielded_batches_and_rolls_over_when_a_pass_ends():
    loader = TensorLoader(make(), batch_size=10)
    assert loader.state_dict() == {"epoch": 0, "batch": 0, "seed": 0}
    assert len(list(itertools.islice(iter(loader), 11))) == 11  # the whole epoch, no StopIteration
    assert loader.state_dict() == {"epoch": 0, "batch": 11, "seed": 0}
    list(itertools.islice(iter(loader), 4))
    assert loader.state_dict() == {"epoch": 1, "batch": 4, "seed": 0}
    list(loader)
    assert loader.state_dict() == {"epoch": 3, "batch": 0, "seed": 0}  # epoch 2 ended with StopIteration


def test_restored_end_of_epoch_state_ends_that_epoch_then_starts_the_next():
    loader = TensorLoader(make(), batch_size=10)
    loader.load_state_dict({"epoch": 0, "batch": 11, "seed": 0})
    assert list(loader) == []
    reference = TensorLoader(make(), batch_size=10)
    reference.set_epoch(1)
    assert epoch_rows(loader) == epoch_rows(reference)


def test_calling_iter_twice_before_fetching_does_not_skip_an_epoch():
    loader = TensorLoader(make(), batch_size=10)
    iter(loader)
    assert epoch_rows(loader) == epoch_rows(TensorLoader(make(), batch_size=10))


def test_dynamic_binarization_draws_fresh_bits_each_epoch_with_right_mean():
    x = torch.full((512, 1, 4, 4), 0.3)
    loader = TensorLoader({"x": x}, batch_size=512, shuffle=False, binarize="dynamic")
    [a], [b] = [batch["x"] for batch in loader], [batch["x"] for batch in loader]
    assert set(a.unique().tolist()) == {0.0, 1.0} and not torch.equal(a, b)
    assert abs(float(a.mean()) - 0.3) < 0.02
    assert (x == 0.3).all()  # the stored probabilities are untouched


def test_invalid_arguments_raise_actionable_errors():
    fields = make()
    with pytest.raises(ShapeError, match="same first dimension"):
        TensorLoader({"x": fields["x"], "y": fields["y"][:-1]}, batch_size=4)
    with pytest.raises(ConfigError, match="named fields"):
        TensorLoader(fields["x"], batch_size=4)
    with pytest.raises(ConfigError):
        TensorLoader(fields, batch_size=0)
    with pytest.raises(ConfigError, match="world_size"):
        TensorLoader(fields, batch_size=4, rank=2, world_size=2)
    with pytest.raises(ConfigError, match="float field 'x'"):
        TensorLoader({"y": fields["y"]}, batch_size=4, binarize="dynamic")
    with pytest.raises(ConfigError, match="lacks"):
        TensorLoader(fields, batch_size=4).load_state_dict({"epoch": 0})
    with pytest.raises(ConfigError, match="batches"):
        TensorLoader(fields, batch_size=4).load_state_dict({"epoch": 0, "batch": 99, "seed": 0})
