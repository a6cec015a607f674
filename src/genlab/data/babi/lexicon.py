"""Every word the bAbI-style generator writes, grouped by role; ``vocabulary()`` is their union.

One lexicon for all sixteen tasks, so every task, split and seed shares one vocabulary (joint training over the
tasks, Weston et al. 2015, arXiv:1502.05698, §4). A phrase is a string of space-separated words.
"""

from __future__ import annotations

import itertools

from genlab.vocab import Vocabulary

PEOPLE = ("mary", "john", "daniel", "sandra")  # tasks 1–3, 6–13
PRONOUN = {"mary": "she", "john": "he", "daniel": "he", "sandra": "she"}  # task 11
GIVERS = ("fred", "bill", "jeff", "mary")  # task 5
DIARISTS = ("julie", "fred", "bill", "mary")  # task 14
PLACES = ("bathroom", "hallway", "kitchen", "office", "garden", "bedroom")
OUTINGS = ("school", "park", "cinema", "office", "kitchen", "bedroom")  # task 14
OBJECTS = ("apple", "football", "milk")  # sorted: task 8 lists them in this order

MOVES = ("moved to", "went to", "journeyed to", "travelled to", "went back to")
GRABS = ("picked up", "got", "grabbed", "took")
DROPS = ("dropped", "discarded", "put down", "left")
GIVES = ("gave", "handed", "passed")
THEN = ("then", "afterwards", "following that")  # tasks 11, 13: a sentence that goes on from the one before
DIRECTIONS = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}  # task 4: a step on a grid
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
TIMES = ("yesterday", "this morning", "this afternoon", "this evening")  # task 14, earliest first
ANIMALS = {"mouse": "mice", "sheep": "sheep", "wolf": "wolves", "cat": "cats"}  # task 15: singular → plural
PETS = ("gertrude", "winona", "emily", "jessica")  # task 15
SPECIES = ("swan", "lion", "frog", "rhino")  # task 16
COLORS = ("white", "gray", "yellow", "green")
BEASTS = ("lily", "bernhard", "greg", "julius", "brian")  # task 16
NUMBERS = ("none", "one", "two", "three")  # task 7: how many objects, 0 to 3
NOTHING = "nothing"  # task 8: an empty list
REPLIES = ("yes", "no", "maybe")  # tasks 6, 9, 10
GLUE = ("the a and or either is are in not no longer of to they he she was before where who what did give "
        "received how many objects carrying holding color afraid . ?")


def carried_lists() -> list[str]:
    """Task 8's answers: each non-empty set of objects as one token, its items joined by "," in ``OBJECTS`` order."""
    return [",".join(c) for k in range(1, len(OBJECTS) + 1) for c in itertools.combinations(OBJECTS, k)]


def vocabulary() -> Vocabulary:
    """Every word the generator writes, sorted (``<pad>`` = 0, ``<unk>`` = 1 first): the same for all tasks."""
    phrases = (*PEOPLE, *PRONOUN.values(), *GIVERS, *DIARISTS, *PLACES, *OUTINGS, *OBJECTS, *MOVES, *GRABS, *DROPS,
               *GIVES, *THEN, *DIRECTIONS, *TIMES, *ANIMALS, *ANIMALS.values(), *PETS, *SPECIES, *COLORS, *BEASTS,
               *NUMBERS, NOTHING, *REPLIES, GLUE, *carried_lists())
    return Vocabulary(sorted({w for p in phrases for w in p.split()}), unknown=True)
