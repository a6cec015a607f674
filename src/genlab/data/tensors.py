"""``TensorData``: what ``genlab.data.load`` returns — a dataset split held as in-memory tensors."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from genlab.errors import ConfigError, ShapeError

if TYPE_CHECKING:
    from genlab.data.loader import TensorLoader

Binarize = Literal["none", "static", "dynamic"]
BINARIZE_OPTIONS: tuple[str, ...] = ("none", "static", "dynamic")


@dataclasses.dataclass
class TensorData:
    """One split of a dataset as tensors.

    ``x`` is float32: images ``(N, 1, H, W)`` in [0, 1], 2-D points ``(N, 2)``. ``y`` holds int64
    labels ``(N,)`` or is ``None``. ``binarize`` says how images are binarized: ``"none"``,
    ``"static"`` (``x`` already holds one fixed Bernoulli draw, values in {0, 1}) or ``"dynamic"``
    (``x`` holds probabilities; the loader draws fresh Bernoulli samples each epoch). Toy datasets
    made of Gaussian modes also give ``modes`` ``(K, 2)`` (the centres) and ``std`` (their std).
    """

    x: Tensor
    y: Tensor | None
    name: str
    split: str
    binarize: Binarize = "none"
    modes: Tensor | None = None
    std: float | None = None

    def __post_init__(self) -> None:
        if self.x.dtype != torch.float32:
            raise ShapeError(f"{self.name}: x must be float32, got {self.x.dtype}: convert with x.float()")
        if self.y is not None:
            if self.y.dtype != torch.int64 or self.y.dim() != 1 or len(self.y) != len(self.x):
                raise ShapeError(f"{self.name}: y must be int64 of shape ({len(self.x)},), got "
                                 f"{self.y.dtype} {tuple(self.y.shape)}: pass one label per row of x")
        if self.binarize not in BINARIZE_OPTIONS:
            raise ConfigError(f"binarize must be one of {list(BINARIZE_OPTIONS)}, got {self.binarize!r}")

    def __len__(self) -> int:
        return len(self.x)

    def without_labels(self, labels: tuple[int, ...] | list[int]) -> TensorData:
        """This split without the examples whose label is in ``labels`` (e.g. a training set that lacks
        one digit, for anomaly detection); ``self`` when ``labels`` is empty."""
        if not labels:
            return self
        if self.y is None:
            raise ConfigError(f"{self.name} has no labels: cannot leave out labels {list(labels)}")
        absent = sorted({int(c) for c in labels} - set(self.y.unique().tolist()))
        if absent:
            raise ConfigError(f"label(s) {absent} do not occur in {self.name} ({self.split}): its labels are "
                              f"{self.y.unique().tolist()}")
        keep = ~torch.isin(self.y, torch.as_tensor(list(labels), dtype=self.y.dtype))  # (N,)
        return dataclasses.replace(self, x=self.x[keep], y=self.y[keep],
                                   split=f"{self.split}-without-{'-'.join(map(str, labels))}")

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """``(x, y)``, or ``(x,)`` when there are no labels."""
        return (self.x,) if self.y is None else (self.x, self.y)

    def loader(self, batch_size: int, *, shuffle: bool = True, seed: int = 0, drop_last: bool = False,
               rank: int = 0, world_size: int = 1) -> TensorLoader:
        """A ``TensorLoader`` over ``tensors`` that applies this split's ``binarize`` mode."""
        from genlab.data.loader import TensorLoader

        return TensorLoader(*self.tensors, batch_size=batch_size, shuffle=shuffle, seed=seed,
                            drop_last=drop_last, rank=rank, world_size=world_size,
                            binarize="dynamic" if self.binarize == "dynamic" else "none")
