"""The Lightning systems, one per optimization recipe, on one ``System`` base (see ``systems.base``)."""

from genlab.training.systems.adversarial import AdversarialSystem
from genlab.training.systems.base import StepClock, System
from genlab.training.systems.objective import ObjectiveSystem

__all__ = ["AdversarialSystem", "ObjectiveSystem", "StepClock", "System"]
