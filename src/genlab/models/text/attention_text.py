"""``AttentionText``: documents with their predicted and true classes and the weight a pooling gave each word.

``write(fields, path)`` reads named fields of one batch — the documents (``input``, word ids ``(N, L)``), the
model's ``output`` and the ``truth`` (class ids ``(N,)``) — and asks ``attend(words)`` for the weights ``α``
``(N, L)`` (None: the model has none; only the classes and the text are written). Two formats:

- ``.txt``: per document a header ``predicted: politics   truth: politics   (n words)``, the ten words of largest
  weight (``top: blair 8.1 %, labour 5.2 %, ...``), then the text with ``[w %]`` after every word whose weight
  is at least twice the uniform ``1/n`` — the words the model leans on, in place;
- ``.html``: the same headers, and every word on a red background whose opacity is ``α_t / max α`` (the word's
  weight in a tooltip): a heat map over the document.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Mapping
from pathlib import Path

from torch import Tensor

from genlab.errors import ConfigError
from genlab.render import Renderer

TOP = 10  # words listed by weight
MARK = 2.0  # a word's weight is written in the .txt where it is ≥ MARK / n


@dataclasses.dataclass(frozen=True)
class Document:
    """One document as written: its words, their weights (or None) and the class names."""

    words: list[str]
    weights: list[float] | None
    predicted: str
    truth: str

    def header(self) -> str:
        mark = "" if self.predicted == self.truth else "   ✗"
        return f"predicted: {self.predicted}   truth: {self.truth}   ({len(self.words)} words){mark}"

    def top(self) -> str:
        ranked = sorted(range(len(self.words)), key=lambda t: -self.weights[t])[:TOP]
        return "top: " + ", ".join(f"{self.words[t]} {100 * self.weights[t]:.1f} %" for t in ranked)

    def marked_text(self, joiner: str) -> str:
        floor = MARK / max(len(self.words), 1)
        return joiner.join(w if self.weights is None or a < floor else f"{w} [{100 * a:.1f} %]"
                           for w, a in zip(self.words, self.weights or [0.0] * len(self.words), strict=True))


@dataclasses.dataclass(frozen=True)
class AttentionText(Renderer):
    """Documents, predicted and true classes, and each word's pooling weight → ``.txt`` or an ``.html`` heat map."""

    vocabulary: tuple[str, ...] = ()  # id → word (``Vocabulary.to_list()``)
    joiner: str = " "
    classes: tuple[str, ...] = ()  # class id → name
    attend: Callable[[Tensor], Tensor] | None = dataclasses.field(default=None, compare=False, repr=False)
    input: str = "words"  # the field holding the documents
    suffixes: tuple[str, ...] = (".txt", ".html")
    what: str = "documents with attention weights"

    def documents(self, fields: Mapping[str, Tensor]) -> list[Document]:
        missing = [k for k in (self.input, "output", "truth") if k not in fields]
        if missing:
            raise ConfigError(f"{type(self).__name__} writes documents from the fields {self.input}, output and truth; "
                              f"{', '.join(missing)} missing (got {', '.join(fields)})")
        ids = fields[self.input].cpu()  # (N, L)
        alpha = None if self.attend is None else self.attend(ids).float()  # (N, L)
        out = []
        for i, row in enumerate(ids):
            real = row != 0  # <pad> = 0: no word
            words = [self.vocabulary[j] for j in row[real].tolist()]  # one per weight (<unk> kept)
            weights = None if alpha is None else alpha[i][real].tolist()
            out.append(Document(words, weights, self._name(fields["output"][i]), self._name(fields["truth"][i])))
        return out

    def _name(self, k: Tensor) -> str:
        k = int(k)
        return self.classes[k] if 0 <= k < len(self.classes) else str(k)

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        from genlab.atomic import atomic_write_text

        if not isinstance(samples, Mapping):
            raise ConfigError(f"{type(self).__name__} writes named fields ({self.input}, output, truth), got a "
                              f"tensor {tuple(samples.shape)}")
        docs, target = self.documents(samples), self.path(path)
        if target.suffix.lower() == ".html":
            return atomic_write_text(target, self._html(docs, title))
        head = [f"# {title}"] if title else []
        blocks = []
        for d in docs:
            lines = [d.header()]
            if d.weights is not None:
                lines += [d.top(), f"text ([w %] after the words weighing ≥ {MARK:g}/n):"]
            lines.append(d.marked_text(self.joiner))
            blocks.append("\n".join(lines))
        return atomic_write_text(target, "\n\n".join(head + blocks) + "\n")

    def _html(self, docs: list[Document], title: str | None) -> str:
        parts = ["<!doctype html>", '<meta charset="utf-8">', f"<title>{html.escape(title or 'documents')}</title>",
                 "<style>body{font-family:sans-serif;max-width:60em;margin:auto}p{line-height:1.7}"
                 "span{padding:0 1px}</style>"]
        if title:
            parts.append(f"<h1>{html.escape(title)}</h1>")
        for d in docs:
            parts.append(f"<h3>{html.escape(d.header())}</h3>")
            if d.weights is None:
                parts.append(f"<p>{html.escape(self.joiner.join(d.words))}</p>")
                continue
            parts.append(f"<p><small>{html.escape(d.top())}</small></p>")
            top = max(d.weights, default=1.0) or 1.0
            spans = [f'<span style="background:rgba(220,30,30,{a / top:.3f})" title="{100 * a:.2f} %">'
                     f"{html.escape(w)}</span>" for w, a in zip(d.words, d.weights, strict=True)]
            parts.append("<p>" + html.escape(self.joiner).join(spans) + "</p>")
        return "\n".join(parts) + "\n"
