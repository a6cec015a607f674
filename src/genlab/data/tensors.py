"""``TensorData``: what ``genlab.data.load`` returns — a dataset split held as named in-memory tensors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor

from genlab.data.batch import check_fields, select_rows, width
from genlab.errors import ConfigError, ShapeError

if TYPE_CHECKING:
    from genlab.data.loader import LoaderOrder, TensorLoader

Binarize = Literal["none", "static", "dynamic"]
BINARIZE_OPTIONS: tuple[str, ...] = ("none", "static", "dynamic")
FLOAT_KINDS = ("image", "vector")  # kinds whose ``x`` holds continuous values (float32)


class TensorData:
    """One split of a dataset as named tensor fields, all with the same first dimension ``N``.

    ``fields`` maps names to tensors of any dtype and shape; the names are the models' ``forward``
    keyword arguments. Common layouts, by ``kind``:

    - ``"image"``: ``x`` float32 ``(N, C, H, W)`` in [0, 1], ``y`` int64 labels ``(N,)`` (optional);
    - ``"vector"``: ``x`` float32 ``(N, D)`` (2-D toy points), ``y`` optional;
    - ``"tokens"``: ``tokens`` int64 ``(N, T)`` + ``tokens_lengths`` ``(N,)``;
    - ``"pairs"``: ``src`` ``(N, S)``, ``tgt`` ``(N, T)`` and their lengths; ``"series"``: ``context`` /
      ``target`` windows; ``"qa"``: ``story`` / ``question`` / ``answer``; ``"table"``: one field per column.

    ``lengths`` names, for each variable-length (padded) field ``(N, T, ...)``, the int64 field that
    holds its row lengths, e.g. ``{"src": "src_lengths", "tgt": "tgt_lengths"}``; a padded field is
    stored padded at the end of dim 1 to its longest row (``T == lengths.max()``) and the loader trims
    each batch to its own longest row. ``meta`` is a JSON-able dict (vocabulary, toy ``modes`` and
    ``std``, column spec, ...). ``binarize`` says how images are binarized: ``"none"``, ``"static"``
    (``x`` already holds one fixed Bernoulli draw, values in {0, 1}) or ``"dynamic"`` (``x`` holds
    probabilities; the loader draws fresh Bernoulli samples each epoch).

    Build it from a dict, from keyword fields, or both: ``TensorData(x=x, y=y, name="digits",
    split="train")`` (a field given as ``None`` is left out; ``kind`` defaults to ``"image"`` for a 4-D
    ``x`` and ``"vector"`` for a 2-D one) or ``TensorData({"src": s, ...}, kind="pairs", lengths=...,
    name=..., split=...)``. The names ``name``, ``split``, ``kind``, ``meta``, ``lengths``, ``binarize``
    and ``fields`` are taken: fields with those names go in the dict.
    """

    def __init__(self, fields: Mapping[str, Tensor | None] | None = None, *, name: str, split: str,
                 kind: str | None = None, meta: Mapping[str, Any] | None = None,
                 lengths: Mapping[str, str] | None = None, binarize: Binarize = "none",
                 **named: Tensor | None) -> None:
        both = sorted(set(fields or {}) & set(named))
        if both:
            raise ConfigError(f"{name}: field(s) {both} given both in fields and as keywords: pass each once")
        self.fields: dict[str, Tensor] = {k: t for k, t in {**(fields or {}), **named}.items() if t is not None}
        self.name, self.split = name, split
        self.lengths: dict[str, str] = dict(lengths or {})
        self.meta: dict[str, Any] = dict(meta or {})
        self.binarize: Binarize = binarize
        self.kind = kind if kind is not None else self._default_kind()
        self._check()

    def _default_kind(self) -> str:
        x = self.fields.get("x")
        if x is not None and x.dim() in (2, 4):
            return "image" if x.dim() == 4 else "vector"
        raise ConfigError(f"{self.name}: pass kind= ('image', 'vector', 'tokens', 'pairs', 'series', 'table', "
                          f"'qa', ...): it is inferred only from an x of shape (N, C, H, W) or (N, D)")

    def _check(self) -> None:
        n = check_fields(self.fields, self.lengths, self.name)
        x, y = self.x, self.y
        if self.kind in FLOAT_KINDS and x is not None and x.dtype != torch.float32:
            raise ShapeError(f"{self.name}: x must be float32, got {x.dtype}: convert with x.float()")
        if y is not None and (y.dtype != torch.int64 or y.dim() != 1):
            raise ShapeError(f"{self.name}: y must be int64 of shape ({n},), got {y.dtype} {tuple(y.shape)}: "
                             f"pass one label per row of x")
        for padded, counts in self.lengths.items():
            if n and self.fields[padded].shape[1] != width(self.fields[counts]):
                raise ShapeError(f"{self.name}: padded field {padded!r} is {self.fields[padded].shape[1]} wide but "
                                 f"its longest row is {width(self.fields[counts])}: store it trimmed, "
                                 f"{padded}[:, :{counts}.max()]")
        if self.binarize not in BINARIZE_OPTIONS:
            raise ConfigError(f"binarize must be one of {list(BINARIZE_OPTIONS)}, got {self.binarize!r}")
        if self.binarize != "none" and (x is None or not x.is_floating_point()):
            raise ConfigError(f"{self.name}: binarize={self.binarize!r} needs a float field x of probabilities")
        try:
            json.dumps(self.meta)
        except TypeError as e:
            raise ConfigError(f"{self.name}: meta must be JSON-able (dicts, lists, str, numbers): {e}; "
                              f"convert tensors with .tolist()") from None

    # ---- the fields the rest of genlab reads ----------------------------------------------------------
    @property
    def x(self) -> Tensor | None:
        """The ``x`` field (images, points), or ``None``."""
        return self.fields.get("x")

    @property
    def y(self) -> Tensor | None:
        """The ``y`` field (int64 labels ``(N,)``), or ``None``."""
        return self.fields.get("y")

    @property
    def modes(self) -> Tensor | None:
        """Centres ``(K, D)`` of a toy Gaussian mixture (``meta["modes"]``), or ``None``."""
        modes = self.meta.get("modes")
        return None if modes is None else torch.tensor(modes, dtype=torch.float32)

    @property
    def std(self) -> float | None:
        """The std of a toy dataset's noise (``meta["std"]``), or ``None``."""
        return self.meta.get("std")

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The fields' tensors, in field order (``(x, y)`` or ``(x,)`` for images and points)."""
        return tuple(self.fields.values())

    def __len__(self) -> int:
        return next(iter(self.fields.values())).shape[0]

    # ---- new splits from this one -----------------------------------------------------------------------
    def replace(self, **changes: Any) -> TensorData:
        """A copy with some of ``fields``, ``name``, ``split``, ``kind``, ``meta``, ``lengths``, ``binarize``
        changed (validated again; tensors are shared, not copied)."""
        unknown = sorted(set(changes) - {"fields", "name", "split", "kind", "meta", "lengths", "binarize"})
        if unknown:
            raise ConfigError(f"TensorData.replace got unknown argument(s) {unknown}: to change a field pass "
                              f"fields={{**data.fields, name: tensor}}")
        now = dict(fields=self.fields, name=self.name, split=self.split, kind=self.kind, meta=self.meta,
                   lengths=self.lengths, binarize=self.binarize)
        return TensorData(**{**now, **changes})

    def subset(self, rows: Tensor, *, split: str | None = None) -> TensorData:
        """The rows ``rows`` (int64 indices ``(M,)`` or a bool mask ``(N,)``) of every field, padded
        fields trimmed to their new longest row; ``split`` renames the split."""
        if rows.dtype == torch.bool:
            rows = rows.nonzero().squeeze(1)  # (M,)
        return self.replace(fields=select_rows(self.fields, self.lengths, rows), split=split or self.split)

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
        return self.subset(keep, split=f"{self.split}-without-{'-'.join(map(str, labels))}")

    def per_class(self, k: int, *, seed: int = 0) -> TensorData:
        """A labelled subset of ``k`` examples of each class, drawn with ``seed`` (the low-data regime of G10:
        e.g. 100 digits per class); the examples keep their order in the split."""
        if self.y is None:
            raise ConfigError(f"{self.name} has no labels: cannot take {k} examples per class")
        if k < 1:
            raise ConfigError(f"examples per class must be ≥ 1, got {k}")
        counts = torch.bincount(self.y)
        short = [c for c in self.y.unique().tolist() if counts[c] < k]
        if short:
            raise ConfigError(f"{self.name} ({self.split}) has fewer than {k} examples of class(es) {short} "
                              f"(fewest: {int(counts[short].min())}): ask for at most that many per class")
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self.y), generator=g)  # a random draw of each class's examples
        keep = torch.zeros(len(self.y), dtype=torch.bool)
        for c in self.y.unique().tolist():
            keep[order[self.y[order] == c][:k]] = True
        return self.subset(keep, split=f"{self.split}-{k}-per-class")

    def loader(self, batch_size: int, *, shuffle: bool | None = None, order: LoaderOrder | None = None,
               seed: int = 0, drop_last: bool | None = None, rank: int = 0, world_size: int = 1,
               bucket_by: str | None = None, bucket_size: int | None = None) -> TensorLoader:
        """A ``TensorLoader`` over ``fields`` with this split's ``lengths`` (padding trimmed per batch)
        and ``binarize`` mode; ``shuffle`` / ``order``, ``drop_last``, ``bucket_by`` / ``bucket_size`` as in
        ``TensorLoader`` (a ``LoaderPolicy``'s ``options()`` are such keyword arguments)."""
        from genlab.data.loader import TensorLoader

        return TensorLoader(self.fields, batch_size=batch_size, shuffle=shuffle, order=order, seed=seed,
                            drop_last=drop_last, rank=rank, world_size=world_size, lengths=self.lengths,
                            binarize="dynamic" if self.binarize == "dynamic" else "none",
                            bucket_by=bucket_by, bucket_size=bucket_size)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}"
                           for k, t in self.fields.items())
        extra = "".join(f", {k}={v!r}" for k, v in (("lengths", self.lengths), ("binarize", self.binarize))
                        if v and v != "none")
        return f"TensorData({self.name!r}, {self.split!r}, kind={self.kind!r}, {shapes}{extra})"
