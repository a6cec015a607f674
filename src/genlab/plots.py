"""Image output with no display (matplotlib's Agg backend): sample grids and 2-D scatters (curves: ``genlab.panels``).

A grid (Pillow) is a picture a person reads at a glance: a title band above it, a header over each column and a
label at the start of each row when the caller gives them. A scatter (matplotlib) fades and shrinks its markers as
the points grow in number, marks a toy mixture's modes, and names every layer in a legend.

Each file is written in the format its suffix names (``IMAGE_FORMATS`` for grids, ``FIGURE_FORMATS``
for matplotlib figures; no suffix: PNG); an unknown suffix is a ``ConfigError`` listing the known ones.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genlab.atomic import atomic_file
from genlab.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from PIL.Image import Image

#: suffix → Pillow format of an image grid
IMAGE_FORMATS: dict[str, str] = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: suffix → matplotlib format of a figure (scatters, curves)
FIGURE_FORMATS: dict[str, str] = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".pdf": "pdf", ".svg": "svg"}
_JPEG_QUALITY = 95  # sample grids are small, sharp-edged images: the default 75 smears the strokes
_PAD = 2  # px of white between a grid's tiles (before upscaling)
_MARGIN = 6  # px around the text of a grid's title, headers and row labels
_FONT_SIZE = 13  # px, Pillow's own font: as legible as a figure's labels
_INK = 34  # the grey of a grid's text (0 black, 255 white)
_GRID_PX = 480  # a grid's longer side is upscaled to about this many px
_TITLE_PX = 400  # a grid narrower than its title widens to this many px before the title wraps
_MAX_LEGEND = 12  # a scatter names at most this many series in its legend


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


def finish_figure(fig, path: Path, title: str | None = None) -> Path:
    """A figure's last steps: its title (``suptitle``), a tight layout, ``save_figure``, then closed (freed)."""
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        return save_figure(fig, path)
    finally:
        pyplot().close(fig)


def image_grid(images: Tensor, path: str | os.PathLike, *, nrow: int | None = None, title: str | None = None,
               row_labels: Sequence[str] = (), col_labels: Sequence[str] = ()) -> Path:
    """Save images ``(N, C, H, W)`` with values in [0, 1] (C = 1 or 3) as one grid of ``nrow`` images per row, PNG
    or JPEG as the suffix of ``path`` says (``IMAGE_FORMATS``), drawn by ``grid_picture`` (``title`` above it, a
    label at the start of each row, a header over each column)."""
    fmt = file_format(path, IMAGE_FORMATS, "an image grid")
    img = grid_picture(images, nrow=nrow, title=title, row_labels=row_labels, col_labels=col_labels)
    path = Path(path)
    with atomic_file(path) as f:
        img.save(f, format=fmt, **({"quality": _JPEG_QUALITY} if fmt == "JPEG" else {}))
    return path


def grid_picture(images: Tensor, *, nrow: int | None = None, title: str | None = None,
                 row_labels: Sequence[str] = (), col_labels: Sequence[str] = ()) -> Image:
    """Images ``(N, C, H, W)`` in [0, 1] as one Pillow image: tiles of ``nrow`` per row (default √N) on white,
    upscaled by a whole factor (NEAREST: pixels stay sharp) to about ``_GRID_PX`` and until each header fits its column;
    then framed (``frame``) with ``title``, ``row_labels`` (one per row of tiles) and ``col_labels`` (one per
    column)."""
    import numpy as np
    from PIL import Image

    x = images.detach().float().clamp(0, 1).cpu()
    if x.dim() == 3:
        x = x[:, None]
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + _PAD) + _PAD, nrow * (w + _PAD) + _PAD)  # (C, H', W'), white between tiles
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = _PAD + r * (h + _PAD), _PAD + col * (w + _PAD)
        grid[:, top: top + h, left: left + w] = x[i]
    arr = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # (H', W', C)
    img = Image.fromarray(arr[..., 0] if c == 1 else arr)
    font = _font()
    widest = max((font.getlength(t) for t in col_labels), default=0)
    scale = max(1, round(_GRID_PX / max(img.size)), math.ceil((widest + 4) / (w + _PAD)))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return frame(img, pitch=((h + _PAD) * scale, (w + _PAD) * scale), offset=_PAD * scale, title=title,
                 row_labels=row_labels, col_labels=col_labels)


def frame(img: Image, *, pitch: tuple[int, int], offset: int, title: str | None = None,
          row_labels: Sequence[str] = (), col_labels: Sequence[str] = ()) -> Image:
    """``img`` (a grid of cells ``pitch = (height, width)`` px apart, the first at ``offset``) on a white canvas
    with ``title`` centred in a band above (wrapped at its `` · `` separators to the grid's width), ``col_labels``
    centred over the columns and ``row_labels`` right-aligned left of the rows."""
    from PIL import Image, ImageDraw

    font = _font()
    line = sum(font.getmetrics()) + 2  # px per line of text
    left = int(max((font.getlength(t) for t in row_labels), default=0)) + 2 * _MARGIN if row_labels else 0
    width = max(left + img.width, min(int(font.getlength(title or "")) + 2 * _MARGIN, _TITLE_PX))
    lines = _wrap(title, font, width - 2 * _MARGIN) if title else []
    width = max([width, *(int(font.getlength(t)) + 2 * _MARGIN for t in lines)])
    top = (len(lines) * line + 2 * _MARGIN if lines else 0) + (line + _MARGIN if col_labels else 0)
    ink, paper = (_INK, 255) if img.mode == "L" else ((_INK,) * 3, (255,) * 3)
    canvas = Image.new(img.mode, (width, top + img.height), paper)
    x0 = (width - left - img.width) // 2 + left  # the grid's left edge, the grid centred under a wider title
    canvas.paste(img, (x0, top))
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(lines):
        draw.text((width / 2, _MARGIN + (i + 0.5) * line), text, fill=ink, font=font, anchor="mm")
    for j, text in enumerate(col_labels):
        draw.text((x0 + offset + (j + 0.5) * pitch[1] - offset / 2, top - (line + _MARGIN) / 2), text, fill=ink,
                  font=font, anchor="mm")
    for r, text in enumerate(row_labels):
        draw.text((x0 - _MARGIN, top + offset + (r + 0.5) * pitch[0] - offset / 2), text, fill=ink, font=font,
                  anchor="rm")
    return canvas


def _wrap(text: str, font, width: float) -> list[str]:
    """``text`` in lines of at most ``width`` px, broken only at its `` · `` separators (a longer part: one line)."""
    lines: list[str] = []
    for part in text.split(" · "):
        joined = f"{lines[-1]} · {part}" if lines else part
        if lines and font.getlength(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(part)
    return lines


def _font():
    """Pillow's own scalable font (no system fonts needed), at the size of a figure's labels."""
    from PIL import ImageFont

    return ImageFont.load_default(size=_FONT_SIZE)


def scatter2d(points: Tensor | Mapping[str, Tensor], path: str | os.PathLike, *, reference: Tensor | None = None,
              modes: Tensor | None = None, title: str | None = None) -> Path:
    """Save a scatter plot of 2-D samples ``(N, 2)`` (or of named series of them: a colour each), over reference
    data and mode centres when given (``scatter_figure``), in the format ``path``'s suffix names."""
    plt = pyplot()
    fig = scatter_figure(points, reference=reference, modes=modes, title=title)
    try:
        return save_figure(fig, Path(path))
    finally:
        plt.close(fig)


def scatter_figure(points: Tensor | Mapping[str, Tensor], *, reference: Tensor | None = None,
                   modes: Tensor | None = None, title: str | None = None) -> Figure:
    """A matplotlib figure of 2-D samples: ``points (N, 2)`` in one colour, or a mapping ``name → (N_k, 2)`` (a
    conditional model's classes) in one colour per series; behind them ``reference (M, 2)`` (the data) in grey, on
    top the ``modes (K, 2)`` of a toy mixture as rings. Markers shrink and fade as the points grow in number
    (``marker_style``), so a dense cloud still shows its density; a legend below the axes names each layer."""
    from matplotlib.collections import PathCollection

    plt = pyplot()
    series = {"samples": points} if isinstance(points, Tensor) else dict(points)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if reference is not None:
        r = reference.detach().float().cpu()
        ax.scatter(r[:, 0], r[:, 1], c="0.6", label="data", linewidths=0, **marker_style(len(r)))
    n = sum(len(p) for p in series.values())
    for name, p, colour in zip(series, series.values(), _colours(len(series)), strict=True):
        p = p.detach().float().cpu()
        ax.scatter(p[:, 0], p[:, 1], color=colour, label=name if len(series) <= _MAX_LEGEND else None, linewidths=0,
                   **marker_style(n))
    if modes is not None:
        m = modes.detach().float().cpu()
        ax.scatter(m[:, 0], m[:, 1], marker="o", s=80, facecolors="none", edgecolors="black", linewidths=1.0,
                   label=f"modes ({len(m)})", zorder=3)  # rings: the data and samples at a mode stay visible
    ax.set_aspect("equal")
    ax.set_title(title or "", fontsize=9, wrap=True)
    handles, names = ax.get_legend_handles_labels()
    if len(series) > _MAX_LEGEND:
        names.append(f"samples: {len(series)} classes, a colour each")
        handles.append(plt.Line2D([], [], ls="none"))
    legend = ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=min(4, len(names)),
                       frameon=False, fontsize=8, markerscale=1.0, handletextpad=0.2, columnspacing=1.0)
    for h in legend.legend_handles:  # the legend's markers opaque and of one size, whatever the points'
        h.set_alpha(1)
        if isinstance(h, PathCollection):
            h.set_sizes([16])
    return fig


def _colours(k: int) -> list:
    """``k`` colours for series of samples, none grey (the data) or black (the modes): blue for one series, the
    distinct colours of ``tab10`` for up to 9, else evenly spaced along ``viridis``."""
    plt = pyplot()
    if k <= 9:
        tab = plt.get_cmap("tab10")
        return [tab(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)[:k]]
    return [plt.get_cmap("viridis")(i / (k - 1)) for i in range(k)]


def marker_style(n: int) -> dict[str, float]:
    """Scatter marker size (pt²) and alpha for ``n`` points: near-opaque dots of 10 pt² up to ~100 points, then
    shrinking and fading as ``1/√n`` (to 2 pt² and alpha 0.08), so overlaps add up to the density."""
    root = math.sqrt(max(n, 1))
    return {"s": float(min(10.0, max(2.0, 100 / root))), "alpha": float(min(0.9, max(0.08, 12 / root)))}
