"""The conditional vector and training-by-sampling of CTGAN (Xu et al. 2019, arXiv:1907.00503, §4.3; G10).

For each training row a discrete column ``j`` is picked uniformly, then one of its categories ``k`` with probability
``∝ log(1 + n_jk)`` (``n_jk``: the training rows holding it) — rare categories are drawn far more often than their
frequency, so the generator learns them — and the real row shown beside it is drawn among the rows that hold
``k`` in column ``j``. The conditional vector ``c`` is the one-hot of ``(j, k)`` over all categories of all discrete
columns (``m`` marks which column). When sampling, ``(j, k)`` follow the training frequencies instead (or a
``where`` condition fixes them).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.tabular.modes import Span


class ConditionSampler:
    """``(j, k)`` draws and the rows that hold them, over the training split's category codes (N, Dc)."""

    def __init__(self, spans: tuple[Span, ...], codes: Tensor | None = None, counts: list[list[int]] | None = None):
        self.spans = spans  # the categorical columns' one-hot spans in the encoded row
        self.offsets = torch.tensor([0] + [s.width for s in spans]).cumsum(0)[:-1]  # (Dc,) start of column j in c
        self.width = sum(s.width for s in spans)  # the conditional vector's length
        self.k_max = max((s.width for s in spans), default=0)
        counts = counts if codes is None else [torch.bincount(codes[:, j], minlength=s.width).tolist()
                                               for j, s in enumerate(spans)]
        n = torch.zeros(len(spans), self.k_max)  # (Dc, K_max) n_jk
        for j, c in enumerate(counts or []):
            n[j, :len(c)] = torch.tensor(c, dtype=torch.float32)
        self.log_frequency = _normalized((1 + n).log().where(n > 0, torch.zeros(())))  # (Dc, K_max) training
        self.frequency = _normalized(n)  # (Dc, K_max) sampling
        # the training rows sorted by column j's code, columns one after the other: the rows holding k in column j
        # are flat[start[j, k] : start[j, k] + n[j, k]]
        self.flat = torch.zeros(0, dtype=torch.long)
        self.start = torch.zeros(len(spans), self.k_max, dtype=torch.long)  # (Dc, K_max)
        self.n = n.long()
        if codes is not None:
            self.flat = codes.argsort(dim=0, stable=True).T.reshape(-1)  # (Dc · N,)
            within = self.n.cumsum(1) - self.n  # (Dc, K_max) where k starts within column j
            self.start = within + torch.arange(len(spans))[:, None] * len(codes)

    @property
    def empty(self) -> bool:
        return not self.spans

    def draw(self, n: int, *, generator: torch.Generator | None = None, log_frequency: bool = True
             ) -> tuple[Tensor, Tensor]:
        """(j (n,), k (n,)): a column uniformly, a category by log-frequency (training) or frequency (sampling)."""
        j = torch.randint(len(self.spans), (n,), generator=generator)
        p = (self.log_frequency if log_frequency else self.frequency)[j]  # (n, K_max)
        k = torch.multinomial(p, 1, generator=generator)[:, 0]
        return j, k

    def vector(self, j: Tensor, k: Tensor) -> Tensor:
        """c (n, width): the one-hot of category ``k`` of column ``j`` in the conditional vector."""
        c = torch.zeros(len(j), self.width)
        c[torch.arange(len(j)), self.offsets[j] + k] = 1.0
        return c

    def real_rows(self, j: Tensor, k: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """(n,) a training row holding category ``k[i]`` in column ``j[i]``, uniformly among them."""
        if not len(self.flat):
            raise ConfigError("the conditional sampler has no training rows: the model's at_start(train_split) "
                              "builds them (genlab train does)")
        count = self.n[j, k]  # (n,) ≥ 1: training draws only categories that occur
        u = torch.rand(len(j), generator=generator)
        offset = (u * count).long().clamp_max(count - 1)
        return self.flat[self.start[j, k] + offset]

    def where(self, column: str, value: str, names: list[str], categories: list[tuple[str, ...]], n: int
              ) -> tuple[Tensor, Tensor]:
        """(j, k) of the condition ``column = value`` repeated ``n`` times; ``ConfigError`` naming the columns or
        categories there are when it names none of them."""
        if column not in names:
            raise ConfigError(f"--where {column}={value}: {column!r} is not a categorical column; the categorical "
                              f"columns are {', '.join(names) or 'none'}")
        j = names.index(column)
        if value not in categories[j]:
            raise ConfigError(f"--where {column}={value}: {column!r} has the categories "
                              f"{', '.join(categories[j])}")
        k = categories[j].index(value)
        if self.frequency[j, k] == 0:
            raise ConfigError(f"--where {column}={value}: no training row holds {value!r}, so the model never "
                              f"learned it: choose one of the categories seen in training")
        return torch.full((n,), j), torch.full((n,), k)


def _normalized(w: Tensor) -> Tensor:
    """Each row of ``w`` divided by its sum (a row of zeros stays zeros)."""
    return w / w.sum(-1, keepdim=True).clamp_min(1e-12)
