"""Loader policies (``genlab.policy``): contiguous streams for truncated BPTT, bucketing and ``drop_last`` declared by a
dataset or a model, the model's choice winning; the loader's order, DDP shards and exact resume under each policy, and
the policy reaching a real training run (its batches, its epoch count, its resume)."""

from __future__ import annotations

import ast
import dataclasses
import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from genlab.config import Config
from genlab.data import LoaderPolicy, TensorData, TensorLoader
from genlab.data import registry as data_registry
from genlab.errors import ConfigError
from genlab.models.base import Model, ModelOutput
from genlab.policy import batches_per_epoch, merge_policies
from genlab.registry import MODELS, ModelEntry
from genlab.runs import read_metrics

N = 103  # not a multiple of the batch or world sizes: the stream's remainder rows and a ragged last batch


def rows_data(n: int = N, split: str = "train") -> TensorData:
    """Row ``i``: ``row = i`` and a padded token field of length ``1 + 7i mod 13`` (uncorrelated with ``i``)."""
    i = torch.arange(n)
    lengths = 1 + (i * 7) % 13  # (n,)
    tokens = torch.where(torch.arange(13) < lengths[:, None], i[:, None] + 1, 0)  # (n, 13), row i holds i + 1
    return TensorData({"tokens": tokens, "tokens_lengths": lengths, "row": i}, kind="tokens",
                      lengths={"tokens": "tokens_lengths"}, name="rows", split=split)


def rows_of(batches) -> list[list[int]]:
    return [b["row"].tolist() for b in batches]


def stream(loader: TensorLoader, n_batches: int) -> list:
    """``n_batches`` batches across epochs, calling iter() per epoch like a training loop."""
    out: list = []
    while len(out) < n_batches:
        out += list(itertools.islice(iter(loader), n_batches - len(out)))
    return out


# ---- the stream order ------------------------------------------------------------------------------------------
def test_stream_rows_continue_row_by_row_from_batch_to_batch_in_contiguous_lanes():
    loader = rows_data().loader(4, order="stream")
    batches = rows_of(loader)  # (L, B) = (25, 4): 103 rows in 4 lanes of 25, 3 rows left over
    assert len(batches) == len(loader) == 25 and all(len(b) == 4 for b in batches)
    for t in range(len(batches) - 1):
        assert [r + 1 for r in batches[t]] == batches[t + 1]  # row b of batch t+1 follows row b of batch t
    lanes = [[batch[b] for batch in batches] for b in range(4)]
    assert lanes == [list(range(25 * b, 25 * (b + 1))) for b in range(4)]  # lane b: rows 25b .. 25b+24
    assert rows_of(loader) == batches and loader.epoch == 2  # the next epoch: the same order
    assert not loader.shuffle and loader.drop_last


@pytest.mark.parametrize("n, batch_size, world_size", [(103, 4, 2), (103, 5, 3), (64, 8, 2), (17, 2, 4)])
def test_stream_shards_of_each_rank_are_contiguous_disjoint_and_as_long(n, batch_size, world_size):
    shard = n // world_size
    lane = shard // batch_size
    seen = []
    for rank in range(world_size):
        loader = rows_data(n).loader(batch_size, order="stream", rank=rank, world_size=world_size)
        batches = rows_of(loader)  # (L, B)
        assert len(batches) == len(loader) == lane  # every rank takes as many steps (DDP stays in step)
        rows = sorted(r for b in batches for r in b)
        assert rows == list(range(rank * shard, rank * shard + lane * batch_size))  # one contiguous block per rank
        for t in range(lane - 1):
            assert [r + 1 for r in batches[t]] == batches[t + 1]
        seen += rows
    assert len(seen) == len(set(seen))  # disjoint across ranks


def test_stream_refuses_bucketing_and_a_kept_partial_batch():
    data = rows_data()
    with pytest.raises(ConfigError, match="does not combine with bucketing"):
        data.loader(4, order="stream", bucket_by="tokens_lengths")
    with pytest.raises(ConfigError, match="drop_last=False does not apply"):
        data.loader(4, order="stream", drop_last=False)
    with pytest.raises(ConfigError, match="not both"):
        data.loader(4, order="stream", shuffle=False)
    with pytest.raises(ConfigError, match="order must be one of"):
        data.loader(4, order="random")
    assert data.loader(4, shuffle=False).order == "sequential" and data.loader(4).order == "shuffle"


# ---- the policy ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"order": "sorted"}, "order must be one of"),
    ({"order": "stream", "bucket_by": "tokens_lengths"}, "does not combine with bucketing"),
    ({"order": "stream", "drop_last": False}, "drop_last=False does not apply"),
    ({"bucket_size": 64}, "bucket_size needs bucket_by"),
    ({"bucket_by": "tokens_lengths", "bucket_size": 0}, "bucket_size must be a positive int"),
    ({"bucket_by": ""}, "bucket_by must name"),
    ({"drop_last": "yes"}, "drop_last must be True or False"),
])
def test_a_policy_that_cannot_be_carried_out_is_a_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LoaderPolicy(**kwargs)


def test_the_default_policy_is_the_training_loader_of_before():
    assert LoaderPolicy() == LoaderPolicy(order="shuffle", drop_last=True) and LoaderPolicy().declared == frozenset()
    assert LoaderPolicy().options() == {"order": "shuffle", "bucket_by": None, "bucket_size": None, "drop_last": True}
    assert LoaderPolicy("stream").declared == {"order"} and LoaderPolicy(drop_last=False).declared == {"drop_last"}


def test_the_models_declared_choices_win_over_the_datasets():
    bucketed = LoaderPolicy(bucket_by="tokens_lengths", bucket_size=40, drop_last=False)
    assert merge_policies(None, None) == LoaderPolicy()
    assert merge_policies(bucketed, None) == bucketed
    # the model keeps the dataset's bucketing and overrides only what it declares
    assert merge_policies(bucketed, LoaderPolicy(drop_last=True)) == LoaderPolicy(
        bucket_by="tokens_lengths", bucket_size=40, drop_last=True)
    # a model's stream drops the dataset's bucketing and kept partial batch, which do not combine with it
    assert merge_policies(bucketed, LoaderPolicy(order="stream")) == LoaderPolicy(order="stream")
    # a model that declares the default order wins over a dataset's stream (declared, even though it is the default)
    assert merge_policies(LoaderPolicy(order="stream"), LoaderPolicy(order="shuffle")) == LoaderPolicy()
    assert merge_policies(LoaderPolicy(order="stream"), LoaderPolicy(bucket_by="tokens_lengths")) == LoaderPolicy(
        bucket_by="tokens_lengths")
    assert merge_policies(LoaderPolicy(order="stream"), None) == LoaderPolicy(order="stream")


POLICIES = {
    "shuffle": LoaderPolicy(),
    "keep-last": LoaderPolicy(drop_last=False),
    "bucketed": LoaderPolicy(bucket_by="tokens_lengths", bucket_size=16),
    "bucketed-keep-last": LoaderPolicy(bucket_by="tokens_lengths", bucket_size=16, drop_last=False),
    "stream": LoaderPolicy(order="stream"),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_the_epoch_length_a_run_plans_with_is_the_loaders(name, world_size):
    policy = POLICIES[name]
    for n, batch_size in [(103, 8), (96, 8), (103, 4)]:
        for rank in range(world_size):
            loader = rows_data(n).loader(batch_size, rank=rank, world_size=world_size, **policy.options())
            assert policy.batches_per_epoch(n, batch_size, world_size) == len(loader) == len(list(loader))
    assert batches_per_epoch(103, 8, 2, drop_last=False) == 7 and batches_per_epoch(103, 8, 2) == 6


def test_drop_last_false_keeps_the_last_partial_batch():
    loader = rows_data(50).loader(8, seed=1, **LoaderPolicy(drop_last=False).options())
    batches = rows_of(loader)
    assert [len(b) for b in batches] == [8] * 6 + [2]
    assert sorted(sum(batches, [])) == list(range(50))  # every row once, the last two in a batch of their own
    assert [len(b) for b in rows_of(rows_data(50).loader(8, seed=1, **LoaderPolicy().options()))] == [8] * 6


@pytest.mark.parametrize("name", sorted(POLICIES))
@pytest.mark.parametrize("rank", [0, 1])
@pytest.mark.parametrize("stop", [2, 6, 7, 11])
def test_each_policy_resumes_exactly_from_its_state_dict(name, rank, stop):
    """Two ranks of 103 rows in batches of 8: 6 batches per epoch (7 keeping the last, 6 for the stream); stopping
    mid-epoch, at an epoch's end and in the second epoch, the resumed batches are the uninterrupted run's."""
    kw = dict(batch_size=8, seed=3, rank=rank, world_size=2, **POLICIES[name].options())
    total = stop + 10
    reference = rows_of(stream(rows_data().loader(**kw), total))
    first = rows_data().loader(**kw)
    head, it = [], iter(first)
    while len(head) < stop:  # epochs rolled by iter(), as Lightning does
        try:
            head.append(next(it))
        except StopIteration:
            it = iter(first)
    resumed = rows_data().loader(**{**kw, "seed": 999})  # the seed comes from the state
    resumed.load_state_dict(first.state_dict())
    assert rows_of(head) + rows_of(stream(resumed, total - stop)) == reference
    if name != "stream":
        assert reference[:len(first)] != reference[len(first):2 * len(first)]  # reshuffled each epoch
    else:
        assert reference[:6] == reference[6:12]


# ---- the datamodule and a run ----------------------------------------------------------------------------------
def test_the_datamodule_builds_the_train_loader_from_the_policy_on_each_rank():
    from genlab.training.config import TrainConfig
    from genlab.training.datamodule import TensorDataModule

    cfg = TrainConfig(batch_size=8, seed=2)
    plain = TensorDataModule(rows_data(), rows_data(split="val"), cfg).train_dataloader()
    assert (plain.order, plain.drop_last, plain.bucket_by) == ("shuffle", True, None)  # today's loader by default
    for rank in range(2):
        dm = TensorDataModule(rows_data(), rows_data(split="val"), cfg, policy=POLICIES["stream"])
        dm.trainer = SimpleNamespace(global_rank=rank, world_size=2)
        want = rows_data().loader(8, order="stream", rank=rank, world_size=2)
        assert rows_of(dm.train_dataloader()) == rows_of(want)
    dm = TensorDataModule(rows_data(), rows_data(split="val"), cfg, steps_per_call=4, policy=POLICIES["bucketed"])
    chunks = list(dm.train_dataloader())
    want = rows_data().loader(8, seed=2, **POLICIES["bucketed"].options())
    assert rows_of(b for c in chunks for b in c) == rows_of(want)


def test_the_policy_module_is_a_leaf_below_models_and_data():
    src = Path(__file__).resolve().parents[1] / "src" / "genlab" / "policy.py"
    imports = {a.name for node in ast.walk(ast.parse(src.read_text())) if isinstance(node, ast.Import)
               for a in node.names}
    imports |= {node.module for node in ast.walk(ast.parse(src.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert {m for m in imports if m.startswith("genlab")} == {"genlab.errors"} and "torch" not in imports
    assert Model.loader_policy is None and data_registry.info("mnist").policy is None


SEEN: list[list[int]] = []  # the rows of each training batch, in order, across the runs of a test


def load_rows(split: str = "train") -> TensorData:
    return rows_data(100, split)


@dataclasses.dataclass
class RowsConfig(Config):
    scale: float = 1.0


class RowsModel(Model):
    """One parameter; records the ``row`` of each training batch in ``SEEN``."""

    config_class = RowsConfig
    inputs, optional_inputs = ("tokens", "tokens_lengths", "row"), ()

    def __init__(self, config: RowsConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, tokens, tokens_lengths, row) -> ModelOutput:
        if self.training:
            SEEN.append(row.tolist())
        return ModelOutput(loss=(self.w * tokens.float().mean() / 100).square())


class StreamRows(RowsModel):
    loader_policy = LoaderPolicy(order="stream")


class KeepLastRows(RowsModel):
    loader_policy = LoaderPolicy(drop_last=False)


ROWS_POLICY = LoaderPolicy(bucket_by="tokens_lengths", bucket_size=24)  # what the "rows" dataset declares


@pytest.fixture
def rows_registered(monkeypatch):
    """A dataset "rows" (100 rows) that declares bucketing by its lengths, and the three models above."""
    info = data_registry.DatasetInfo("rows", "tokens", (13,), 300, "generated", "MIT", f"{__name__}:load_rows",
                                     splits=("train", "val"), fields=("tokens", "tokens_lengths", "row"), options=(),
                                     policy=ROWS_POLICY)
    monkeypatch.setattr(data_registry, "_DATASETS", (*data_registry._DATASETS, info))
    monkeypatch.setitem(data_registry._BY_NAME, "rows", info)
    for cls in (RowsModel, StreamRows, KeepLastRows):
        monkeypatch.setitem(MODELS, cls.__name__, ModelEntry(cls.__name__, f"{__name__}:{cls.__name__}", "rows", "toy"))
    SEEN.clear()
    yield info
    SEEN.clear()


def _cfg(model: str, out: Path, **kw):
    from genlab.training import TrainConfig

    return TrainConfig(**{**dict(model=model, data="rows", batch_size=8, lr=0.01, quiet=True, num_samples=0, seed=5,
                                 out=str(out)), **kw})


def _seen(cfg) -> list[list[int]]:
    from genlab.training import train

    SEEN.clear()
    train(cfg)
    return list(SEEN)


def test_a_models_stream_policy_wins_over_the_datasets_bucketing_in_training_and_resumes_exactly(
        rows_registered, tmp_path):
    from genlab.training import train
    from genlab.training.run import resume_config

    want = rows_of(stream(load_rows().loader(8, order="stream"), 20))  # 12 batches per epoch
    reference = _seen(_cfg("StreamRows", tmp_path / "ref", max_steps=20))
    assert reference == want
    head = _seen(_cfg("StreamRows", tmp_path / "cut", max_steps=5, checkpoint_every=5))
    SEEN.clear()
    train(resume_config(tmp_path / "cut", {"max_steps": 20}), resume=True)
    assert head + SEEN == reference  # resumed mid-epoch, through the next epoch


def test_a_datasets_bucketing_reaches_training_and_resumes_exactly(rows_registered, tmp_path):
    from genlab.training import train
    from genlab.training.run import resume_config

    want = rows_of(stream(load_rows().loader(8, seed=5, **ROWS_POLICY.options()), 20))  # 12 batches per epoch
    reference = _seen(_cfg("RowsModel", tmp_path / "ref", max_steps=20))
    assert reference == want
    lengths = [sorted(load_rows().fields["tokens_lengths"][b].tolist()) for b in reference]
    assert sum(max(b) - min(b) for b in lengths) < 0.5 * 20 * 12  # rows of like lengths share a batch
    head = _seen(_cfg("RowsModel", tmp_path / "cut", max_steps=7, checkpoint_every=7))
    SEEN.clear()
    train(resume_config(tmp_path / "cut", {"max_steps": 20}), resume=True)
    assert head + SEEN == reference


def test_a_kept_last_batch_counts_in_the_epochs_of_a_run(rows_registered, tmp_path):
    """100 rows in batches of 8 with the model's ``drop_last=False`` (and the dataset's bucketing, which the model
    leaves): 13 iterations per epoch (not 100 // 8 = 12), so the metrics' epoch column follows the loader."""
    seen = _seen(_cfg("KeepLastRows", tmp_path / "run", epochs=2, val_every_epochs=1))
    want = load_rows().loader(8, seed=5, bucket_by="tokens_lengths", bucket_size=24, drop_last=False)
    assert seen == rows_of(stream(want, 26))
    for epoch in (seen[:13], seen[13:]):  # the partial batch, shuffled among the bucketed batches
        assert sorted(len(b) for b in epoch) == [4] + [8] * 12 and sorted(sum(epoch, [])) == list(range(100))
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert [(r["step"], r["epoch"]) for r in rows if "val/loss" in r] == [(12, 0), (25, 1)]


def test_a_bucketing_policy_on_a_field_the_data_lacks_is_refused_before_training(rows_registered, tmp_path,
                                                                                  monkeypatch):
    from genlab.training import train

    monkeypatch.setattr(RowsModel, "loader_policy", LoaderPolicy(bucket_by="src_lengths"))
    with pytest.raises(ConfigError, match=r"RowsModel on rows .*'src_lengths'.*the fields are \['tokens', "):
        train(_cfg("RowsModel", tmp_path / "run", max_steps=2))
    assert SEEN == [] and not (tmp_path / "run").exists()
