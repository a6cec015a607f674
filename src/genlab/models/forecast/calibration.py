"""The spread of a forecaster's sample paths calibrated on held-out forecasts (N5 intervals, split conformal).

Monte-Carlo dropout paths plus the one-step residual noise need not cover as they claim: the noise fed back over H
steps, the dropout's share and a series that calms or storms after training all move the true spread away from the
paths'. Split-conformal prediction (Vovk et al. 2005; Lei et al. 2018, JASA 113) corrects this with a held-out
part: each held-out value ``y`` (an origin ``o``, a step ``h``) gets the factor its central ``α`` interval would need
to reach it, the paths' median ``m`` as its centre,

    r_α = max( (m − y) / (m − q_lo),  (y − m) / (q_hi − m) )        q_lo, q_hi: the paths' (1 ∓ α)/2 quantiles

and the ``⌈(P + 1) α⌉``-th smallest of the ``P`` factors, ``c_α``, makes the widened interval ``m ± c_α (q − m)``
cover at least a share ``α`` of them. One factor ``s`` scales every path about its median,

    paths ← m + s (paths − m),        s = (c_80 · c_95)^{1/2}

so every quantile of the paths moves with it (intervals at any level, the plots) and the 80 % and 95 % intervals
share the correction: their geometric mean (one factor per level would make the levels' intervals cross).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LEVELS = (0.8, 0.95)  # the levels whose factors are averaged
MIN_PAIRS = 10  # held-out (origin, step) pairs needed: fewer leave s = 1
SPREAD_FLOOR = 1e-6  # below this half-width (data's units of the paths) an interval side counts as empty


def needed_factor(paths: Tensor, truth: Tensor, level: float) -> Tensor:
    """``r_α`` of each (origin, step): ``paths`` ``(N, S, H)``, ``truth`` ``(N, H)`` → ``(N, H)``, ≥ 0 (0: ``y``
    is the median); a side of zero spread counts as ``SPREAD_FLOOR`` wide."""
    m = paths.median(1).values  # (N, H)
    q = torch.quantile(paths, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=paths.dtype), dim=1)  # (2, N, H)
    below = (m - truth) / (m - q[0]).clamp_min(SPREAD_FLOOR)
    above = (truth - m) / (q[1] - m).clamp_min(SPREAD_FLOOR)
    return torch.maximum(below, above)


def conformal_factor(r: Tensor, level: float) -> float:
    """``c_α``: the ``⌈(P + 1) α⌉``-th smallest of the ``P`` factors ``r`` (the largest when that rank passes P)."""
    ranked = r.flatten().sort().values
    k = min(math.ceil((len(ranked) + 1) * level), len(ranked))
    return float(ranked[k - 1])


def spread_scale(paths: Tensor, truth: Tensor, held_out: Tensor) -> float:
    """``s`` from held-out forecasts: ``paths`` ``(N, S, H)``, ``truth`` ``(N, H)``, ``held_out`` ``(N, H)`` bool
    (the steps that lie in the held-out part); 1.0 with fewer than ``MIN_PAIRS`` of them or paths without spread."""
    if int(held_out.sum()) < MIN_PAIRS or float(paths.std(1).max()) <= SPREAD_FLOOR:
        return 1.0
    factors = [conformal_factor(needed_factor(paths, truth, lv)[held_out], lv) for lv in LEVELS]
    return math.sqrt(max(factors[0], SPREAD_FLOOR) * max(factors[1], SPREAD_FLOOR))


def scale_about_median(paths: Tensor, s: float) -> Tensor:
    """``m + s (paths − m)``, ``paths`` ``(B, S, H)``, ``m`` their median over S."""
    if s == 1.0:
        return paths
    m = paths.median(1, keepdim=True).values  # (B, 1, H)
    return m + s * (paths - m)
