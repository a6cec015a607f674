"""Learning-rate schedules as plain functions of the step (no Lightning: the spine and plain loops share them)."""

from __future__ import annotations

import math


def cosine_factor(step: int, total: int) -> float:
    """Cosine decay of the learning rate (Loshchilov & Hutter 2017, no restarts): 1 at step 0, 0 at ``total``."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
