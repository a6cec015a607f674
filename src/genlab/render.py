"""How a model's samples become a file: one ``Renderer`` object per kind of sample, chosen by the model.

A ``Generative`` model's ``renderer()`` returns one of these; the spine (``samples/`` grids during
training) and ``genlab sample`` call ``renderer.write(samples, path)`` and never look at shapes
themselves. Images ``(N, C, H, W)`` → a PNG grid; 2-D points ``(N, 2)`` → a PNG scatter (over
reference data when given); anything else → the tensor in a ``.safetensors`` file. A new family
(text, series, tables) adds a renderer here and returns it from its ``renderer()``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import Tensor


@dataclasses.dataclass(frozen=True)
class Renderer:
    """Writes a batch of samples to ``path`` (its suffix replaced by ``suffix``); returns the path written."""

    suffix: str = ".png"

    def write(self, samples: Tensor, path: str | Path, *, reference: Tensor | None = None,
              title: str | None = None) -> Path:
        raise NotImplementedError

    def path(self, path: str | Path) -> Path:
        return Path(path).with_suffix(self.suffix)


@dataclasses.dataclass(frozen=True)
class ImageGrid(Renderer):
    """Images ``(N, C, H, W)`` in [0, 1] → one PNG grid."""

    def write(self, samples, path, *, reference=None, title=None) -> Path:
        from genlab.plots import image_grid

        return image_grid(samples.float(), self.path(path))


@dataclasses.dataclass(frozen=True)
class Scatter2D(Renderer):
    """2-D points ``(N, 2)`` → a PNG scatter, over ``reference`` points (the data) when given."""

    def write(self, samples, path, *, reference=None, title=None) -> Path:
        from genlab.plots import scatter2d

        ref = reference if reference is not None and reference.dim() == 2 else None
        return scatter2d(samples.float(), self.path(path), reference=ref, title=title)


@dataclasses.dataclass(frozen=True)
class TensorFile(Renderer):
    """Any tensor → ``samples`` in a ``.safetensors`` file (no pickle)."""

    suffix: str = ".safetensors"

    def write(self, samples, path, *, reference=None, title=None) -> Path:
        from safetensors.torch import save_file

        out = self.path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_file({"samples": samples.detach().cpu().contiguous()}, str(out))
        return out


IMAGE_GRID, SCATTER_2D, TENSOR_FILE = ImageGrid(), Scatter2D(), TensorFile()


def renderer_for_shape(shape: tuple[int, ...]) -> Renderer:
    """The renderer for samples of per-example ``shape``: ``(C, H, W)`` images, ``(2,)`` points, else a file."""
    if len(shape) == 3:
        return IMAGE_GRID
    if tuple(shape) == (2,):
        return SCATTER_2D
    return TENSOR_FILE
