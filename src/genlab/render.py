"""How a model's samples become a file: one ``Renderer`` object per kind of sample, chosen by the model.

A model's ``renderer()`` returns one of these; the spine (``samples/`` during training) and ``genlab sample``
call ``renderer.write(samples, path, title=..., labels=...)`` and never look at shapes or suffixes themselves.
``samples`` is a tensor (a batch of samples) or a mapping of named fields of one batch (a predicting model's
inputs, its ``output`` and the ``truth``, each ``(N, ...)``), which the renderer lays out side by side;
``labels`` (``Labels``) the class of each sample of a conditional model's draw (``Generative.draw``). Images
``(N, C, H, W)`` → a PNG or JPEG grid under its title (named fields: one example per row, a column per field
under its name; labels: one row per class, named at its start); 2-D points ``(N, 2)`` → a PNG, JPEG, PDF or SVG
scatter (over the data and a toy's modes when given; labels: a colour per class) with a legend; text and tables
have their renderers in their families (``.txt``, ``.csv``); anything else → the tensors in a ``.safetensors``
file. The file is written in the format its suffix names; ``check(path)`` refuses a suffix the renderer cannot
write (a user's ``--out``). A new family adds a renderer and returns it from its model's ``renderer()``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.plots import FIGURE_FORMATS, IMAGE_FORMATS

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData
    from genlab.rundir import RunDir

MAX_ROW = 16  # an image grid of classes wraps a class's samples into rows of at most this many


@dataclasses.dataclass(frozen=True)
class Labels:
    """The class of each sample of a conditional model's draw, ``y (N,)`` int64, and the classes' ``names`` (the
    data's ``meta["classes"]``; empty: the class index names it)."""

    y: Tensor
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, y: Tensor | None, names: Sequence[str] | None = None) -> Labels | None:
        """``Labels`` of ``y`` (what ``Generative.draw`` returns), or None when there are none (unconditional)."""
        return None if y is None else cls(y.detach().cpu().long(), tuple(names or ()))

    def name(self, k: int) -> str:
        """Class ``k``'s name: ``names[k]``, else the index; ``∅`` for the null label (``−1``, no class)."""
        return "∅" if k < 0 else self.names[k] if k < len(self.names) else str(k)

    def groups(self) -> dict[str, Tensor]:
        """``name → indices (N_k,)`` of the samples of each class present, in class order."""
        return {self.name(k): (self.y == k).nonzero()[:, 0] for k in self.y.unique().tolist()}


@dataclasses.dataclass(frozen=True)
class Backdrop:
    """What a scatter's samples are drawn against: the data's ``points (M, 2)`` and a toy mixture's ``modes (K, 2)``
    (each None when unknown)."""

    points: Tensor | None = None
    modes: Tensor | None = None


def caption(run: RunDir, model: str | None, *details: str) -> str:
    """A picture's title: the model, the run folder's name and ``details``, joined by `` · ``
    (``vae · vae-mnist-20260101-120000 · iteration 1200 (epoch 3)``). The model is named as the run's
    ``config.yaml`` names it (``cgan``, not the class ``CGAN``), else (a bare model folder) by ``model``."""
    name = run.read_config().get("model") if run.is_run() else None
    return " · ".join(str(p) for p in (name or model, run.path.name, *details) if p)


@dataclasses.dataclass(frozen=True)
class Renderer:
    """Writes a batch of samples to ``path`` in a format it knows; returns the path written.

    ``suffixes``: the file formats it writes, the first the default.
    """

    suffixes: tuple[str, ...] = (".png",)
    what: str = "samples"  # what it writes, for messages

    @property
    def suffix(self) -> str:
        """The default suffix."""
        return self.suffixes[0]

    def write(self, samples: Tensor | Mapping[str, Tensor], path: str | os.PathLike, *, reference: Any = None,
              title: str | None = None, labels: Labels | None = None) -> Path:
        """Write ``samples`` to ``path`` under ``title``, against ``reference`` (what ``reference_from`` chose),
        showing the class of each sample (``labels``) where the format can."""
        raise NotImplementedError

    def reference_from(self, data: TensorData) -> Any:
        """What to draw the samples against, taken from a split ``data`` (None: nothing), handed back to ``write``
        as ``reference``. Only the renderer knows which fields, if any, it compares with: the spine assumes none."""
        return None

    def path(self, path: str | os.PathLike) -> Path:
        """``path`` if its suffix is one this renderer writes, else with the default suffix (the spine's
        ``samples/epoch_000.png`` becomes ``.safetensors`` for a tensor file)."""
        p = Path(path)
        return p if p.suffix.lower() in self.suffixes else p.with_suffix(self.suffix)

    def check(self, path: str | os.PathLike) -> Path:
        """A path the user named: kept if this renderer writes its suffix, given the default suffix if it
        has none, else a ``ConfigError`` listing the suffixes it writes."""
        p = Path(path)
        if not p.suffix:
            return p.with_suffix(self.suffix)
        if p.suffix.lower() not in self.suffixes:
            raise ConfigError(f"cannot write {self.what} as {p.suffix!r} ({p}): name a file ending in "
                              f"{', '.join(self.suffixes)}")
        return p


@dataclasses.dataclass(frozen=True)
class ImageGrid(Renderer):
    """Images ``(N, C, H, W)`` in [0, 1] → one grid, PNG or JPEG, under its title: square, or one row per class
    (``labels``), or one example per row with a column per named field (``fields_side_by_side``)."""

    suffixes: tuple[str, ...] = tuple(IMAGE_FORMATS)
    what: str = "an image grid"

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        from genlab.plots import image_grid

        if isinstance(samples, Mapping):  # one example per row: its fields side by side (source, output, truth)
            tiles, per_row, headers = fields_side_by_side(samples)
            return image_grid(tiles, self.path(path), nrow=per_row, title=title, col_labels=headers)
        if labels is not None:  # one row per class (a class with many samples: several rows), named at its start
            tiles, per_row, names = rows_per_class(samples.float(), labels)
            return image_grid(tiles, self.path(path), nrow=per_row, title=title, row_labels=names)
        return image_grid(samples.float(), self.path(path), title=title)


def fields_side_by_side(fields: Mapping[str, Tensor]) -> tuple[Tensor, int, list[str]]:
    """Named image fields, each ``(N, C, H, W)``, as the tiles of a grid with one example per row and a column per
    field, headed by its name; many examples wrap into blocks of rows set side by side (as many as make the grid
    about square: 64 (source, output, truth) triples, 4 blocks of 16 rows), a blank column between blocks.
    Returns the tiles ``(rows · per_row, C, H, W)`` (blank: white), ``per_row`` and the headers."""
    images = {k: t.detach().float().cpu() for k, t in fields.items() if t.dim() == 4}
    if not images or len({t.shape for t in images.values()}) != 1:
        raise ConfigError(f"an image grid of named fields needs image fields of one shape (N, C, H, W), got "
                          f"{ {k: tuple(t.shape) for k, t in fields.items()} }")
    stacked = torch.stack(list(images.values()), 1)  # (N, F, C, H, W)
    n, f = stacked.shape[:2]
    blocks = max(1, round(math.sqrt(n / (f + 1))))  # about as many rows as columns of tiles
    rows = math.ceil(n / blocks)
    blank = torch.ones_like(stacked[:1])  # (1, F, C, H, W)
    stacked = torch.cat([stacked, blank.expand(blocks * rows - n, *blank.shape[1:])])  # (blocks · rows, F, ...)
    tiles = stacked.view(blocks, rows, f, *stacked.shape[2:]).transpose(0, 1)  # (rows, blocks, F, C, H, W)
    gap = torch.ones_like(tiles[:, :, :1])  # a blank column after each block ...
    tiles = torch.cat([tiles, gap], 2).flatten(1, 2)[:, :-1]  # ... but the last: (rows, blocks · (F + 1) − 1, ...)
    headers = ([*images, ""] * blocks)[:-1]
    return tiles.flatten(0, 1), tiles.shape[1], headers


def rows_per_class(samples: Tensor, labels: Labels) -> tuple[Tensor, int, list[str]]:
    """Images ``(N, C, H, W)`` and their classes as the tiles of a grid with one row per class (one class, or more
    than ``MAX_ROW`` images of one: a square block of rows), each row named by its class. Returns the tiles (blank:
    white), images per row and the row names."""
    groups = labels.groups()
    most = max(len(i) for i in groups.values())
    per_row = most if len(groups) > 1 and most <= MAX_ROW else math.ceil(math.sqrt(most))
    tiles, names = [], []
    for name, index in groups.items():
        rows = math.ceil(len(index) / per_row)
        block = torch.ones(rows * per_row, *samples.shape[1:])  # (rows · per_row, C, H, W), white
        block[: len(index)] = samples[index.to(samples.device)].detach().cpu()
        tiles.append(block)
        names += [name] * rows
    return torch.cat(tiles), per_row, names


@dataclasses.dataclass(frozen=True)
class Scatter2D(Renderer):
    """2-D points ``(N, 2)`` → a scatter (PNG, JPEG, PDF or SVG), over ``reference`` points (the data) when given."""

    suffixes: tuple[str, ...] = tuple(FIGURE_FORMATS)
    what: str = "a 2-D scatter"

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        from genlab.plots import scatter2d

        if isinstance(samples, Mapping):
            raise ConfigError(f"a 2-D scatter draws one batch of points, got named fields {list(samples)}: write "
                              f"them with TensorFile")
        backdrop = reference if isinstance(reference, Backdrop) else Backdrop(points=reference)  # (M, 2) points
        points = samples.float() if labels is None else {  # a colour per class, named as --y names it
            name if labels.names else f"y = {name}": samples[index.to(samples.device)].float()
            for name, index in labels.groups().items()}
        ref = backdrop.points if backdrop.points is not None and backdrop.points.dim() == 2 else None
        return scatter2d(points, self.path(path), reference=ref, modes=backdrop.modes, title=title)

    def reference_from(self, data: TensorData) -> Backdrop:
        """The data's points (``x``, at most 2,000) as the backdrop, when they are 2-D points; a toy mixture's
        modes (``data.modes``) marked on top."""
        x = data.fields.get("x")
        return Backdrop(points=x[:2000] if x is not None and x.dim() == 2 and x.shape[1] == 2 else None,
                        modes=data.modes)


@dataclasses.dataclass(frozen=True)
class TensorFile(Renderer):
    """Any tensor → ``samples`` in a ``.safetensors`` file (no pickle), written atomically."""

    suffixes: tuple[str, ...] = (".safetensors",)
    what: str = "a tensor of samples"

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        from safetensors.torch import save

        from genlab.atomic import atomic_write_bytes

        fields = samples if isinstance(samples, Mapping) else {"samples": samples}
        fields = fields if labels is None else {**fields, "y": labels.y}  # the class of each sample
        return atomic_write_bytes(self.path(path), save({k: t.detach().cpu().contiguous() for k, t in fields.items()}))


@dataclasses.dataclass(frozen=True)
class TextFile(Renderer):
    """Token ids → a UTF-8 ``.txt`` file, decoded with ``vocabulary`` (a ``Vocabulary.to_list()``) and joined by
    ``joiner`` (``""`` for characters, ``" "`` for words). A batch ``(N, T)``: one sample per paragraph. Named
    fields (a QA model's ``story``, ``question``, ``output``, ``truth``): each example as ``name: text`` lines, a
    field ``(N,)`` read as one symbol per example."""

    vocabulary: tuple[str, ...] = ()
    joiner: str = ""
    suffixes: tuple[str, ...] = (".txt",)
    what: str = "text"

    def decode(self, ids: Tensor) -> str:
        """The text of one row of ids (``<pad>`` and ``<bos>`` dropped, cut at ``<eos>``)."""
        return self.joiner.join(_vocabulary(self.vocabulary).decode(ids.reshape(-1).tolist()))

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        from genlab.atomic import atomic_write_text

        if isinstance(samples, Mapping):
            n = len(next(iter(samples.values())))
            blocks = ["\n".join(f"{name}: {self.decode(t[i])}" for name, t in samples.items()) for i in range(n)]
        else:
            blocks = [self.decode(row) for row in samples]
        head = [f"# {title}"] if title else []
        return atomic_write_text(self.path(path), "\n\n".join(head + blocks) + "\n")

    @staticmethod
    def read(path: str | os.PathLike) -> tuple[str | None, list[str]]:
        """``(title, samples)`` of a file ``write`` wrote: its ``# title`` line (None when it has none) and the
        samples, one per paragraph."""
        title, blocks = None, Path(path).read_text(encoding="utf-8").removesuffix("\n").split("\n\n")
        if blocks and blocks[0].startswith("# ") and "\n" not in blocks[0]:
            title, blocks = blocks[0][2:], blocks[1:]
        return title, blocks


@functools.lru_cache(maxsize=8)
def _vocabulary(items: tuple[str, ...]):
    from genlab.vocab import Vocabulary

    return Vocabulary.from_list(list(items))


IMAGE_GRID, SCATTER_2D, TENSOR_FILE = ImageGrid(), Scatter2D(), TensorFile()


def renderer_for_shape(shape: tuple[int, ...]) -> Renderer:
    """The renderer for samples of per-example ``shape``: ``(C, H, W)`` images, ``(2,)`` points, else a file."""
    if len(shape) == 3:
        return IMAGE_GRID
    if tuple(shape) == (2,):
        return SCATTER_2D
    return TENSOR_FILE
