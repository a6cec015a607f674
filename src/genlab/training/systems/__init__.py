"""The Lightning systems, one per optimization recipe, on one ``System`` base (see ``systems.base``), and
``FitSystem``, which fits a closed-form model in one pass without the Trainer (``systems.fit``)."""

from genlab.training.systems.adversarial import AdversarialSystem
from genlab.training.systems.base import StepClock, System
from genlab.training.systems.fit import FitSystem
from genlab.training.systems.objective import ObjectiveSystem

__all__ = ["AdversarialSystem", "FitSystem", "ObjectiveSystem", "StepClock", "System"]
