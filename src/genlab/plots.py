"""Image output with no display (matplotlib's Agg backend): sample grids, 2-D scatters, curves.

Each file is written in the format its suffix names (``IMAGE_FORMATS`` for grids, ``FIGURE_FORMATS``
for matplotlib figures; no suffix: PNG); an unknown suffix is a ``ConfigError`` listing the known ones.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from genlab.atomic import atomic_file
from genlab.errors import ConfigError

#: suffix → Pillow format of an image grid
IMAGE_FORMATS: dict[str, str] = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: suffix → matplotlib format of a figure (scatters, curves)
FIGURE_FORMATS: dict[str, str] = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".pdf": "pdf", ".svg": "svg"}
_JPEG_QUALITY = 95  # sample grids are small, sharp-edged images: the default 75 smears the strokes


def file_format(path: str | os.PathLike, formats: dict[str, str], what: str = "this image") -> str:
    """The format ``path``'s suffix names in ``formats`` (no suffix: PNG); ``ConfigError`` listing them otherwise."""
    suffix = Path(path).suffix.lower() or ".png"
    if suffix not in formats:
        raise ConfigError(f"cannot write {what} as {suffix!r} ({Path(path).name}): "
                          f"name a file ending in {', '.join(formats)}")
    return formats[suffix]


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure atomically in the format ``path``'s suffix names (``FIGURE_FORMATS``)."""
    fmt = file_format(path, FIGURE_FORMATS, "a figure")
    extra = {"pil_kwargs": {"quality": _JPEG_QUALITY}} if fmt == "jpeg" else {}
    with atomic_file(path) as f:
        fig.savefig(f, format=fmt, dpi=100, bbox_inches="tight", **extra)
    return path


def image_grid(images: Tensor, path: str | os.PathLike, *, nrow: int | None = None,
               title: str | None = None) -> Path:
    """Save images ``(N, C, H, W)`` with values in [0, 1] as one grid (C = 1 or 3), PNG or JPEG as the
    suffix of ``path`` says (``IMAGE_FORMATS``)."""
    import numpy as np
    from PIL import Image

    fmt = file_format(path, IMAGE_FORMATS, "an image grid")
    x = images.detach().float().clamp(0, 1).cpu()
    if x.dim() == 3:
        x = x[:, None]
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    pad = 2
    grid = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = x[i]
    arr = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    img = Image.fromarray(arr[..., 0] if c == 1 else arr)
    scale = max(1, 256 // max(arr.shape[0], 1))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    with atomic_file(path) as f:
        img.save(f, format=fmt, **({"quality": _JPEG_QUALITY} if fmt == "JPEG" else {}))
    return path


def scatter2d(points: Tensor, path: str | os.PathLike, *, reference: Tensor | None = None,
              title: str | None = None) -> Path:
    """Save a scatter plot of 2-D samples (``(N, 2)``), over reference data when given."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    if reference is not None:
        r = reference.detach().cpu()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="lightgray", label="data")
    p = points.detach().cpu()
    ax.scatter(p[:, 0], p[:, 1], s=2, c="tab:blue", label="samples")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    out = save_figure(fig, Path(path))
    plt.close(fig)
    return out


def read_metrics(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a metrics.csv with numbers parsed (empty cells dropped)."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append({k: float(v) for k, v in r.items() if v not in ("", None)})
    return rows


def curves(metrics_csv: str | os.PathLike, path: str | os.PathLike, keys: Sequence[str]) -> Path | None:
    """Plot each metric in ``keys`` against the step (one panel each); ``None`` if nothing to plot."""
    rows = read_metrics(metrics_csv)
    keys = [k for k in keys if any(k in r for r in rows)]
    if not keys:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    for ax, k in zip(axes[0], keys, strict=False):
        pts = [(r["step"], r[k]) for r in rows if k in r and "step" in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 30 else None)
        ax.set_title(k)
        ax.set_xlabel("step")
    fig.tight_layout()
    out = save_figure(fig, Path(path))
    plt.close(fig)
    return out
