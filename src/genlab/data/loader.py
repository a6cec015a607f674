"""``TensorLoader``: shuffled, sharded, resumable mini-batches sliced from in-memory tensors.

Each batch is ``tuple(t.index_select(0, idx) for t in tensors)`` with one index tensor per batch —
no per-sample ``__getitem__``, no collate, no worker processes. The order per epoch and the DDP
sharding are those of ``torch.utils.data.DistributedSampler`` (same permutation for the same
``seed + epoch``), so the loader is a drop-in for ``DataLoader(..., sampler=DistributedSampler(...))``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal

import torch
from torch import Tensor

from genlab.data.seeding import mix_seed
from genlab.errors import ConfigError, ShapeError

STATE_KEYS = ("epoch", "batch", "seed")


class TensorLoader:
    """Iterate over mini-batches of ``tensors`` (all with the same first dimension ``N``).

    Per epoch ``e`` the row order is ``randperm(N)`` from a ``torch.Generator`` seeded with
    ``seed + e`` (``arange(N)`` when ``shuffle=False``), padded by wrapping around to a multiple of
    ``world_size``; rank ``r`` takes ``order[r::world_size]``, so ranks see disjoint rows (up to the
    ``< world_size`` padding rows). ``binarize="dynamic"`` replaces the first tensor ``x`` of each
    batch by a draw of ``Bernoulli(x)`` (``1[u < x]``, ``u ~ U(0, 1)``) from a generator seeded by
    ``(seed, epoch, batch, rank)``, so the bits are fresh each epoch and reproducible on resume.

    Resumable: ``state_dict()`` is ``{"epoch", "batch", "seed"}`` (``batch`` = batches already
    yielded in ``epoch``) and after ``load_state_dict`` the next ``iter()`` continues exactly there.
    Otherwise every ``iter()`` after a pass that yielded batches (complete or not) starts the next
    epoch, so a training loop that calls ``iter()`` once per epoch gets a fresh order each epoch.
    Lightning's fit loop saves this state in its checkpoints and restores it on resume (tested in
    ``tests/test_data_loader_lightning.py``).
    """

    def __init__(self, *tensors: Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, rank: int = 0, world_size: int = 1,
                 binarize: Literal["none", "dynamic"] = "none") -> None:
        if not tensors:
            raise ConfigError("TensorLoader needs at least one tensor: TensorLoader(x, y, batch_size=...)")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ShapeError(f"all tensors must have the same first dimension, got "
                             f"{[tuple(t.shape) for t in tensors]}: pass one row per example in each")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(world_size, int) or world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"need world_size >= 1 and 0 <= rank < world_size, got rank={rank}, "
                              f"world_size={world_size}: pass trainer.global_rank and trainer.world_size")
        if binarize not in ("none", "dynamic"):
            raise ConfigError(f"binarize must be 'none' or 'dynamic', got {binarize!r} "
                              f"(statically binarized data is already 0/1: use binarize='none')")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.binarize = binarize
        self.epoch = 0
        self._batch = 0  # batches already yielded in self.epoch
        self._fresh = True  # (epoch, _batch) is a start point nobody has iterated from yet
        self._token = 0  # identifies the live iterator; stale iterators do not touch the state

    # ---- sizes ---------------------------------------------------------------------------------
    @property
    def num_samples(self) -> int:
        """Rows this rank sees per epoch: ``ceil(N / world_size)``."""
        return math.ceil(len(self.tensors[0]) / self.world_size)

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    # ---- order ---------------------------------------------------------------------------------
    def indices(self, epoch: int) -> Tensor:
        """This rank's row indices for ``epoch``, in order: ``(num_samples,)`` int64."""
        n = len(self.tensors[0])
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)  # as DistributedSampler
            order = torch.randperm(n, generator=g)  # (N,)
        else:
            order = torch.arange(n)
        total = self.num_samples * self.world_size
        if total > n:  # pad by wrapping around, as DistributedSampler(drop_last=False)
            order = torch.cat([order, order.repeat(math.ceil((total - n) / n))[: total - n]])
        return order[self.rank:total:self.world_size]

    # ---- iteration -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        if not self._fresh:  # the previous pass yielded batches: this is a new epoch
            self._next_epoch()
        self._token += 1
        return self._batches(self._token, self.epoch, self._batch)

    def _batches(self, token: int, epoch: int, start: int) -> Iterator[tuple[Tensor, ...]]:
        idx = self.indices(epoch)  # (num_samples,)
        device = self.tensors[0].device
        idx = idx.to(device)
        for b in range(start, len(self)):
            sel = idx[b * self.batch_size:(b + 1) * self.batch_size]  # (B,)
            batch = tuple(t.index_select(0, sel) for t in self.tensors)
            if self.binarize == "dynamic":  # 1[u < x]: faster than torch.bernoulli on CPU
                g = torch.Generator(device=device).manual_seed(mix_seed(self.seed, epoch, b, self.rank))
                x = batch[0]
                u = torch.rand(x.shape, generator=g, device=device, dtype=x.dtype)
                batch = ((u < x).to(x.dtype),) + batch[1:]
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
        return (f"TensorLoader(N={len(self.tensors[0])}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, rank={self.rank}/{self.world_size}, "
                f"binarize={self.binarize!r}, epoch={self.epoch}, batch={self._batch})")
