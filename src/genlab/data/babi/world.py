"""People who move between places and pick up, drop and hand over objects, told as the facts of a story.

The world of bAbI tasks 2, 3, 5, 6, 7 and 8 (Weston et al. 2015, arXiv:1502.05698, §3): it stays consistent (a
person takes an object only where it lies, drops or gives only what they carry) and remembers, for every answer
it may be asked, which facts it follows from.
"""

from __future__ import annotations

import random

from genlab.data.babi.lexicon import DROPS, GIVES, GRABS, MOVES, PLACES
from genlab.data.babi.story import Story


class World:
    """The state of ``people`` and ``objects`` after the facts told so far into ``story``."""

    def __init__(self, rng: random.Random, story: Story, people: tuple[str, ...], objects: tuple[str, ...] = ()
                 ) -> None:
        self.rng, self.story, self.people, self.objects = rng, story, people, objects
        self.at: dict[str, tuple[str, int]] = {}  # person → (place, the move that took them there)
        self.holder: dict[str, tuple[str, int]] = {}  # object → (person, the fact they got it by)
        self.lies: dict[str, tuple[str, tuple[int, int]]] = {}  # object → (place, (drop, the dropper's move))
        #: object → the places it has been, each (place, the carrier's move there, their grab, their move before:
        #: what says where it came from; −1 for the place it was first picked up)
        self.trail: dict[str, list[tuple[str, int, int, int]]] = {o: [] for o in objects}
        self.touched: dict[str, dict[str, int]] = {p: {} for p in people}  # person → {object: last fact about both}
        self.gives: list[tuple[str, str, str, int]] = []  # (giver, object, receiver, fact)

    def carried(self, person: str) -> list[str]:
        """The objects ``person`` carries, in ``objects`` order."""
        return [o for o in self.objects if self.holder.get(o, ("",))[0] == person]

    def act(self, **weights: float) -> bool:
        """One change, its kind (``move``, ``grab``, ``drop``, ``give``) drawn by ``weights`` among those possible
        now (``move`` always is); True."""
        kinds = {"move": self.move, "grab": self.grab, "drop": self.drop, "give": self.give}
        while not kinds[self.rng.choices(list(weights), weights=list(weights.values()))[0]]():
            pass
        return True

    def move(self) -> bool:
        """Someone goes to another place, with what they carry."""
        p = self.rng.choice(self.people)
        here, came = self.at.get(p, ("", -1))
        place = self.rng.choice([w for w in PLACES if w != here])
        i = self.story.tell(f"{p} {self.rng.choice(MOVES)} the {place}")
        self.at[p] = (place, i)
        for o in self.carried(p):
            self._arrive(o, place, i, came)
        return True

    def grab(self) -> bool:
        """Someone whose place is known takes an object that nobody carries and that lies there (or nowhere yet)."""
        options = [(p, o) for p in self.at for o in self.objects
                   if o not in self.holder and self.lies.get(o, (self.at[p][0],))[0] == self.at[p][0]]
        if not options:
            return False
        p, o = self.rng.choice(options)
        i = self.story.tell(f"{p} {self.rng.choice(GRABS)} the {o}")
        self.holder[o], self.touched[p][o] = (p, i), i
        self.lies.pop(o, None)
        self._arrive(o, *self.at[p], -1)
        return True

    def drop(self) -> bool:
        """Someone whose place is known puts down an object they carry: it lies there."""
        options = [(p, o) for o, (p, _) in self.holder.items() if p in self.at]
        if not options:
            return False
        p, o = self.rng.choice(options)
        i = self.story.tell(f"{p} {self.rng.choice(DROPS)} the {o}")
        del self.holder[o]
        self.lies[o], self.touched[p][o] = (self.at[p][0], (i, self.at[p][1])), i
        return True

    def give(self) -> bool:
        """Someone hands an object they carry to someone else."""
        options = [(p, o, r) for o, (p, _) in self.holder.items() for r in self.people if r != p]
        if not options:
            return False
        p, o, r = self.rng.choice(options)
        i = self.story.tell(f"{p} {self.rng.choice(GIVES)} the {o} to {r}")
        self.holder[o] = (r, i)
        self.touched[p][o] = self.touched[r][o] = i
        self.gives.append((p, o, r, i))
        self.trail[o].clear()  # it changed hands out of sight of any move: its path starts again
        return True

    def _arrive(self, o: str, place: str, went: int, came: int) -> None:
        """Object ``o`` (carried) is at ``place`` by its carrier's move ``went`` (their move before: ``came``)."""
        if not self.trail[o] or self.trail[o][-1][0] != place:
            self.trail[o].append((place, went, self.holder[o][1], came))
