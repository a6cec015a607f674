"""A memory network's stories with the attention of each hop over their sentences (S2): ``.txt`` or a ``.png``.

Text: each story's sentences numbered, the weight ``p^k_i`` of every hop k beside each (the sentence a hop reads
most marked ``◀``), then the question, the model's answer and the truth. A picture: one heat map per story, the
sentences down the side, one column per hop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

from torch import Tensor

from genlab.errors import ConfigError
from genlab.render import Renderer, _vocabulary

FIELDS = ("sentences", "sentence_count", "question", "output", "truth")


@dataclasses.dataclass(frozen=True)
class Story:
    sentences: list[str]
    attention: list[list[float]]  # (K hops, M sentences)
    question: str
    output: str
    truth: str


@dataclasses.dataclass(frozen=True)
class HopAttention(Renderer):
    """Stories, questions, answers and each hop's attention → ``.txt`` lines or ``.png`` heat maps."""

    vocabulary: tuple[str, ...] = ()
    joiner: str = " "
    attend: Callable[[Tensor, Tensor, Tensor], Tensor] | None = dataclasses.field(default=None, compare=False,
                                                                                  repr=False)
    suffixes: tuple[str, ...] = (".txt", ".png", ".jpg", ".jpeg", ".pdf", ".svg")
    what: str = "stories with each hop's attention"

    def text(self, ids: Tensor) -> str:
        return self.joiner.join(_vocabulary(self.vocabulary).decode(ids.reshape(-1).tolist()))

    def stories(self, fields: Mapping[str, Tensor]) -> list[Story]:
        missing = [k for k in FIELDS if k not in fields]
        if missing:
            raise ConfigError(f"{type(self).__name__} writes stories from the fields {', '.join(FIELDS)}; "
                              f"{', '.join(missing)} missing (got {', '.join(fields)})")
        sentences, count = fields["sentences"].cpu(), fields["sentence_count"].cpu()
        attention = self.attend(sentences, count, fields["question"].cpu()).float()  # (N, K, M)
        return [Story([self.text(s) for s in sentences[i, : int(count[i])]],
                      attention[i, :, : int(count[i])].tolist(), self.text(fields["question"][i]),
                      self.text(fields["output"][i]), self.text(fields["truth"][i]))
                for i in range(len(sentences))]

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        from genlab.atomic import atomic_write_text

        if not isinstance(samples, Mapping):
            raise ConfigError(f"{type(self).__name__} writes named fields ({', '.join(FIELDS)}), got a tensor")
        path = self.path(path)
        stories = self.stories(samples)
        if path.suffix.lower() != ".txt":
            return self._picture(stories, path, title)
        blocks = [f"# {title}"] if title else []
        for s in stories:
            K = len(s.attention)
            lines = [f"{'':>4}  {'':<44}" + "".join(f"{f'hop {k + 1}':>6} " for k in range(K))]
            most = [max(range(len(a)), key=a.__getitem__) if a else -1 for a in s.attention]
            for i, sentence in enumerate(s.sentences):
                marks = " ".join(f"{s.attention[k][i]:5.2f}" + ("◀" if most[k] == i else " ") for k in range(K))
                lines.append(f"{i + 1:>4}  {sentence[:44]:<44} {marks}")
            lines += [f"question: {s.question}", f"answer: {s.output}   (truth: {s.truth})"]
            blocks.append("\n".join(lines))
        return atomic_write_text(path, "\n\n".join(blocks) + "\n")

    def _picture(self, stories: list[Story], path: Path, title: str | None) -> Path:
        from genlab.plots import finish_figure, pyplot

        plt = pyplot()
        heights = [max(2.0, 0.28 * len(s.sentences) + 1.2) for s in stories]
        fig, axes = plt.subplots(len(stories), 1, figsize=(7.5, sum(heights)), squeeze=False,
                                 gridspec_kw={"height_ratios": heights})
        for ax, s in zip(axes[:, 0], stories, strict=True):
            weights = [list(col) for col in zip(*s.attention, strict=True)] or [[0.0] * len(s.attention)]
            ax.imshow(weights, cmap="Blues", vmin=0, vmax=1, aspect="auto")
            ax.set_yticks(range(len(s.sentences)), [f"{i + 1}. {t}" for i, t in enumerate(s.sentences)], fontsize=7)
            ax.set_xticks(range(len(s.attention)), [f"hop {k + 1}" for k in range(len(s.attention))], fontsize=8)
            ax.set_title(f"{s.question}  →  {s.output}  (truth: {s.truth})", fontsize=9)
        return finish_figure(fig, path, title)
