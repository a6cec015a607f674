"""bAbI tasks about where people are: 1 (single supporting fact), 6 (yes/no), 9 (negation), 10 (indefinite
knowledge), 11 (coreference), 12 (conjunction), 13 (compound coreference). Weston et al. 2015, arXiv:1502.05698,
§3, written from the tasks' descriptions.

``at`` maps a person to (their place, the facts that say so): one fact, or two when a pronoun ("then he went
...") needs the sentence before it to say who.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from genlab.data.babi.lexicon import MOVES, OBJECTS, PEOPLE, PLACES, PRONOUN, THEN
from genlab.data.babi.story import Story, interleave
from genlab.data.babi.world import World

Whereabouts = dict[str, tuple[str, tuple[int, ...]]]


def elsewhere(rng: random.Random, place: str | None = None) -> str:
    """A place other than ``place``."""
    return rng.choice([w for w in PLACES if w != place])


def where_is(rng: random.Random, story: Story, at: Whereabouts) -> Callable[[], bool]:
    """The ``ask`` of "where is mary ?" about someone whose place is known."""
    def ask() -> bool:
        if not at:
            return False
        p = rng.choice(list(at))
        return story.ask(f"where is {p}", *at[p])
    return ask


def single_supporting_fact(rng: random.Random) -> Story:
    """Task 1, "where is mary ?": the place of her latest move."""
    story = Story()
    world = World(rng, story, PEOPLE)
    at: Whereabouts = {}

    def move() -> bool:
        world.move()
        p = story.facts[-1][0]
        at[p] = (world.at[p][0], (world.at[p][1],))
        return True

    return interleave(rng, story, move, where_is(rng, story, at), gap=(2, 3))


def yes_no_questions(rng: random.Random) -> Story:
    """Task 6, "is john in the playground ?": yes or no from his latest move (objects picked up and dropped
    on the way say nothing about it)."""
    story = Story()
    world = World(rng, story, PEOPLE, OBJECTS)

    def ask() -> bool:
        if not world.at:
            return False
        p = rng.choice(list(world.at))
        place, fact = world.at[p]
        asked = place if rng.random() < 0.5 else elsewhere(rng, place)
        return story.ask(f"is {p} in the {asked}", "yes" if asked == place else "no", (fact,))

    return interleave(rng, story, lambda: world.act(move=4, grab=1, drop=1), ask)


def simple_negation(rng: random.Random) -> Story:
    """Task 9, "john is not in the kitchen . is john in the kitchen ?": no. Asked of the place a negative fact
    names, or of any place when the latest fact says where he is."""
    story = Story()
    state: dict[str, tuple[bool, str, int]] = {}  # person → (is there, place, fact)

    def act() -> bool:
        p = rng.choice(PEOPLE)
        there, place, _ = state.get(p, (False, None, -1))
        if p in state and rng.random() < 0.4:
            if there and rng.random() < 0.5:
                text = f"{p} is no longer in the {place}"
            else:
                place = elsewhere(rng, place if there else None)  # true: he is elsewhere, or nowhere known
                text = f"{p} is not in the {place}"
            state[p] = (False, place, story.tell(text))
        else:
            place = elsewhere(rng, place if there else None)
            text = rng.choice((f"{p} is in the {place}", f"{p} {rng.choice(MOVES)} the {place}"))
            state[p] = (True, place, story.tell(text))
        return True

    def ask() -> bool:
        if not state:
            return False
        p = rng.choice(list(state))
        there, place, fact = state[p]
        asked = place if not there or rng.random() < 0.6 else elsewhere(rng, place)
        return story.ask(f"is {p} in the {asked}", "yes" if there and asked == place else "no", (fact,))

    return interleave(rng, story, act, ask)


def indefinite_knowledge(rng: random.Random) -> Story:
    """Task 10, "john is either in the classroom or the park . is john in the park ?": maybe; yes or no after a
    fact that says where he is, no of a place outside the two."""
    story = Story()
    state: dict[str, tuple[tuple[str, ...], int]] = {}  # person → (the places he may be in, fact)

    def act() -> bool:
        p = rng.choice(PEOPLE)
        if rng.random() < 0.5:
            a, b = rng.sample(PLACES, 2)
            state[p] = ((a, b), story.tell(f"{p} is either in the {a} or the {b}"))
        else:
            place = elsewhere(rng, state[p][0][0] if p in state and len(state[p][0]) == 1 else None)
            state[p] = ((place,), story.tell(f"{p} {rng.choice(MOVES)} the {place}"))
        return True

    def ask() -> bool:
        if not state:
            return False
        p = rng.choice(list(state))
        places, fact = state[p]
        asked = rng.choice(places) if rng.random() < 0.6 else rng.choice([w for w in PLACES if w not in places])
        answer = "no" if asked not in places else "yes" if len(places) == 1 else "maybe"
        return story.ask(f"is {p} in the {asked}", answer, (fact,))

    return interleave(rng, story, act, ask)


def told_on(rng: random.Random, story: Story, at: Whereabouts, name: Callable[[], tuple[str, ...]],
            pronoun: Callable[[tuple[str, ...]], str]) -> Callable[[], bool]:
    """The ``act`` of tasks 11–13: ``name()`` (one or two people) go somewhere, or — half the time after such a
    sentence — ``pronoun(them)`` ("then he", "afterwards they") go on somewhere else, resolved by that sentence."""
    before: list[tuple[tuple[str, ...], int]] = []  # who the previous fact named, and it; [] after a pronoun

    def act() -> bool:
        if before and rng.random() < 0.5:
            who, named = before.pop()
            place = elsewhere(rng, at[who[0]][0])
            i = story.tell(f"{rng.choice(THEN)} {pronoun(who)} {rng.choice(MOVES)} the {place}")
            facts: tuple[int, ...] = (named, i)
        else:
            who = name()
            place = elsewhere(rng, at.get(who[0], ("",))[0])
            i = story.tell(f"{' and '.join(who)} {rng.choice(MOVES)} the {place}")
            facts = (i,)
            before[:] = [(who, i)]
        for p in who:
            at[p] = (place, facts)
        return True

    return act


def basic_coreference(rng: random.Random) -> Story:
    """Task 11, "daniel went to the kitchen . afterwards he journeyed to the hallway . where is daniel ?"."""
    story, at = Story(), {}
    act = told_on(rng, story, at, lambda: (rng.choice(PEOPLE),), lambda who: PRONOUN[who[0]])
    return interleave(rng, story, act, where_is(rng, story, at))


def conjunction(rng: random.Random) -> Story:
    """Task 12, "mary and jeff went to the kitchen . where is mary ?"."""
    story, at = Story(), {}

    def act() -> bool:
        who = rng.sample(PEOPLE, 2)
        place = elsewhere(rng, at.get(who[0], ("",))[0])
        i = story.tell(f"{who[0]} and {who[1]} {rng.choice(MOVES)} the {place}")
        for p in who:
            at[p] = (place, (i,))
        return True

    return interleave(rng, story, act, where_is(rng, story, at))


def compound_coreference(rng: random.Random) -> Story:
    """Task 13, "daniel and sandra journeyed to the office . then they went to the garden . where is daniel ?"."""
    story, at = Story(), {}
    act = told_on(rng, story, at, lambda: tuple(rng.sample(PEOPLE, 2)), lambda who: "they")
    return interleave(rng, story, act, where_is(rng, story, at))
