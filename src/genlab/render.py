"""How a model's samples become a file: one ``Renderer`` object per kind of sample, chosen by the model.

A model's ``renderer()`` returns one of these; the spine (``samples/`` during training) and ``genlab sample``
call ``renderer.write(samples, path)`` and never look at shapes or suffixes themselves. ``samples`` is a tensor
(a batch of samples) or a mapping of named fields of one batch (a predicting model's inputs, its ``output`` and
the ``truth``, each ``(N, ...)``), which the renderer lays out side by side. Images ``(N, C, H, W)`` → a PNG or
JPEG grid (named fields: one row of images per example); 2-D points ``(N, 2)`` → a PNG, JPEG, PDF or SVG scatter
(over reference data when given); text and tables have their renderers in their families (``.txt``, ``.csv``);
anything else → the tensors in a ``.safetensors`` file. The file is written in the format its suffix names;
``check(path)`` refuses a suffix the renderer cannot write (a user's ``--out``). A new family adds a renderer
and returns it from its model's ``renderer()``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.plots import FIGURE_FORMATS, IMAGE_FORMATS


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

    def write(self, samples: Tensor | Mapping[str, Tensor], path: str | os.PathLike, *,
              reference: Tensor | None = None, title: str | None = None) -> Path:
        raise NotImplementedError

    def reference_from(self, fields: dict[str, Tensor]) -> Tensor | None:
        """What to draw the samples against, taken from a split's named ``fields`` (None: nothing). Only the
        renderer knows which field, if any, it compares with: the spine assumes none."""
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
    """Images ``(N, C, H, W)`` in [0, 1] → one grid, PNG or JPEG."""

    suffixes: tuple[str, ...] = tuple(IMAGE_FORMATS)
    what: str = "an image grid"

    def write(self, samples, path, *, reference=None, title=None) -> Path:
        from genlab.plots import image_grid

        if isinstance(samples, Mapping):  # one row per example: its fields side by side (source, output, truth)
            images = [t.float().cpu() for t in samples.values() if t.dim() == 4]
            if not images or len({t.shape for t in images}) != 1:
                raise ConfigError(f"an image grid of named fields needs image fields of one shape (N, C, H, W), got "
                                  f"{ {k: tuple(t.shape) for k, t in samples.items()} }")
            n = len(images[0])
            return image_grid(torch.stack(images, 1).flatten(0, 1), self.path(path), nrow=len(images) * min(8, n))
        return image_grid(samples.float(), self.path(path))


@dataclasses.dataclass(frozen=True)
class Scatter2D(Renderer):
    """2-D points ``(N, 2)`` → a scatter (PNG, JPEG, PDF or SVG), over ``reference`` points (the data) when given."""

    suffixes: tuple[str, ...] = tuple(FIGURE_FORMATS)
    what: str = "a 2-D scatter"

    def write(self, samples, path, *, reference=None, title=None) -> Path:
        from genlab.plots import scatter2d

        if isinstance(samples, Mapping):
            raise ConfigError(f"a 2-D scatter draws one batch of points, got named fields {list(samples)}: write "
                              f"them with TensorFile")
        ref = reference if reference is not None and reference.dim() == 2 else None
        return scatter2d(samples.float(), self.path(path), reference=ref, title=title)

    def reference_from(self, fields: dict[str, Tensor]) -> Tensor | None:
        """The data's points (``x``, at most 2,000) as the backdrop, when they are 2-D points."""
        x = fields.get("x")
        return x[:2000] if x is not None and x.dim() == 2 and x.shape[1] == 2 else None


@dataclasses.dataclass(frozen=True)
class TensorFile(Renderer):
    """Any tensor → ``samples`` in a ``.safetensors`` file (no pickle), written atomically."""

    suffixes: tuple[str, ...] = (".safetensors",)
    what: str = "a tensor of samples"

    def write(self, samples, path, *, reference=None, title=None) -> Path:
        from safetensors.torch import save

        from genlab.atomic import atomic_write_bytes

        fields = samples if isinstance(samples, Mapping) else {"samples": samples}
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

    def write(self, samples, path, *, reference=None, title=None) -> Path:
        from genlab.atomic import atomic_write_text

        if isinstance(samples, Mapping):
            n = len(next(iter(samples.values())))
            blocks = ["\n".join(f"{name}: {self.decode(t[i])}" for name, t in samples.items()) for i in range(n)]
        else:
            blocks = [self.decode(row) for row in samples]
        head = [f"# {title}"] if title else []
        return atomic_write_text(self.path(path), "\n\n".join(head + blocks) + "\n")


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
