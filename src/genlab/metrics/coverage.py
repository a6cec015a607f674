"""Mode coverage of samples from a mixture of isotropic Gaussians (2-D toys: ring8, grid25).

The usual test of mode collapse (Metz et al., "Unrolled GANs", 2016, arXiv:1611.02163; Srivastava et
al., "VEEGAN", 2017, arXiv:1705.07761): a mode counts as covered when a sample lands within a few
standard deviations of its centre, and a sample counts as good ("high quality") when it lands within
that radius of some centre.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from genlab.errors import ShapeError


class Coverage(NamedTuple):
    """``modes``: share of the ``K`` centres with at least one sample within the radius;
    ``samples``: share of the ``n`` samples within the radius of some centre."""

    modes: float
    samples: float
    modes_covered: int  # how many centres (of K)
    radius: float  # in data units: num_std · std


def mode_coverage(samples: Tensor, modes: Tensor, std: float, *, num_std: float = 3.0) -> Coverage:
    """Coverage of ``modes`` ``(K, D)`` by ``samples`` ``(n, D)`` within ``num_std · std`` (Euclidean)."""
    if samples.dim() != 2 or modes.dim() != 2 or samples.shape[1] != modes.shape[1]:
        raise ShapeError(f"expected samples (n, D) and modes (K, D), got {tuple(samples.shape)} and "
                         f"{tuple(modes.shape)}: pass points of the same dimension as the mode centres")
    radius = num_std * std
    near = torch.cdist(samples.double(), modes.double()) <= radius  # (n, K)
    covered = int(near.any(0).sum())
    return Coverage(modes=covered / len(modes), samples=near.any(1).double().mean().item(),
                    modes_covered=covered, radius=radius)


def mode_kl(samples: Tensor, modes: Tensor, std: float, *, num_std: float = 3.0) -> float:
    """KL(p̂ ‖ uniform) in nats, ``p̂`` the histogram of the high-quality samples (within ``num_std · std`` of a
    centre) over their nearest modes — the reverse KL PacGAN reports (Lin et al. 2018, arXiv:1712.04086):
    0 for samples spread evenly over the ``K`` modes, ``log K`` for all of them on one mode."""
    d = torch.cdist(samples.double(), modes.double())  # (n, K)
    nearest, dist = d.argmin(1), d.min(1).values
    good = nearest[dist <= num_std * std]
    if len(good) == 0:
        return float("nan")
    p = torch.bincount(good, minlength=len(modes)).double() / len(good)  # (K,)
    p = p[p > 0]
    return float((p * torch.log(p * len(modes))).sum())

