"""What the QA models share: the fields of bAbI-style data (``genlab.data.babi``), the answer word as a
``Classifier``'s target, and — for the models that read the story as one word sequence — the loss and prediction
from their ``logits(story, question)``.

Every QA model takes the whole batch: the fields it reads are its ``inputs``, the others its ``optional_inputs``
(passed to ``forward`` and left alone), so each model trains on the same dataset.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.models.base import Classifier, Model, ModelOutput
from genlab.models.text import text_defaults
from genlab.render import Renderer, TextFile

#: the story as one word sequence and as memory slots, the supporting sentences, the task, the question and answer
BABI_FIELDS = ("story", "story_lengths", "sentences", "sentence_count", "supporting", "task", "question", "answer")


def unread(inputs: tuple[str, ...], *also: str) -> tuple[str, ...]:
    """The bAbI fields outside ``inputs``, with ``also`` (fields the model reads when present) first."""
    return (*also, *(f for f in BABI_FIELDS if f not in inputs and f not in also))


@dataclasses.dataclass
class QAOutput(ModelOutput):
    accuracy: Tensor | None = None


class QAModel(Model, Classifier):
    """A model that answers a question about a story with one word (F2: softmax cross-entropy over the words)."""

    kinds = ("qa",)
    target = "answer"
    preview = True  # its answers to validation stories are written to samples/
    monitor, monitor_mode = "val/accuracy", "max"

    @classmethod
    def data_defaults(cls, data) -> dict[str, Any]:
        return text_defaults(data)

    def renderer(self) -> Renderer:
        return TextFile(vocabulary=tuple(self.config.vocabulary), joiner=self.config.joiner)


class StoryReader(QAModel):
    """A QA model reading the ``story`` as one word sequence and the ``question``: subclasses give ``logits``."""

    inputs = ("story", "question", "answer")
    optional_inputs = unread(inputs, "story_lengths")

    def logits(self, story: Tensor, question: Tensor) -> Tensor:  # (B, V)
        raise NotImplementedError

    def forward(self, story: Tensor, question: Tensor, answer: Tensor, story_lengths: Tensor | None = None,
                **unread_fields: Tensor) -> QAOutput:
        """F2: mean cross-entropy of the answer word, and the batch's accuracy (the memory fields left alone)."""
        logits = self.logits(story, question)  # (B, V)
        return QAOutput(F.cross_entropy(logits, answer), accuracy=(logits.argmax(-1) == answer).float().mean())

    @torch.no_grad()
    def predict(self, story: Tensor, question: Tensor) -> Tensor:
        """The most probable answer word's id per example → ``(B,)`` int64."""
        return self.logits(story, question).argmax(-1)
