"""The generated bAbI-style tasks 1–16 (``genlab.data.babi``): a small solver per task, written here from the English
of the rendered story (not from the generator's state), answers every question as the data does — from the whole
memory and from the supporting sentences alone; the data is seeded, capped, sized and joint as documented."""

from __future__ import annotations

import time

import pytest
import torch

from genlab.data import load
from genlab.data.babi import load_babi, render_example
from genlab.errors import ConfigError
from genlab.vocab import Vocabulary

GRAB = {"picked up", "got", "grabbed", "took"}
THEN = {"then", "afterwards", "following"}  # "following that he ..."
TIMES = {"yesterday": 0, "morning": 1, "afternoon": 2, "evening": 3}
FLIP = {"north": "south", "south": "north", "east": "west", "west": "east"}
SINGULAR = {"mice": "mouse", "wolves": "wolf", "sheep": "sheep", "cats": "cat"}
GLUE = set("the a an is are in of to was before where who what did give how many objects carrying holding color "
           "afraid received".split())


def parse(text: str) -> tuple[list[list[str]], list[str], str, list[int], int]:
    """A rendered example → (story sentences without their "."), question words without "?", answer, supporting
    line numbers (from 1), task)."""
    story, fields = [], {}
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        if head.isdigit():
            story.append(rest.split()[:-1])
        else:
            fields[head.rstrip(":")] = rest
    return (story, fields["question"].split()[:-1], fields["answer"], [int(s) for s in fields["supporting"].split()],
            int(fields["task"]))


def carrying(story: list[list[str]]) -> tuple[dict, dict, dict, dict]:
    """Replay people moving and handling objects: (where people are, who holds what, where objects lie, each
    object's trail of places)."""
    at, holder, lies, trail = {}, {}, {}, {}

    def arrive(o, place):
        if place is not None and trail.setdefault(o, [])[-1:] != [place]:
            trail[o].append(place)

    for w in story:
        if w[-2] == "to":  # "fred gave the milk to bill"
            holder[w[3]] = w[-1]
            trail.pop(w[3], None)
        elif "to" in w:  # "john went back to the kitchen"
            at[w[0]] = w[-1]
            for o, p in holder.items():
                if p == w[0]:
                    arrive(o, w[-1])
        elif " ".join(w[1:-2]) in GRAB:  # "john picked up the milk"
            holder[w[-1]] = w[0]
            lies.pop(w[-1], None)
            arrive(w[-1], at.get(w[0]))
        else:  # "john put down the milk"
            holder.pop(w[-1], None)
            lies[w[-1]] = at.get(w[0])
    return at, holder, lies, trail


def last_about(story, person):
    return [w for w in story if w[0] == person][-1]


def where(story, q):  # tasks 1, 11, 12, 13: "where is mary"
    at, group = {}, ()
    for w in story:
        group = group if w[0] in THEN else tuple(x for x in w[: w.index("and") + 2 if "and" in w else 1] if x != "and")
        for p in group:
            at[p] = w[-1]
    return at[q[2]]


def place_of_object(story, q):  # task 2
    at, holder, lies, _ = carrying(story)
    return at[holder[q[3]]] if q[3] in holder else lies[q[3]]


def before_place(story, q):  # task 3: "where was the football before the kitchen"
    trail = carrying(story)[3][q[3]]
    return trail[trail.index(q[-1]) - 1]


def direction(story, q):  # task 4
    facts = {(w[1], w[3], w[-1]) for w in story} | {(w[-1], FLIP[w[3]], w[1]) for w in story}  # (a, d, b): a d of b
    if q[2] == "the":  # "what is the hallway south of"
        return next(b for a, d, b in facts if (a, d) == (q[3], q[4]))
    return next(a for a, d, b in facts if (d, b) == (q[2], q[-1]))  # "what is north of the hallway"


def giving(story, q):  # task 5
    gives = [(w[0], w[3], w[-1]) for w in story if w[-2] == "to"]
    if q[1] == "received":
        return [r for g, o, r in gives if o == q[-1]][-1]
    if q[1] == "did" and q[0] == "who":  # "who did fred give the football to"
        return [r for g, o, r in gives if (g, o) == (q[2], q[5])][-1]
    if q[0] == "what":  # "what did fred give to bill"
        return [o for g, o, r in gives if (g, r) == (q[2], q[-1])][-1]
    if "to" in q:  # "who gave the football to bill"
        return [g for g, o, r in gives if (o, r) == (q[3], q[-1])][-1]
    return [g for g, o, r in gives if o == q[-1]][-1]  # "who gave the football"


def yes_no(story, q):  # task 6: "is john in the kitchen"
    return "yes" if [w for w in story if w[0] == q[1] and "to" in w][-1][-1] == q[-1] else "no"


def how_many(story, q):  # task 7
    return ["none", "one", "two", "three"][sum(p == q[-2] for p in carrying(story)[1].values())]


def which(story, q):  # task 8, its items in alphabetical order
    return ",".join(sorted(o for o, p in carrying(story)[1].items() if p == q[-2])) or "nothing"


def negation(story, q):  # task 9
    w = last_about(story, q[1])
    if "not" in w or "longer" in w:
        assert w[-1] == q[-1], "only the negated place is asked"
        return "no"
    return "yes" if w[-1] == q[-1] else "no"


def indefinite(story, q):  # task 10
    w = last_about(story, q[1])
    places = {w[5], w[-1]} if "either" in w else {w[-1]}
    return "no" if q[-1] not in places else "yes" if len(places) == 1 else "maybe"


def time_before(story, q):  # task 14: "where was julie before the park"
    days = {}
    for w in story:
        t = next(TIMES[x] for x in w if x in TIMES)
        rest = [x for x in w if x not in TIMES and x != "this"]
        if rest[0] == q[2]:
            days[t] = rest[-1]
    then = next(t for t, place in days.items() if place == q[-1])
    return days[max(t for t in days if t < then)]


def deduction(story, q):  # task 15: "what is gertrude afraid of"
    kind = [w[-1] for w in story if w[0] == q[2] and w[1] == "is"][-1]
    return SINGULAR[[w[-1] for w in story if w[1] == "are" and SINGULAR[w[0]] == kind][-1]]


def induction(story, q):  # task 16: "what color is bernhard"
    kind = {w[0]: w[-1] for w in story if w[2:3] == ["a"]}
    color = {w[0]: w[-1] for w in story if len(w) == 3}
    return next(c for n, c in color.items() if kind[n] == kind[q[-1]])


SOLVERS = {1: where, 2: place_of_object, 3: before_place, 4: direction, 5: giving, 6: yes_no, 7: how_many, 8: which,
           9: negation, 10: indefinite, 11: where, 12: where, 13: where, 14: time_before, 15: deduction,
           16: induction}


@pytest.mark.parametrize("task", sorted(SOLVERS))
def test_a_solver_reading_the_story_agrees_with_every_answer_and_the_supporting_sentences_suffice(task):
    data = load("babi", split="test", task=task, n_test=50, seed=task)
    assert len(data) == 50 and (data.fields["task"] == task).all()
    for i in range(50):
        story, q, answer, supporting, t = parse(render_example(data, i))
        assert t == task and len(story) == int(data.fields["sentence_count"][i])
        assert SOLVERS[task](story, q) == answer, render_example(data, i)
        assert supporting and all(1 <= s <= len(story) for s in supporting)
        assert SOLVERS[task]([story[s - 1] for s in supporting], q) == answer, render_example(data, i)
        subject = set(q) - GLUE
        assert any(subject & set(story[s - 1]) for s in supporting), render_example(data, i)


def test_every_word_is_in_the_one_vocabulary_of_all_tasks():
    data = load("babi", split="val", task="all", n_val=40)
    assert sorted(set(data.fields["task"].tolist())) == list(range(1, 17))
    assert data.meta["tasks"] == list(range(1, 17)) and data.meta["size"] == "1k"
    for name in ("story", "question", "answer", "sentences"):
        assert not (data.fields[name] == 1).any(), f"<unk> in {name}"  # no word outside the vocabulary
    one = load("babi", split="val", task=7, n_val=40)
    assert one.meta["vocabulary"] == data.meta["vocabulary"]
    joint_seven = data.subset(data.fields["task"] == 7)
    assert torch.equal(joint_seven.fields["answer"], one.fields["answer"])  # task 7 alone is task 7 of the joint set
    assert load("babi", split="val", task="joint", n_val=3).meta["task"] == "all"


def test_the_same_seed_gives_the_same_tensors_another_seed_other_ones():
    a, b = (load("babi", split="train", task=3, n_train=200, seed=5) for _ in range(2))
    assert all(torch.equal(a.fields[k], b.fields[k]) for k in a.fields)
    c = load("babi", split="train", task=3, n_train=200, seed=6)
    assert not torch.equal(a.fields["answer"], c.fields["answer"])
    test = load("babi", split="test", task=3, n_test=200, seed=5)
    assert not torch.equal(a.fields["answer"], test.fields["answer"])  # each split its own stream


def test_the_memory_keeps_the_last_sentences_and_shifts_the_supporting_facts():
    full = load("babi", split="train", task=3, n_train=150, seed=1)
    short = load("babi", split="train", task=3, n_train=150, seed=1, memory_size=6)
    assert int(short.fields["sentence_count"].max()) == 6 and short.fields["sentences"].shape[1] == 6
    assert torch.equal(full.fields["answer"], short.fields["answer"])
    dropped = 0
    for i in range(150):
        n, k = int(full.fields["sentence_count"][i]), int(short.fields["sentence_count"][i])
        assert k == min(n, 6)
        W = short.fields["sentences"].shape[2]
        assert torch.equal(short.fields["sentences"][i, :k], full.fields["sentences"][i, n - k : n, :W])
        for s_full, s_short in zip(full.fields["supporting"][i].tolist(), short.fields["supporting"][i].tolist(),
                                   strict=True):
            assert s_short == (s_full - (n - k) if s_full >= n - k else -1)
        dropped += any(0 <= s < n - k for s in full.fields["supporting"][i].tolist())
    assert dropped > 0 and short.meta["beyond_memory"] == dropped  # such questions are kept, their facts −1


def test_the_two_sizes_give_one_and_ten_thousand_training_questions_in_seconds():
    assert len(load("babi", split="train", task=2)) == 1000
    start = time.perf_counter()
    big = load("babi", split="train", task=3, size="10k")
    assert len(big) == 10_000 and big.meta["size"] == "10k"
    assert time.perf_counter() - start < 10
    assert len(load("babi", split="train", task=2, size="10k", n_train=30)) == 30  # n_train, when given, wins


@pytest.mark.parametrize("task", [0, 17, "x", True])
def test_a_task_that_does_not_exist_is_a_config_error_naming_the_tasks(task):
    with pytest.raises(ConfigError, match="1, 2, 3.*16, all, joint"):
        load("babi", split="train", task=task)
    with pytest.raises(ConfigError, match="1–16"):
        load_babi("train", task=task)


def test_the_fields_have_the_documented_shapes():
    data = load("babi", split="val", task=16, n_val=10)
    f = data.fields
    N, M, W = f["sentences"].shape
    assert (N, M) == (10, 9) and f["sentence_count"].tolist() == [9] * 10 and f["supporting"].shape == (10, 3)
    assert all(t.dtype == torch.int64 for t in f.values())
    vocab = Vocabulary.from_list(data.meta["vocabulary"])
    flat = [w for j in range(9) for w in vocab.decode([t for t in f["sentences"][0, j].tolist() if t])]
    assert vocab.decode(f["story"][0, : int(f["story_lengths"][0])].tolist()) == flat  # the bag of words' story
