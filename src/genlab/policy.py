"""``LoaderPolicy``: how the training loader arranges rows into batches, declared by a dataset, a model, or both.

A policy says three things about the train loader (``genlab.data.TensorLoader``):

- ``order``: ``"shuffle"`` — a fresh permutation each epoch, sharded across DDP ranks as
  ``DistributedSampler`` does — or ``"stream"`` — the rows in dataset order as contiguous streams, for
  truncated backpropagation through time: with N rows, batch size B and W ranks, the rows are cut into W
  contiguous shards (rank r reads shard r), each shard into B contiguous lanes of L = (N // W) // B rows
  (the rows left over are dropped), and batch t holds row t of each lane. Row b of batch t + 1 is then the
  row that follows row b of batch t in the data, so a model can carry its hidden state from one batch to
  the next. Every epoch is the same order.
- ``bucket_by`` / ``bucket_size``: bucketing by length (shuffle order only): within windows of
  ``bucket_size`` rows of the epoch's order, rows are sorted by the int64 lengths field ``bucket_by`` and
  cut into batches, and the batches are shuffled; ``bucket_size`` defaults to ``TensorLoader``'s window.
- ``drop_last``: drop each epoch's last, partial batch (shuffle order; a stream's batches are always full).

A dataset declares one in ``DatasetInfo.policy`` (e.g. bucketing by its lengths field), a model class in
``Model.loader_policy`` (e.g. a recurrent language model asks for ``order="stream"``); ``merge_policies``
combines them for a run, the model's choices winning. Exact resume (``TensorLoader.state_dict``) and DDP
sharding hold for every policy. A leaf module (it imports only ``genlab.errors``, not torch), below
``models/`` and ``data/``: both declare policies; ``genlab.data`` re-exports ``LoaderPolicy``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, get_args

from genlab.errors import ConfigError

Order = Literal["shuffle", "stream"]
ORDERS: tuple[str, ...] = get_args(Order)


def combination_problem(order: str, bucket_by: str | None, bucket_size: int | None, drop_last: bool) -> str | None:
    """What is wrong with this combination of loader settings, in words (what to do included); None if nothing.

    Shared by ``LoaderPolicy`` and ``TensorLoader`` (whose ``order`` may also be ``"sequential"``)."""
    if bucket_size is not None and bucket_by is None:
        return "bucket_size needs bucket_by: name the lengths field to bucket by"
    if order == "stream" and bucket_by is not None:
        return (f"order='stream' keeps the data's order (each batch row continues the previous batch's row): it "
                f"does not combine with bucketing by {bucket_by!r}; drop bucket_by, or use order='shuffle'")
    if order == "stream" and not drop_last:
        return ("order='stream' cuts the data into batch_size lanes of equal length and drops the rows left "
                "over, so every batch is full: drop_last=False does not apply; leave drop_last=True")
    return None


@dataclasses.dataclass(frozen=True)
class LoaderPolicy:
    """The train loader's ``order`` (``"shuffle"`` or ``"stream"``), bucketing (``bucket_by``: an int64
    ``(N,)`` lengths field; ``bucket_size``: rows per sorting window, a multiple of the batch size) and
    ``drop_last``; see the module docstring. The defaults are genlab's training loader: shuffled, full batches.

    ``declared`` is the set of fields the constructor was given (``LoaderPolicy(order="stream").declared ==
    {"order"}``): ``merge_policies`` takes from each policy only what it declares. Equality compares the
    fields' values, not what was declared.
    """

    order: Order = "shuffle"
    bucket_by: str | None = None
    bucket_size: int | None = None
    drop_last: bool = True

    def __new__(cls, *args: Any, **kwargs: Any) -> LoaderPolicy:
        # the generated __init__ gets the same arguments; recorded here, before it fills in the defaults
        self = super().__new__(cls)
        given = [f.name for f in dataclasses.fields(cls)][: len(args)] + list(kwargs)
        object.__setattr__(self, "_declared", frozenset(given))
        return self

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ConfigError(f"order must be one of {list(ORDERS)}, got {self.order!r}: 'shuffle' for a fresh "
                              f"permutation each epoch, 'stream' for contiguous streams (truncated BPTT)")
        if self.bucket_by is not None and (not isinstance(self.bucket_by, str) or not self.bucket_by):
            raise ConfigError(f"bucket_by must name the int64 lengths field to bucket by, e.g. 'src_lengths', "
                              f"got {self.bucket_by!r}")
        if self.bucket_size is not None and (isinstance(self.bucket_size, bool) or not isinstance(self.bucket_size, int)
                                             or self.bucket_size < 1):
            raise ConfigError(f"bucket_size must be a positive int (a multiple of the batch size), "
                              f"got {self.bucket_size!r}; None: the loader's default window")
        if not isinstance(self.drop_last, bool):
            raise ConfigError(f"drop_last must be True or False, got {self.drop_last!r}")
        problem = combination_problem(self.order, self.bucket_by, self.bucket_size, self.drop_last)
        if problem:
            raise ConfigError(problem)

    @property
    def declared(self) -> frozenset[str]:
        """The fields this policy was given explicitly (the others hold their defaults)."""
        return self._declared

    def options(self) -> dict[str, Any]:
        """The keyword arguments of ``TensorLoader`` / ``TensorData.loader`` that carry this policy out."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def batches_per_epoch(self, n: int, batch_size: int, world_size: int = 1) -> int:
        """Batches each of ``world_size`` ranks reads per epoch from ``n`` rows (``len`` of its train loader)."""
        return batches_per_epoch(n, batch_size, world_size, order=self.order, drop_last=self.drop_last)


DEFAULT = LoaderPolicy()  # genlab's training loader: shuffled, full batches


def batches_per_epoch(n: int, batch_size: int, world_size: int = 1, *, order: str = "shuffle",
                      drop_last: bool = True) -> int:
    """Batches per epoch on each rank: ``(n // world_size) // batch_size`` for a stream (each rank's shard of
    ``n // world_size`` rows in ``batch_size`` lanes); otherwise each rank reads ``ceil(n / world_size)`` rows
    (``DistributedSampler`` pads by wrapping around), in ``floor`` (``drop_last``) or ``ceil`` batches. Bucketing
    does not change the count."""
    if order == "stream":
        return n // world_size // batch_size
    rows = math.ceil(n / world_size)
    return rows // batch_size if drop_last else math.ceil(rows / batch_size)


def merge_policies(dataset: LoaderPolicy | None, model: LoaderPolicy | None) -> LoaderPolicy:
    """The policy a run trains with, from its dataset's declared policy and its model class's.

    The model's choice wins wherever it declares one: every field the model's policy declares holds. Each
    field the model leaves undeclared takes the dataset's value where the dataset declares it and that value
    combines with the fields taken so far (a model's ``order="stream"`` drops a dataset's bucketing; a model's
    ``bucket_by`` drops a dataset's ``order="stream"``); otherwise the field keeps its default. Neither
    declaring a policy gives ``LoaderPolicy()``: shuffled, with ``drop_last``.
    """
    chosen = _declared_values(model)
    for name, value in _declared_values(dataset).items():
        if name not in chosen and combination_problem(**{**DEFAULT.options(), **chosen, name: value}) is None:
            chosen[name] = value
    return LoaderPolicy(**chosen)


def _declared_values(policy: LoaderPolicy | None) -> dict[str, Any]:
    if policy is None:
        return {}
    return {name: value for name, value in policy.options().items() if name in policy.declared}
