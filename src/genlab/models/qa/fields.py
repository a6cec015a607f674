"""The fields of bAbI-style data (``genlab.data.babi``) and what a QA model declares it does not read.

Every QA model takes the whole batch: the fields it reads are its ``inputs``, the others its ``optional_inputs``
(passed to ``forward`` and left alone), so each model trains on the same dataset.
"""

from __future__ import annotations

#: the story as one word sequence and as memory slots, the supporting sentences, the task, the question and answer
BABI_FIELDS = ("story", "story_lengths", "sentences", "sentence_count", "supporting", "task", "question", "answer")


def unread(inputs: tuple[str, ...], *also: str) -> tuple[str, ...]:
    """The bAbI fields outside ``inputs``, with ``also`` (fields the model reads when present) first."""
    return (*also, *(f for f in BABI_FIELDS if f not in inputs and f not in also))
