"""``TensorLoader``: shuffled (or streamed), sharded, resumable mini-batches sliced from in-memory tensor fields.

Each batch is a ``Batch`` ``{name: t.index_select(0, idx)}`` with one index tensor per batch — no
per-sample ``__getitem__``, no collate, no worker processes. In the ``"shuffle"`` and ``"sequential"``
orders the order per epoch and the DDP sharding are those of ``torch.utils.data.DistributedSampler``
(same permutation for the same ``seed + epoch``), so the loader is a drop-in for
``DataLoader(..., sampler=DistributedSampler(...))``; the ``"stream"`` order serves contiguous streams
for truncated BPTT (``genlab.policy``, which also says how a run chooses its train loader's order).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import torch
from torch import Tensor

from genlab.data.batch import Batch, check_fields, select_rows, width
from genlab.data.seeding import mix_seed
from genlab.errors import ConfigError
from genlab.policy import batches_per_epoch, combination_problem

LoaderOrder = Literal["shuffle", "sequential", "stream"]
LOADER_ORDERS: tuple[str, ...] = ("shuffle", "sequential", "stream")
STATE_KEYS = ("epoch", "batch", "seed")
BUCKET_BATCHES = 50  # default bucket window, in batches


class TensorLoader:
    """Iterate over ``Batch``es of named ``fields`` (all with the same first dimension ``N``).

    ``order="shuffle"`` (the default; ``shuffle=True``): per epoch ``e`` the row order is ``randperm(N)``
    from a ``torch.Generator`` seeded with ``seed + e`` (``arange(N)`` for ``order="sequential"``, i.e.
    ``shuffle=False``), padded by wrapping around to a multiple of ``world_size``; rank ``r`` takes
    ``order[r::world_size]``, so ranks see disjoint rows (up to the ``< world_size`` padding rows).
    Consecutive ``batch_size`` rows of that order make a batch; ``drop_last`` (default False) drops the
    last, partial one.

    ``order="stream"`` (truncated BPTT): the rows, in dataset order, are cut into ``world_size``
    contiguous shards of ``N // world_size`` rows (rank ``r`` reads shard ``r``), each shard into
    ``batch_size`` contiguous lanes of ``L = (N // world_size) // batch_size`` rows (the rows left over
    are dropped), and batch ``t`` holds row ``t`` of each lane: row ``b`` of batch ``t + 1`` is the row
    after row ``b`` of batch ``t``. ``len()`` is ``L``, every epoch is the same order, every batch is full
    (``drop_last`` must stay True) and it does not combine with bucketing.

    ``binarize="dynamic"`` replaces the field ``x`` of each batch by a draw of ``Bernoulli(x)``
    (``1[u < x]``, ``u ~ U(0, 1)``) from a generator seeded by ``(seed, epoch, batch, rank)``, so the
    bits are fresh each epoch and reproducible on resume.

    Variable-length fields: ``lengths`` maps each padded field ``(N, T, ...)`` to the int64 field of
    its row lengths (``{"src": "src_lengths"}``); each batch's padded field is cut to the longest row
    in that batch ``(B, T_batch, ...)``, its lengths going along. Bucketing: with ``bucket_by`` (an
    int64 ``(N,)`` field, e.g. ``"src_lengths"``) the rank's epoch order is cut into windows of
    ``bucket_size`` rows (a multiple of ``batch_size``; default ``BUCKET_BATCHES`` batches), rows are
    sorted by length within each window (stably) and cut into batches, and those batches are shuffled
    (when ``shuffle``) with a generator seeded by ``(seed, epoch, rank)``: rows of similar length share
    a batch, so less padding, and every row is still seen once per epoch.

    Resumable: ``state_dict()`` is ``{"epoch", "batch", "seed"}`` (``batch`` = batches already
    yielded in ``epoch``) and after ``load_state_dict`` the next ``iter()`` continues exactly there.
    Otherwise every ``iter()`` after a pass that yielded batches (complete or not) starts the next
    epoch, so a training loop that calls ``iter()`` once per epoch gets a fresh order each epoch.
    Lightning's fit loop saves this state in its checkpoints and restores it on resume (tested in
    ``tests/test_data_loader_lightning.py``).
    """

    def __init__(self, fields: Mapping[str, Tensor], *, batch_size: int, shuffle: bool | None = None,
                 order: LoaderOrder | None = None, seed: int = 0, drop_last: bool | None = None, rank: int = 0,
                 world_size: int = 1, binarize: Literal["none", "dynamic"] = "none",
                 lengths: Mapping[str, str] | None = None, bucket_by: str | None = None,
                 bucket_size: int | None = None) -> None:
        if not isinstance(fields, Mapping):
            raise ConfigError(f"TensorLoader takes named fields, got {type(fields).__name__}: "
                              f"TensorLoader({{'x': x, 'y': y}}, batch_size=...) or data.loader(batch_size=...)")
        self.fields = dict(fields)
        self.lengths = dict(lengths or {})
        self.n = check_fields(self.fields, self.lengths, "TensorLoader")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(world_size, int) or world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"need world_size >= 1 and 0 <= rank < world_size, got rank={rank}, "
                              f"world_size={world_size}: pass trainer.global_rank and trainer.world_size")
        if binarize not in ("none", "dynamic"):
            raise ConfigError(f"binarize must be 'none' or 'dynamic', got {binarize!r} "
                              f"(statically binarized data is already 0/1: use binarize='none')")
        if binarize == "dynamic" and not ("x" in self.fields and self.fields["x"].is_floating_point()):
            raise ConfigError(f"binarize='dynamic' draws Bernoulli(x): it needs a float field 'x', "
                              f"the fields are {list(self.fields)}")
        self.order = _order(order, shuffle)
        self.drop_last = (self.order == "stream") if drop_last is None else drop_last  # a stream's batches are full
        problem = combination_problem(self.order, bucket_by, bucket_size, self.drop_last)
        if problem:
            raise ConfigError(problem)
        self.bucket_by = bucket_by
        self.bucket_size = self._check_buckets(bucket_by, bucket_size, batch_size)
        self.batch_size = batch_size
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.binarize = binarize
        self.epoch = 0
        self._batch = 0  # batches already yielded in self.epoch
        self._fresh = True  # (epoch, _batch) is a start point nobody has iterated from yet
        self._token = 0  # identifies the live iterator; stale iterators do not touch the state

    def _check_buckets(self, bucket_by: str | None, bucket_size: int | None, batch_size: int) -> int | None:
        if bucket_by is None:
            return None
        key = self.fields.get(bucket_by)
        if key is None or key.dtype != torch.int64 or key.dim() != 1:
            raise ConfigError(f"bucket_by must name an int64 (N,) field of lengths, got {bucket_by!r}; "
                              f"the fields are {list(self.fields)}")
        bucket_size = BUCKET_BATCHES * batch_size if bucket_size is None else bucket_size
        if not isinstance(bucket_size, int) or bucket_size < 1 or bucket_size % batch_size:
            raise ConfigError(f"bucket_size must be a positive multiple of batch_size={batch_size}, got "
                              f"{bucket_size!r}: e.g. {BUCKET_BATCHES * batch_size}")
        return bucket_size

    @property
    def shuffle(self) -> bool:
        """Whether the order changes each epoch (``order == "shuffle"``)."""
        return self.order == "shuffle"

    # ---- sizes ---------------------------------------------------------------------------------
    @property
    def num_samples(self) -> int:
        """Rows this rank sees per epoch: ``ceil(N / world_size)`` (padded as ``DistributedSampler``), or a
        stream's ``L × batch_size``."""
        if self.order == "stream":
            return len(self) * self.batch_size
        return math.ceil(self.n / self.world_size)

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        return batches_per_epoch(self.n, self.batch_size, self.world_size, order=self.order, drop_last=self.drop_last)

    # ---- order ---------------------------------------------------------------------------------
    def indices(self, epoch: int) -> Tensor:
        """This rank's row indices for ``epoch``, batch after batch: ``(num_samples,)`` int64 (before
        bucketing); ``DistributedSampler``'s order, or a stream's (``_stream``)."""
        if self.order == "stream":
            return self._stream()
        n = self.n
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)  # as DistributedSampler
            order = torch.randperm(n, generator=g)  # (N,)
        else:
            order = torch.arange(n)
        total = self.num_samples * self.world_size
        if total > n:  # pad by wrapping around, as DistributedSampler(drop_last=False)
            order = torch.cat([order, order.repeat(math.ceil((total - n) / n))[: total - n]])
        return order[self.rank:total:self.world_size]

    def _stream(self) -> Tensor:
        """Rank ``rank``'s shard in ``batch_size`` lanes of ``L`` contiguous rows, read across the lanes:
        element ``t * batch_size + b`` is row ``t`` of lane ``b`` — ``(L * batch_size,)``."""
        shard, lane = self.n // self.world_size, len(self)  # rows per rank, rows per lane (L)
        starts = self.rank * shard + lane * torch.arange(self.batch_size)  # (B,) each lane's first row
        return (torch.arange(lane)[:, None] + starts).flatten()  # (L, B) → (L * B,)

    def batches(self, epoch: int) -> list[Tensor]:
        """The row indices of each of ``epoch``'s ``len(self)`` batches on this rank, in order (on the
        fields' device): ``indices(epoch)`` cut into ``batch_size`` pieces, bucketed if asked."""
        order = self.indices(epoch)  # (num_samples,)
        if self.bucket_by is not None:
            order = self._bucketed(order)
        pieces = list(order.to(next(iter(self.fields.values())).device).split(self.batch_size))
        if pieces and (len(pieces[-1]) == 0 or (self.drop_last and len(pieces[-1]) < self.batch_size)):
            pieces.pop()
        if self.bucket_by is not None and self.shuffle:
            g = torch.Generator().manual_seed(mix_seed(self.seed, epoch, self.rank))
            pieces = [pieces[i] for i in torch.randperm(len(pieces), generator=g).tolist()]
        return pieces

    def _bucketed(self, order: Tensor) -> Tensor:
        """``order`` with the rows of each ``bucket_size`` window sorted by length (stable)."""
        length = self.fields[self.bucket_by].cpu()[order]  # (num_samples,)
        window = torch.arange(len(order)) // self.bucket_size  # (num_samples,)
        key = window * (width(length) + 1) + length  # windows in order, by length within each
        return order[torch.sort(key, stable=True).indices]

    # ---- iteration -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Batch]:
        if not self._fresh:  # the previous pass yielded batches: this is a new epoch
            self._next_epoch()
        self._token += 1
        return self._batches(self._token, self.epoch, self._batch)

    def _batches(self, token: int, epoch: int, start: int) -> Iterator[Batch]:
        pieces = self.batches(epoch)
        for b in range(start, len(pieces)):
            batch = Batch(select_rows(self.fields, self.lengths, pieces[b]))
            if self.binarize == "dynamic":  # 1[u < x]: faster than torch.bernoulli on CPU
                x = batch["x"]
                g = torch.Generator(device=x.device).manual_seed(mix_seed(self.seed, epoch, b, self.rank))
                u = torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype)
                batch["x"] = (u < x).to(x.dtype)
            if token == self._token:
                self._batch, self._fresh = b + 1, False
            yield batch
        if token == self._token:
            self._next_epoch()

    def _next_epoch(self) -> None:
        self.epoch, self._batch, self._fresh = self.epoch + 1, 0, True

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` start epoch ``epoch`` from its first batch."""
        self.epoch, self._batch, self._fresh = int(epoch), 0, True

    # ---- resume --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "batch", "seed"}``: ``batch`` batches of ``epoch`` have been yielded.

        ``batch == len(self)`` means all of the epoch's batches were yielded but the pass has not
        ended (no ``StopIteration`` yet, as when Lightning stops an epoch by its length): restored,
        the next ``iter()`` yields nothing — ending that epoch, which is what Lightning's loop
        expects when it resumes from a checkpoint taken after an epoch's last batch — and the one
        after starts ``epoch + 1``.
        """
        return {"epoch": self.epoch, "batch": self._batch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (from ``state_dict``): the next ``iter()`` yields the batch after it."""
        missing = [k for k in STATE_KEYS if k not in state]
        if missing:
            raise ConfigError(f"TensorLoader state lacks {missing}; expected keys {list(STATE_KEYS)} "
                              f"as written by TensorLoader.state_dict()")
        epoch, batch = int(state["epoch"]), int(state["batch"])
        if not 0 <= batch <= len(self):
            raise ConfigError(f"TensorLoader state is at batch {batch} but an epoch has {len(self)} "
                              f"batches: the data, batch_size or world_size differ from the saved run")
        self.seed = int(state["seed"])
        self.epoch, self._batch, self._fresh = epoch, batch, True

    def __repr__(self) -> str:
        return (f"TensorLoader(fields={list(self.fields)}, N={self.n}, batch_size={self.batch_size}, "
                f"order={self.order!r}, seed={self.seed}, rank={self.rank}/{self.world_size}, "
                f"binarize={self.binarize!r}, bucket_by={self.bucket_by!r}, epoch={self.epoch}, batch={self._batch})")


def _order(order: str | None, shuffle: bool | None) -> str:
    """The loader's order from ``order`` or the older ``shuffle`` flag (``True``: "shuffle", ``False``:
    "sequential"); the default is "shuffle"."""
    if order is not None and shuffle is not None:
        raise ConfigError(f"pass order= or shuffle=, not both (got order={order!r}, shuffle={shuffle!r}): "
                          f"shuffle=True is order='shuffle', shuffle=False is order='sequential'")
    if order is None:
        return "sequential" if shuffle is False else "shuffle"
    if order not in LOADER_ORDERS:
        raise ConfigError(f"order must be one of {list(LOADER_ORDERS)}, got {order!r}")
    return order
