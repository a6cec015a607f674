"""bAbI tasks about objects people carry: 2, 3 (where an object is or was), 5 (who gave what to whom), 7 and 8
(how many objects someone carries, and which). Weston et al. 2015, arXiv:1502.05698, §3, written from the tasks'
descriptions."""

from __future__ import annotations

import random

from genlab.data.babi.lexicon import GIVERS, NOTHING, NUMBERS, OBJECTS, PEOPLE
from genlab.data.babi.story import Story, interleave
from genlab.data.babi.world import World


def two_supporting_facts(rng: random.Random) -> Story:
    """Task 2, "where is the football ?": the place of whoever carries it (the grab and their move), or where it was
    dropped (the drop and the dropper's move)."""
    story = Story()
    world = World(rng, story, PEOPLE, OBJECTS)

    def ask() -> bool:
        options = [o for o in OBJECTS if o in world.lies or (o in world.holder and world.holder[o][0] in world.at)]
        if not options:
            return False
        o = rng.choice(options)
        if o in world.lies:
            place, facts = world.lies[o]
        else:
            p, grab = world.holder[o]
            place, facts = world.at[p][0], (grab, world.at[p][1])
        return story.ask(f"where is the {o}", place, facts)

    return interleave(rng, story, lambda: world.act(move=5, grab=2, drop=1), ask)


def three_supporting_facts(rng: random.Random) -> Story:
    """Task 3, "where was the football before the kitchen ?": the place the object was carried from into the
    kitchen (its carrier's grab, the move that took them where it was, and the move into the kitchen). Asked only of
    a place it has been once."""
    story = Story()
    world = World(rng, story, PEOPLE, OBJECTS)

    def ask() -> bool:
        options = [(o, k) for o in OBJECTS for k, step in enumerate(world.trail[o])
                   if k >= 1 and [t[0] for t in world.trail[o]].count(step[0]) == 1]
        if not options:
            return False
        o, k = rng.choice(options)
        place, went, grab, came = world.trail[o][k]
        return story.ask(f"where was the {o} before the {place}", world.trail[o][k - 1][0], (grab, came, went))

    return interleave(rng, story, lambda: world.act(move=6, grab=2, drop=1), ask, gap=(2, 5), patience=60)


def three_argument_relations(rng: random.Random) -> Story:
    """Task 5: who gave, who received, what was given — of the latest hand-over that fits the question."""
    story = Story()
    world = World(rng, story, GIVERS, OBJECTS)

    def ask() -> bool:
        if not world.gives:
            return False
        p, o, r, _ = rng.choice(world.gives[-3:])
        form, fits, role = rng.choice((  # role: the answer's place in (giver, object, receiver)
            (f"who gave the {o}", lambda g: g[1] == o, 0),
            (f"who received the {o}", lambda g: g[1] == o, 2),
            (f"who did {p} give the {o} to", lambda g: g[:2] == (p, o), 2),
            (f"who gave the {o} to {r}", lambda g: g[1:3] == (o, r), 0),
            (f"what did {p} give to {r}", lambda g: (g[0], g[2]) == (p, r), 1)))
        latest = next(g for g in reversed(world.gives) if fits(g))
        answer, fact = latest[role], latest[3]
        return story.ask(form, answer, (fact,))

    return interleave(rng, story, lambda: world.act(move=1, grab=2, give=4, drop=1), ask, gap=(1, 3))


def _ask_about_carrying(rng: random.Random, story: Story, world: World, text: str, answer) -> bool:
    """Ask ``text`` (with ``{p}``) of someone who has handled objects; ``answer(objects carried)`` → word; the
    supporting facts: the latest fact about them with each object they handled."""
    options = [p for p in world.people if world.touched[p]]
    if not options:
        return False
    p = rng.choice(options)
    return story.ask(text.format(p=p), answer(world.carried(p)), tuple(world.touched[p].values()))


def counting(rng: random.Random) -> Story:
    """Task 7, "how many objects is mary carrying ?": a number word, "none" to "three"."""
    story = Story()
    world = World(rng, story, PEOPLE, OBJECTS)
    verb = rng.choice(("carrying", "holding"))
    return interleave(rng, story, lambda: world.act(move=2, grab=3, drop=2, give=2),
                      lambda: _ask_about_carrying(rng, story, world, f"how many objects is {{p}} {verb}",
                                                  lambda carried: NUMBERS[len(carried)]))


def lists_sets(rng: random.Random) -> Story:
    """Task 8, "what is mary carrying ?": the objects as one token, joined by "," in ``OBJECTS`` order, or
    "nothing"."""
    story = Story()
    world = World(rng, story, PEOPLE, OBJECTS)
    return interleave(rng, story, lambda: world.act(move=2, grab=3, drop=2, give=2),
                      lambda: _ask_about_carrying(rng, story, world, "what is {p} carrying",
                                                  lambda carried: ",".join(carried) or NOTHING))
