"""A bAbI story: numbered facts with questions between them, and how it becomes examples with a bounded memory.

As in Weston et al. 2015 (arXiv:1502.05698, §3), a story is a list of statements with questions interleaved;
each question is one example whose memory is the statements told before it (questions are not memory), whose
answer is one word, and whose supporting facts are the statements the answer follows from. A memory network keeps
only the most recent ``memory_size`` statements (50 in Sukhbaatar et al. 2015, arXiv:1503.08895, §4.2): the
older ones are dropped, and a supporting fact among them is recorded as −1.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator


@dataclasses.dataclass(frozen=True)
class Question:
    """A question asked after the first ``after`` facts: its words, its one-word answer and its supporting facts
    (indices into the story's facts, in story order)."""

    after: int
    words: tuple[str, ...]
    answer: str
    supporting: tuple[int, ...]


class Story:
    """Facts (sentences, each a tuple of words ending in ".") and the questions asked between them."""

    def __init__(self) -> None:
        self.facts: list[tuple[str, ...]] = []
        self.questions: list[Question] = []

    def tell(self, text: str) -> int:
        """Add the statement ``text`` (space-separated words); its index among the facts."""
        self.facts.append((*text.split(), "."))
        return len(self.facts) - 1

    def ask(self, text: str, answer: str, supporting: tuple[int, ...] | list[int]) -> bool:
        """Ask ``text`` now (its memory: the facts told so far); True, so that a task's ``ask`` can return it."""
        self.questions.append(Question(len(self.facts), (*text.split(), "?"), answer, tuple(sorted(set(supporting)))))
        return True


def interleave(rng: random.Random, story: Story, act: Callable[[], bool], ask: Callable[[], bool], *,
               questions: int = 5, gap: tuple[int, int] = (2, 4), patience: int = 40) -> Story:
    """Fill ``story``: ``gap`` (at least, at most) facts from ``act``, then a question from ``ask``, ``questions``
    times; when ``ask`` finds nothing to ask it tells one more fact and tries again (up to ``patience`` times).
    ``act`` and ``ask`` return whether they told or asked something; a story ends early when ``act`` has nothing
    left to tell or ``patience`` runs out (the loader then draws the next story)."""
    while len(story.questions) < questions:
        for _ in range(rng.randint(*gap)):
            if not act():
                return story
        for _ in range(patience):
            if ask():
                break
            if not act():
                return story
        else:
            return story
    return story


@dataclasses.dataclass(frozen=True)
class Example:
    """One question with its memory: the ``sentences`` kept (the most recent ``memory_size``) and its supporting
    facts as indices into them (−1: the fact fell out of memory)."""

    sentences: tuple[tuple[str, ...], ...]
    question: tuple[str, ...]
    answer: str
    supporting: tuple[int, ...]


def examples(story: Story, memory_size: int) -> Iterator[Example]:
    """Each question of ``story`` as an ``Example`` whose memory is the last ``memory_size`` facts before it."""
    for q in story.questions:
        start = max(0, q.after - memory_size)  # facts before ``start`` are dropped
        yield Example(tuple(story.facts[start:q.after]), q.words, q.answer,
                      tuple(s - start if s >= start else -1 for s in q.supporting))
