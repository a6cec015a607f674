"""``AlignmentMaps``: a sequence-to-sequence model's outputs for some sources, with the attention behind each.

``write(fields, path)`` reads named fields of one batch — the ``source`` ids ``(N, S)``, the model's ``output`` and,
for test examples, the ``truth`` ``(N, T)`` (padded with 0) — and writes

- ``.png`` (``.jpg``, ``.pdf``, ``.svg``): one attention map per example (at most ``MAPS``), the source symbols
  along the x axis, the output symbols and ``<eos>`` down the y axis, each cell the weight ``α_{t,i}`` that writing
  output ``t`` gave source symbol ``i`` (``align(source, output)`` of the model); titled ``source → output``, with
  the truth below when the output differs;
- ``.txt``: one line per example, ``source → output`` and ``(truth: ...)`` where it differs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from pathlib import Path

from torch import Tensor

from genlab.errors import ConfigError
from genlab.render import Renderer, _vocabulary

MAPS = 12  # attention maps drawn in one picture


@dataclasses.dataclass(frozen=True)
class AlignmentMaps(Renderer):
    """Sources, outputs and truths → attention maps (``.png``) or lines of text (``.txt``)."""

    source_vocabulary: tuple[str, ...] = ()
    target_vocabulary: tuple[str, ...] = ()
    source_joiner: str = ""
    target_joiner: str = " "
    align: Callable[[Tensor, Tensor], Tensor] | None = dataclasses.field(default=None, compare=False, repr=False)
    suffixes: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".pdf", ".svg", ".txt")
    what: str = "outputs with attention maps"

    @classmethod
    def of(cls, model) -> AlignmentMaps:
        """The renderer of a ``Transduces`` model: its vocabularies, joiners and ``alignment`` (in eval mode)."""
        c = model.config
        return cls(source_vocabulary=tuple(c.source_vocabulary), target_vocabulary=tuple(c.target_vocabulary),
                   source_joiner=c.source_joiner, target_joiner=c.target_joiner,
                   align=lambda source, output: model.alignment(source, output).cpu())

    def symbols(self, ids: Tensor, side: str) -> list[str]:
        """The symbols of one row (``<pad>``, ``<bos>`` dropped, cut at ``<eos>``)."""
        table = self.source_vocabulary if side == "source" else self.target_vocabulary
        return _vocabulary(table).decode(ids.reshape(-1).tolist())

    def text(self, ids: Tensor, side: str) -> str:
        return (self.source_joiner if side == "source" else self.target_joiner).join(self.symbols(ids, side))

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        if not isinstance(samples, Mapping) or any(k not in samples for k in ("source", "output")):
            got = ", ".join(samples) if isinstance(samples, Mapping) else f"a tensor {tuple(samples.shape)}"
            raise ConfigError(f"{type(self).__name__} writes the named fields source, output (and truth); got {got}")
        target = self.path(path)
        if target.suffix.lower() == ".txt":
            return self._text(samples, target, title)
        return self._maps(samples, target, title)

    def _truth(self, fields: Mapping[str, Tensor], i: int, out: str) -> str:
        """The truth of example ``i`` as text (the output itself when there is none: nothing to compare)."""
        return out if "truth" not in fields else self.text(fields["truth"][i], "target")

    def _line(self, fields: Mapping[str, Tensor], i: int) -> str:
        out = self.text(fields["output"][i], "target")
        truth = self._truth(fields, i, out)
        return f"{self.text(fields['source'][i], 'source')} → {out}" + ("" if out == truth else f"   (truth: {truth})")

    def _text(self, fields: Mapping[str, Tensor], target: Path, title: str | None) -> Path:
        from genlab.atomic import atomic_write_text

        n = len(fields["source"])
        head = [f"# {title}"] if title else []
        return atomic_write_text(target, "\n".join(head + [self._line(fields, i) for i in range(n)]) + "\n")

    def _maps(self, fields: Mapping[str, Tensor], target: Path, title: str | None) -> Path:
        from genlab.plots import pyplot, save_figure

        if self.align is None:
            raise ConfigError("this model gives no attention weights: write its outputs as .txt")
        n = min(MAPS, len(fields["source"]))
        source, output = fields["source"][:n].cpu(), fields["output"][:n].cpu()
        weights = self.align(source, output).float()  # (n, T + 1, S)
        cols = min(4, n)
        rows = math.ceil(n / cols)
        plt = pyplot()
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.axis("off")
                continue
            xs = self.symbols(source[k], "source")
            ys = self.symbols(output[k], "target") + ["<eos>"]
            ax.imshow(weights[k, : len(ys), : len(xs)].numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(len(xs)), xs, fontsize=8)
            ax.set_yticks(range(len(ys)), ys, fontsize=8)
            out = self.text(output[k], "target")
            truth = self._truth(fields, k, out)
            label = self.text(source[k], "source") + ("" if out == truth else f"\n(truth: {truth})")
            ax.set_title(label, fontsize=9, color="black" if out == truth else "firebrick")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        try:
            return save_figure(fig, target)
        finally:
            plt.close(fig)
