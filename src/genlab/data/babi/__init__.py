"""``babi``: generated bAbI-style question answering, tasks 1–16 (kind ``"qa"``), seeded; no package ships the tasks.

Written from the task descriptions of Weston et al. 2015, "Towards AI-Complete Question Answering: A Set of
Prerequisite Toy Tasks" (arXiv:1502.05698, §3); no code or text of Facebook's generator. A story is a list of
statements with questions between them (``story.Story``); each question is one example, whose memory is the
statements before it, whose answer is one word (task 8: the objects joined by ",", or "nothing"), and whose
supporting facts are recorded. The tasks, by module: ``moves`` (1, 6, 9–13), ``objects`` (2, 3, 5, 7, 8),
``relations`` (4, 14–16).

Fields (N questions; ids of one vocabulary for all tasks, ``meta["vocabulary"]``, 0 = ``<pad>``):

- ``sentences`` (N, M, W) int64: the memory, one sentence per slot in story order, 0-padded; only the most recent
  ``memory_size`` statements are kept (Sukhbaatar et al. 2015, arXiv:1503.08895, §4.2: 50); M is the most
  sentences of any example in the split, W its longest sentence; ``sentence_count`` (N,) the slots used;
- ``story`` (N, S) the same sentences flattened into one row of words, ``story_lengths`` (N,) (the bag of words);
- ``question`` (N, Q) int64, 0-padded; ``answer`` (N,) int64, a word id;
- ``supporting`` (N, 3) int64: indices into the example's ``sentences``, in story order, −1-padded; a supporting
  fact older than the memory is −1 in its place (the example is kept; ``meta["beyond_memory"]`` counts them);
- ``task`` (N,) int64: the task number (1–16), for ``task="all"``'s joint training.

Sizes: ``size`` ``"1k"`` or ``"10k"`` training questions per task (the paper's two), or ``n_train`` if given;
``n_val`` and ``n_test`` per task. Each task and split is drawn from its own seed (``mix_seed(seed, task,
split)``), so train, val and test never share a generator stream, and ``task="all"`` holds each task's questions
exactly as ``task=t`` draws them.
"""

from __future__ import annotations

import array
import random
from collections.abc import Callable

import torch

from genlab.data.babi.lexicon import vocabulary
from genlab.data.babi.moves import (
    basic_coreference,
    compound_coreference,
    conjunction,
    indefinite_knowledge,
    simple_negation,
    single_supporting_fact,
    yes_no_questions,
)
from genlab.data.babi.objects import (
    counting,
    lists_sets,
    three_argument_relations,
    three_supporting_facts,
    two_supporting_facts,
)
from genlab.data.babi.relations import basic_deduction, basic_induction, time_reasoning, two_argument_relations
from genlab.data.babi.story import Example, Story, examples
from genlab.data.seeding import mix_seed
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.vocab import Vocabulary

#: task number → its story generator (``rng`` → ``Story``), as numbered in Weston et al. 2015, Table 1
TASKS: dict[int, Callable[[random.Random], Story]] = {
    1: single_supporting_fact, 2: two_supporting_facts, 3: three_supporting_facts, 4: two_argument_relations,
    5: three_argument_relations, 6: yes_no_questions, 7: counting, 8: lists_sets, 9: simple_negation,
    10: indefinite_knowledge, 11: basic_coreference, 12: conjunction, 13: compound_coreference,
    14: time_reasoning, 15: basic_deduction, 16: basic_induction}
JOINT = ("all", "joint")  # every task in one dataset
SIZES = {"1k": 1_000, "10k": 10_000}  # training questions per task
SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}
MAX_SUPPORTING = 3  # task 3 needs three facts
MEMORY_SIZE = 50

__all__ = ["JOINT", "SIZES", "TASKS", "generate", "load_babi", "render_example", "tasks_of", "vocabulary"]


def tasks_of(task: int | str) -> tuple[int, ...]:
    """The task numbers ``task`` names: itself, or all sixteen for ``"all"`` / ``"joint"``; ``ConfigError`` else."""
    if task in JOINT:
        return tuple(TASKS)
    if isinstance(task, str) and task.isdigit():
        task = int(task)
    if isinstance(task, bool) or task not in TASKS:
        raise ConfigError(f"babi has no task {task!r}: choose 1–{len(TASKS)} or one of {', '.join(JOINT)} (every "
                          f"task together)")
    return (int(task),)


def generate(task: int, n: int, seed: int, memory_size: int = MEMORY_SIZE) -> list[Example]:
    """``n`` examples of ``task``: whole stories drawn with ``seed`` until ``n`` questions are asked (the last story
    cut short), each question with the most recent ``memory_size`` facts as its memory."""
    rng = random.Random(seed)
    out: list[Example] = []
    while len(out) < n:
        out += examples(TASKS[task](rng), memory_size)
    return out[:n]


def load_babi(split: str = "train", *, task: int | str = 1, size: str = "1k", n_train: int = 0, n_val: int = 100,
              n_test: int = 1000, memory_size: int = MEMORY_SIZE, seed: int = 0) -> TensorData:
    """``split`` of bAbI-style task ``task`` (1–16, or ``"all"``: every task, each with its count): ``n_train``
    training questions per task (0: ``size``'s 1,000 or 10,000), ``n_val``, ``n_test``."""
    tasks = tasks_of(task)
    if size not in SIZES:
        raise ConfigError(f"babi size must be one of {', '.join(SIZES)}, got {size!r}")
    if memory_size < 1:
        raise ConfigError(f"babi memory_size must be ≥ 1 (the sentences a question may read), got {memory_size}")
    n = {"train": n_train or SIZES[size], "val": n_val, "test": n_test}[split]
    drawn = [(t, e) for t in tasks for e in generate(t, n, mix_seed(seed, t, SPLIT_KEYS[split]), memory_size)]
    vocab = vocabulary()
    meta = {"vocabulary": vocab.to_list(), "joiner": " ", "task": task if len(tasks) == 1 else "all",
            "tasks": list(tasks), "size": size, "memory_size": memory_size,
            "beyond_memory": sum(-1 in e.supporting for _, e in drawn)}  # questions missing a supporting fact
    return TensorData(encode(drawn, vocab), kind="qa", name="babi", split=split,
                      lengths={"story": "story_lengths", "sentences": "sentence_count"}, meta=meta)


def int64(flat: list[int], *shape: int) -> torch.Tensor:
    """``flat`` as an int64 tensor of ``shape`` (through an array: ten times faster than ``torch.tensor``)."""
    return torch.frombuffer(array.array("q", flat), dtype=torch.int64).view(shape).clone()


def encode(drawn: list[tuple[int, Example]], vocab: Vocabulary) -> dict[str, torch.Tensor]:
    """The fields of ``drawn`` (task, example) pairs, word ids padded with 0 (see the module's docstring)."""
    M = max(len(e.sentences) for _, e in drawn)
    W = max(len(s) for _, e in drawn for s in e.sentences)
    Q = max(len(e.question) for _, e in drawn)
    ids: dict[tuple[str, ...], list[int]] = {}  # each distinct sentence encoded once (stories repeat them)

    def padded(words: tuple[str, ...], width: int) -> list[int]:
        if words not in ids:
            ids[words] = vocab.encode(list(words))
        return ids[words] + [0] * (width - len(words))

    blank = [0] * W * M
    memory = [[w for s in e.sentences for w in padded(s, W)] for _, e in drawn]  # each memory, its slots in a row
    rows = [[w for s in e.sentences for w in ids[s]] for _, e in drawn]  # each example's flattened story
    S = max(len(r) for r in rows)
    return {"story": int64([w for r in rows for w in r + [0] * (S - len(r))], len(drawn), S),  # (N, S)
            "story_lengths": torch.tensor([len(r) for r in rows]),  # (N,)
            "question": torch.tensor([padded(e.question, Q) for _, e in drawn]),  # (N, Q)
            "answer": torch.tensor([vocab.encode([e.answer])[0] for _, e in drawn]),  # (N,)
            "sentences": int64([w for m in memory for w in m + blank[len(m):]], len(drawn), M, W),  # (N, M, W)
            "sentence_count": torch.tensor([len(e.sentences) for _, e in drawn]),  # (N,)
            "supporting": torch.tensor([[*e.supporting, *[-1] * (MAX_SUPPORTING - len(e.supporting))]
                                        for _, e in drawn]),  # (N, 3), −1-padded
            "task": torch.tensor([t for t, _ in drawn])}  # (N,)


def render_example(data: TensorData, i: int) -> str:
    """Example ``i`` of a ``load_babi`` split as plain text: its memory's sentences numbered from 1, then the
    question, the answer, the supporting sentences' numbers (those still in memory) and the task."""
    vocab = Vocabulary.from_list(data.meta["vocabulary"])
    f = data.fields

    def words(ids: torch.Tensor) -> str:
        return " ".join(vocab.decode([t for t in ids.tolist() if t != 0]))

    lines = [f"{j + 1} {words(f['sentences'][i, j])}" for j in range(int(f["sentence_count"][i]))]
    supporting = [str(s + 1) for s in f["supporting"][i].tolist() if s >= 0]
    lines += [f"question: {words(f['question'][i])}", f"answer: {words(f['answer'][i : i + 1])}",
              f"supporting: {' '.join(supporting)}", f"task: {int(f['task'][i])}"]
    return "\n".join(lines)
