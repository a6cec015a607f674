"""bAbI tasks of relations between things: 4 (two-argument relations: where places lie), 14 (time reasoning),
15 (deduction), 16 (induction). Weston et al. 2015, arXiv:1502.05698, §3, written from the tasks' descriptions."""

from __future__ import annotations

import random

from genlab.data.babi.lexicon import (
    ANIMALS,
    BEASTS,
    COLORS,
    DIARISTS,
    DIRECTIONS,
    MOVES,
    OPPOSITE,
    OUTINGS,
    PETS,
    PLACES,
    SPECIES,
    TIMES,
)
from genlab.data.babi.story import Story, interleave


def two_argument_relations(rng: random.Random) -> Story:
    """Task 4: "the kitchen is north of the hallway . what is north of the hallway ?" (or "what is the hallway
    south of ?"): three places on a grid, two facts that place them, one question about one fact."""
    story = Story()
    a, b, c = rng.sample(PLACES, 3)
    grid = {a: (0, 0)}
    facts = []
    for new, old in ((b, a), (c, rng.choice((a, b)))):
        free = [d for d, (dx, dy) in DIRECTIONS.items()
                if (grid[old][0] + dx, grid[old][1] + dy) not in grid.values()]
        d = rng.choice(free)
        grid[new] = (grid[old][0] + DIRECTIONS[d][0], grid[old][1] + DIRECTIONS[d][1])
        facts.append((new, d, old, story.tell(f"the {new} is {d} of the {old}")))
    there, d, here, fact = rng.choice(facts)  # "there is d of here"
    text, answer = rng.choice(((f"what is {d} of the {here}", there), (f"what is the {here} {OPPOSITE[d]} of", there),
                               (f"what is {OPPOSITE[d]} of the {there}", here), (f"what is the {there} {d} of", here)))
    story.ask(text, answer, (fact,))
    return story


def time_reasoning(rng: random.Random) -> Story:
    """Task 14, "yesterday julie went to the school . this afternoon julie went to the park . where was julie
    before the park ?": the place of the latest earlier time told. The facts come in any order; each person's
    places differ, so each question has one answer."""
    story = Story()
    plans = []  # (time, person, place), told in a shuffled order
    for p in rng.sample(DIARISTS, 2):
        times = sorted(rng.sample(range(len(TIMES)), rng.randint(2, len(TIMES))))
        plans += [(t, p, place) for t, place in zip(times, rng.sample(OUTINGS, len(times)), strict=True)]
    rng.shuffle(plans)
    told: dict[str, list[tuple[int, str, int]]] = {}  # person → [(time, place, fact)]

    def act() -> bool:
        if not plans:
            return False
        t, p, place = plans.pop()
        move = f"{p} {rng.choice(MOVES)} the {place}"
        i = story.tell(rng.choice((f"{TIMES[t]} {move}", f"{move} {TIMES[t]}")))
        told.setdefault(p, []).append((t, place, i))
        return True

    def ask() -> bool:
        options = [(p, later) for p, days in told.items() for later in days if any(e[0] < later[0] for e in days)]
        if not options:
            return False
        p, (t, place, fact) = rng.choice(options)
        _, before, earlier = max(e for e in told[p] if e[0] < t)
        return story.ask(f"where was {p} before the {place}", before, (earlier, fact))

    return interleave(rng, story, act, ask, questions=4, gap=(1, 3))


def basic_deduction(rng: random.Random) -> Story:
    """Task 15, "sheep are afraid of wolves . gertrude is a sheep . what is gertrude afraid of ?": wolf. Each kind
    of animal fears another kind; four named animals; two questions after the eight facts (in any order)."""
    story = Story()
    kinds = list(ANIMALS)
    fears = {k: rng.choice([f for f in kinds if f != k]) for k in kinds}
    pets = {name: rng.choice(kinds) for name in PETS}
    lines = [("fear", k) for k in kinds] + [("pet", name) for name in PETS]
    rng.shuffle(lines)
    said: dict[tuple[str, str], int] = {}
    for what, who in lines:
        text = (f"{ANIMALS[who]} are afraid of {ANIMALS[fears[who]]}" if what == "fear"
                else f"{who} is a {pets[who]}")
        said[what, who] = story.tell(text)
    for name in rng.sample(PETS, 2):
        story.ask(f"what is {name} afraid of", fears[pets[name]], (said["pet", name], said["fear", pets[name]]))
    return story


def basic_induction(rng: random.Random) -> Story:
    """Task 16, "lily is a swan . lily is white . bernhard is a swan . what color is bernhard ?": white, the color
    of the others of his kind (every animal of a kind has that kind's color in a story)."""
    story = Story()
    color = {k: rng.choice(COLORS) for k in SPECIES}
    *known, asked = rng.sample(BEASTS, len(BEASTS))
    kind = {name: rng.choice(SPECIES) for name in known}
    seen: dict[str, tuple[int, int]] = {}  # kind → (its "is a" fact, its color fact) of the latest of its kind
    for name in known:
        seen[kind[name]] = (story.tell(f"{name} is a {kind[name]}"), story.tell(f"{name} is {color[kind[name]]}"))
    k = rng.choice(list(seen))
    fact = story.tell(f"{asked} is a {k}")
    story.ask(f"what color is {asked}", color[k], (*seen[k], fact))
    return story
