"""``babi``: generated bAbI-style question answering (kind ``"qa"``), seeded; no package ships the tasks.

Task 1, "single supporting fact" (Weston et al. 2015, arXiv:1502.05698, §3): a story of 2–10 sentences in which
people move between places ("mary went to the kitchen ."), then a question about one person who appears in it
("where is mary ?"); the answer is the place of that person's last move. Written here from the task's
description; the other tasks come with the memory networks.

Fields: ``story`` (N, S) int64 word ids padded with 0 and ``story_lengths`` (N,), ``question`` (N, 4) int64,
``answer`` (N,) int64 (a word id); the word vocabulary (``Vocabulary.to_list()``) is ``meta["vocabulary"]``, the
same for every split and seed. Each split is drawn from its own seed (``seed`` and the split's name), so
train, val and test never share a generator stream.
"""

from __future__ import annotations

import torch

from genlab.data.seeding import mix_seed
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.vocab import Vocabulary

PEOPLE = ("mary", "john", "daniel", "sandra")
PLACES = ("bathroom", "hallway", "kitchen", "office", "garden", "bedroom")
MOVES = (("moved", "to"), ("went", "to"), ("journeyed", "to"), ("travelled", "to"), ("went", "back", "to"))
QUESTION = ("where", "is")
SENTENCES = (2, 10)  # a story's sentences, at least and at most
SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}
TASKS = (1,)


def vocabulary() -> Vocabulary:
    """Every word the generator writes, sorted (``<pad>`` = 0, ``<unk>`` = 1 first)."""
    words = {*PEOPLE, *PLACES, *(w for m in MOVES for w in m), *QUESTION, "the", ".", "?"}
    return Vocabulary(sorted(words), unknown=True)


def single_supporting_fact(g: torch.Generator) -> tuple[list[str], list[str], str]:
    """One example of task 1: (story words, question words, answer word)."""
    def pick(options):
        return options[int(torch.randint(len(options), (), generator=g))]

    k = int(torch.randint(SENTENCES[0], SENTENCES[1] + 1, (), generator=g))
    story, last = [], {}
    for _ in range(k):
        person, place = pick(PEOPLE), pick(PLACES)
        story += [person, *pick(MOVES), "the", place, "."]
        last[person] = place
    person = pick(sorted(last))
    return story, [*QUESTION, person, "?"], last[person]


def load_babi(split: str = "train", *, task: int = 1, n_train: int = 1000, n_val: int = 100, n_test: int = 1000,
              seed: int = 0) -> TensorData:
    """``split`` of bAbI-style task ``task``: ``{n_train, n_val, n_test}`` generated examples."""
    if task not in TASKS:
        raise ConfigError(f"babi task {task} is not generated yet: choose one of {', '.join(map(str, TASKS))}")
    n = {"train": n_train, "val": n_val, "test": n_test}[split]
    g = torch.Generator().manual_seed(mix_seed(seed, task, SPLIT_KEYS[split]))
    vocab = vocabulary()
    examples = [single_supporting_fact(g) for _ in range(n)]
    lengths = torch.tensor([len(s) for s, _, _ in examples], dtype=torch.int64)  # (N,)
    story = torch.zeros(n, int(lengths.max()), dtype=torch.int64)  # (N, S), 0 = <pad>
    for i, (words, _, _) in enumerate(examples):
        story[i, : len(words)] = torch.tensor(vocab.encode(words))
    question = torch.tensor([vocab.encode(q) for _, q, _ in examples], dtype=torch.int64)  # (N, 4)
    answer = torch.tensor([vocab.encode([a])[0] for _, _, a in examples], dtype=torch.int64)  # (N,)
    return TensorData({"story": story, "story_lengths": lengths, "question": question, "answer": answer},
                      kind="qa", name="babi", split=split, lengths={"story": "story_lengths"},
                      meta={"vocabulary": vocab.to_list(), "joiner": " ", "task": task})
