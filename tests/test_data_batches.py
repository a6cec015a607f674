"""Named batches: TensorData fields of any dtype, padded fields with their lengths, bucketing by
length, sharding and exact resume of such batches, and the JSON-safe Vocabulary."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from test_data_loader import stream

from genlab.data import Batch, TensorData, TensorLoader, Vocabulary
from genlab.errors import ConfigError, ShapeError

N = 90


def src_length(i: torch.Tensor) -> torch.Tensor:
    return 1 + (i * 7) % 13  # 1..13, uncorrelated with the row order


def tgt_length(i: torch.Tensor) -> torch.Tensor:
    return 2 + (i * 5) % 17  # 2..18: target rows are longer than source rows, on other rows


def padded(lengths: torch.Tensor) -> torch.Tensor:
    """Row ``i`` holds ``i + 1`` in its first ``lengths[i]`` positions and pad 0 after: ``(N, max)``."""
    width = int(lengths.max())
    keep = torch.arange(width) < lengths[:, None]  # (N, width)
    return torch.where(keep, torch.arange(1, len(lengths) + 1)[:, None], 0)


def tokens(n: int = N) -> TensorData:
    lengths = src_length(torch.arange(n))
    return TensorData(tokens=padded(lengths), tokens_lengths=lengths, kind="tokens",
                      lengths={"tokens": "tokens_lengths"}, name="toy-lm", split="train")


def pairs(n: int = N) -> TensorData:
    s, t = src_length(torch.arange(n)), tgt_length(torch.arange(n))
    fields = {"src": padded(s), "src_lengths": s, "tgt": padded(t), "tgt_lengths": t}
    return TensorData(fields, kind="pairs", lengths={"src": "src_lengths", "tgt": "tgt_lengths"},
                      meta={"vocabulary": Vocabulary(map(str, range(1, n + 1))).to_list()},
                      name="toy-pairs", split="train")


def row_ids(batch: Batch) -> list[int]:
    """The dataset row of each batch row: its padded field's first token minus 1."""
    return (next(iter(batch.values()))[:, 0] - 1).tolist()


def check_pair_batch(batch: Batch) -> None:
    """Every field is sliced from the same rows, and each padded field is trimmed to this batch's longest row."""
    i = torch.tensor(row_ids(batch))
    assert torch.equal(batch["src_lengths"], src_length(i)) and torch.equal(batch["tgt_lengths"], tgt_length(i))
    for name in ("src", "tgt"):
        lengths = batch[f"{name}_lengths"]
        width = int(lengths.max())
        want = torch.where(torch.arange(width) < lengths[:, None], i[:, None] + 1, 0)  # (B, width): row's tokens, pad
        assert batch[name].shape == (batch.size, width) and batch[name].is_contiguous()
        assert torch.equal(batch[name], want)


def rows(loader: TensorLoader) -> list[int]:
    return [r for b in loader for r in row_ids(b)]


# ---- TensorData -------------------------------------------------------------------------------------------
def test_named_fields_of_any_dtype_with_kind_meta_and_lengths():
    d = pairs()
    assert len(d) == N and d.kind == "pairs" and d.x is None and d.y is None
    assert d.fields["src"].shape == (N, 13) and d.fields["tgt"].shape == (N, 18)
    assert json.loads(json.dumps(d.meta)) == d.meta
    images = TensorData(x=torch.rand(4, 1, 8, 8), y=torch.arange(4), name="t", split="train")
    points = TensorData(x=torch.randn(4, 2), y=None, name="t", split="train")
    assert (images.kind, points.kind) == ("image", "vector") and points.y is None and list(points.fields) == ["x"]
    assert images.tensors == (images.x, images.y) and images.modes is None and images.std is None


def test_subset_trims_padded_fields_to_the_new_longest_row():
    d = tokens()
    short = torch.nonzero(d.fields["tokens_lengths"] <= 4).squeeze(1)  # (M,)
    sub = d.subset(short, split="short")
    assert sub.split == "short" and len(sub) == len(short) and sub.fields["tokens"].shape[1] == 4
    assert torch.equal(sub.fields["tokens"], d.fields["tokens"][short, :4])


def test_without_labels_keeps_every_other_field_row_aligned():
    x = torch.arange(12.0)[:, None]  # (12, 1)
    d = TensorData(x=x, y=torch.arange(12) % 3, name="t", split="train", kind="vector")
    kept = d.without_labels([1])
    assert kept.split == "train-without-1" and 1 not in kept.y.tolist()
    assert torch.equal(kept.x[:, 0].long() % 3, kept.y) and len(kept) == 8


@pytest.mark.parametrize(("build", "error", "match"), [
    (lambda: TensorData(x=torch.rand(4, 2), y=torch.arange(3), name="t", split="s"), ShapeError, "same first"),
    (lambda: TensorData(x=torch.rand(4, 2).double(), name="t", split="s"), ShapeError, "x.float"),
    (lambda: TensorData(x=torch.rand(4, 2), y=torch.zeros(4), name="t", split="s"), ShapeError, "int64"),
    (lambda: TensorData(tokens=torch.zeros(4, 3, dtype=torch.long), name="t", split="s"), ConfigError, "kind="),
    (lambda: TensorData(tokens=torch.ones(4, 5, dtype=torch.long), n=torch.full((4,), 3), kind="tokens",
                        lengths={"tokens": "n"}, name="t", split="s"), ShapeError, "store it trimmed"),
    (lambda: TensorData(tokens=torch.ones(4, 5, dtype=torch.long), kind="tokens", lengths={"tokens": "n"},
                        name="t", split="s"), ConfigError, "row lengths"),
    (lambda: TensorData(x=torch.rand(4, 2), meta={"modes": torch.zeros(2)}, name="t", split="s"), ConfigError,
     "tolist"),
    (lambda: TensorData({"x": torch.rand(4, 2)}, x=torch.rand(4, 2), name="t", split="s"), ConfigError, "once"),
])
def test_invalid_data_raises_errors_that_say_what_to_do(build, error, match):
    with pytest.raises(error, match=match):
        build()


# ---- loading padded fields ------------------------------------------------------------------------------
def test_padded_batches_are_trimmed_to_their_longest_row_and_sliced_row_by_row():
    loader = pairs().loader(batch_size=8, seed=1)
    widths = set()
    for batch in loader:
        assert isinstance(batch, Batch) and list(batch) == ["src", "src_lengths", "tgt", "tgt_lengths"]
        check_pair_batch(batch)
        widths.add(batch["src"].shape[1])
    assert len(widths) > 1  # batches really are cut to different widths
    assert sorted(rows(loader)) == list(range(N))


def test_token_batches_carry_their_lengths_and_are_cut_to_them():
    seen = []
    for batch in tokens().loader(batch_size=16, seed=0):
        i = torch.tensor(row_ids(batch))
        assert torch.equal(batch["tokens_lengths"], src_length(i))
        assert batch["tokens"].shape == (batch.size, int(batch["tokens_lengths"].max()))
        assert torch.equal((batch["tokens"] > 0).sum(1), batch["tokens_lengths"])
        seen += i.tolist()
    assert sorted(seen) == list(range(N))


@pytest.mark.parametrize("bucket_by", [None, "src_lengths"])
@pytest.mark.parametrize("n", [N, N + 1])  # N + 1 rows on 2 ranks: one padding row, as DistributedSampler
def test_two_ranks_see_disjoint_rows_that_cover_the_data(bucket_by, n):
    shards = [rows(pairs(n).loader(batch_size=8, seed=2, rank=r, world_size=2, bucket_by=bucket_by,
                                   bucket_size=None if bucket_by is None else 24)) for r in range(2)]
    assert [len(s) for s in shards] == [(n + 1) // 2] * 2
    assert set(shards[0]) | set(shards[1]) == set(range(n))
    assert len(set(shards[0]) & set(shards[1])) == 2 * ((n + 1) // 2) - n


@pytest.mark.parametrize("bucket_by", [None, "tgt_lengths"])
@pytest.mark.parametrize("stop", [2, 6, 9])  # 6 batches per epoch per rank: mid-epoch, at its end, in the next
def test_resume_mid_epoch_yields_exactly_the_remaining_batches_and_the_next_epoch(bucket_by, stop):
    kw = dict(batch_size=8, seed=4, rank=1, world_size=2, bucket_by=bucket_by,
              bucket_size=None if bucket_by is None else 16)
    total = stop + 9
    reference = stream(pairs().loader(**kw), total)
    first = pairs().loader(**kw)
    head = stream(first, stop)
    resumed = pairs().loader(**{**kw, "seed": 0})  # the seed comes from the state
    resumed.load_state_dict(first.state_dict())
    got = head + stream(resumed, total - stop)
    assert len(got) == len(reference) == total
    for g, r in zip(got, reference, strict=True):
        assert list(g) == list(r) and all(torch.equal(g[k], r[k]) for k in g)
    assert row_ids(reference[0]) != row_ids(reference[6])  # epochs differ, so the check above means something


# ---- bucketing ------------------------------------------------------------------------------------------
def padding(loader: TensorLoader, field: str) -> int:
    """Pad cells the epoch's batches of ``field`` hold."""
    return sum(b[field].numel() - int(b[f"{field}_lengths"].sum()) for b in loader)


@pytest.mark.parametrize("drop_last", [False, True])
def test_bucketing_sees_every_row_once_per_epoch_and_pads_less(drop_last):
    data = pairs(405)  # the last window holds 5 rows: one short batch, dropped with drop_last
    plain = data.loader(batch_size=10, seed=3, drop_last=drop_last)
    bucketed = data.loader(batch_size=10, seed=3, drop_last=drop_last, bucket_by="src_lengths", bucket_size=100)
    for _ in range(2):  # two epochs
        batches = list(bucketed)
        assert len(batches) == len(bucketed) == len(plain) == (40 if drop_last else 41)
        assert sorted(b.size for b in batches)[0] == (10 if drop_last else 5)
        seen = [r for b in batches for r in row_ids(b)]
        assert len(seen) == len(set(seen)) == (400 if drop_last else 405)
        assert sorted(seen) == sorted(rows(plain))  # drop_last drops the same rows: the order's last 5
        for b in batches:
            check_pair_batch(b)
    assert padding(bucketed, "src") < 0.3 * padding(plain, "src")
    assert padding(bucketed, "src") > 0  # the ragged neighbours of a length still share a batch


def test_bucketing_sorts_within_windows_of_the_epoch_order_and_shuffles_the_batches():
    data = pairs(400)
    loader = data.loader(batch_size=10, seed=3, bucket_by="src_lengths", bucket_size=40)
    places = []
    for epoch in range(2):
        order = loader.indices(epoch)  # the epoch order before bucketing: windows are its 40-row slices
        windows = [set(order[w:w + 40].tolist()) for w in range(0, 400, 40)]
        batches = [row_ids(b) for b in loader]
        assert all(sum(set(b) <= w for w in windows) == 1 for b in batches)  # a batch never spans windows
        spans = [int(src_length(torch.tensor(b)).max() - src_length(torch.tensor(b)).min()) for b in batches]
        assert sum(spans) / len(spans) < 4  # sorted: 10 of 40 rows over lengths 1..13 span ~3 (unsorted: ~10)
        places.append([next(k for k, w in enumerate(windows) if set(b) <= w) for b in batches])
    assert places[0] != sorted(places[0])  # batches are shuffled across windows
    assert places[0] != places[1]  # by a generator that depends on the epoch
    again = data.loader(batch_size=10, seed=3, bucket_by="src_lengths", bucket_size=40)
    assert [row_ids(b) for b in again] != batches  # epoch 0 differs from epoch 1
    assert [row_ids(b) for b in again] == batches  # deterministic from (seed, epoch, rank): epoch 1 again


def test_unshuffled_bucketing_keeps_the_windows_in_order():
    loader = pairs(40).loader(batch_size=10, shuffle=False, bucket_by="src_lengths", bucket_size=20)
    lengths = [src_length(torch.tensor(row_ids(b))).tolist() for b in loader]
    assert lengths[0] + lengths[1] == sorted(src_length(torch.arange(20)).tolist())
    assert lengths[2] + lengths[3] == sorted(src_length(torch.arange(20, 40)).tolist())


def test_bucketing_arguments_are_checked():
    data = pairs()
    with pytest.raises(ConfigError, match="multiple of batch_size"):
        data.loader(batch_size=8, bucket_by="src_lengths", bucket_size=20)
    with pytest.raises(ConfigError, match="int64"):
        data.loader(batch_size=8, bucket_by="src")
    with pytest.raises(ConfigError, match="needs bucket_by"):
        data.loader(batch_size=8, bucket_size=80)
    assert data.loader(batch_size=8, bucket_by="src_lengths").bucket_size % 8 == 0  # a default window


def test_batch_size_is_its_rows():
    assert Batch(x=torch.zeros(5, 3), y=torch.zeros(5)).size == 5
    with pytest.raises(ConfigError, match="empty"):
        Batch().size  # noqa: B018


# ---- Vocabulary -----------------------------------------------------------------------------------------
def test_vocabulary_round_trips_through_json_and_encodes_and_decodes():
    v = Vocabulary.build(["hello", "help"], bos=True, eos=True)
    assert v.to_list()[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and v.pad_id == 0
    assert v.symbols == ["l", "e", "h", "o", "p"]  # most frequent first (l 3, e and h 2), ties by symbol
    again = Vocabulary.from_list(json.loads(json.dumps(v.to_list())))
    assert again == v and again.to_list() == v.to_list() and (again.bos_id, again.eos_id) == (2, 3)
    ids = v.encode("hello", bos=True, eos=True)
    assert ids[0] == v.bos_id and ids[-1] == v.eos_id and len(ids) == 7
    assert "".join(v.decode(ids + [v.pad_id, v.pad_id])) == "hello"  # bos, eos and padding dropped
    assert v.encode("hex")[-1] == v.unk_id and v.decode(v.encode("hex")) == ["h", "e", "<unk>"]
    assert v.decode(torch.tensor([4, 5, 3, 6])) == ["l", "e"]  # stops at <eos>


def test_vocabulary_without_unknown_or_specials_says_what_to_do():
    v = Vocabulary(["a", "b"], unknown=False)
    assert v.to_list() == ["<pad>", "a", "b"] and Vocabulary.from_list(v.to_list()) == v and v.unk_id is None
    assert v.encode("ba") == [2, 1] and "a" in v and "c" not in v and len(v) == 3
    with pytest.raises(ConfigError, match="unknown=True"):
        v.encode("abc")
    with pytest.raises(ConfigError, match="bos=True"):
        v.encode("ab", bos=True)
    with pytest.raises(ConfigError, match="reserved"):
        Vocabulary(["a", "<pad>"])
    with pytest.raises(ConfigError, match="unique"):
        Vocabulary(["a", "a"])
    with pytest.raises(ConfigError, match="starts with"):
        Vocabulary.from_list(["a", "b"])
    with pytest.raises(ConfigError, match="lead"):
        Vocabulary.from_list(["<pad>", "a", "<unk>"])
    with pytest.raises(ConfigError, match="outside"):
        v.decode([3])


def test_vocabulary_and_batch_import_without_torch_at_package_import():
    code = "import sys, genlab.data as d; d.Vocabulary; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- the training data module ---------------------------------------------------------------------------
def test_datamodule_serves_named_batches_chunked_for_training_and_a_fixed_draw_for_validation():
    pytest.importorskip("lightning")
    from genlab.training.chunks import StepChunk
    from genlab.training.config import TrainConfig
    from genlab.training.datamodule import TensorDataModule

    train = pairs()
    grey = TensorData(x=torch.full((600, 1, 2, 2), 0.5), y=torch.arange(600), name="g", split="val",
                      binarize="dynamic")
    dm = TensorDataModule(train, grey, TrainConfig(batch_size=8, val_size=550), steps_per_call=3)
    chunks = list(dm.train_dataloader())
    assert all(isinstance(c, StepChunk) for c in chunks) and [len(c) for c in chunks] == [3, 3, 3, 2]
    for c in chunks:
        for batch in c:  # drop_last: 11 full batches of the 90 rows
            assert isinstance(batch, Batch) and batch.size == 8
            check_pair_batch(batch)
    val = [list(dm.val_dataloader()) for _ in range(2)]
    assert [b.size for b in val[0]] == [500, 50]  # at most val_size rows, in batches of max(batch_size, 500)
    assert torch.equal(torch.cat([b["y"] for b in val[0]]), torch.arange(550))  # in order
    bits = torch.cat([b["x"] for b in val[0]])
    assert set(bits.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(bits, torch.cat([b["x"] for b in val[1]]))  # the same draw every validation
