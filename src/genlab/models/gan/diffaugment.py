"""Differentiable augmentation of the discriminator's inputs (DiffAugment; Zhao et al. 2020,
arXiv:2006.10738): the same random transform family ``T`` is applied to real and generated images
wherever ``D`` sees them — ``D(T(x))`` and ``D(T(G(z)))`` in the discriminator's step, ``D(T(G(z)))`` in
the generator's — so ``D`` cannot tell the data by the transform, and the generator's gradient flows
back through ``T``. On a small training set ``D`` otherwise memorizes the real images and the generator's
samples get worse as training goes on (Karras et al. 2020, arXiv:2006.06676, make the same observation).

Images are in the networks' space ``[−1, 1]``; what a transform uncovers or cuts out is filled with ``−1``
(black in data space: an MNIST digit's background). Each image draws its own transform from torch's
global RNG (a run's checkpoints save it: resume stays exact).
"""

from __future__ import annotations

import torch
from torch import Tensor

TRANSFORMS = ("translation", "cutout")
FILL = -1.0  # the networks' black


def translate(x: Tensor, shift: Tensor) -> Tensor:
    """``x`` ``(B, C, H, W)`` moved by whole pixels: image ``b`` by ``shift[b] = (down, right)`` ``(B, 2)``
    int64, what enters the frame filled with ``FILL``."""
    B, _, H, W = x.shape
    s = int(shift.abs().max()) if len(shift) else 0
    padded = torch.nn.functional.pad(x, (s, s, s, s), value=FILL)  # (B, C, H + 2s, W + 2s)
    rows = torch.arange(H, device=x.device)[None, :] + s - shift[:, 0:1]  # (B, H)
    cols = torch.arange(W, device=x.device)[None, :] + s - shift[:, 1:2]  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None]
    return padded[b, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (B, H, W, C) → (B, C, H, W)


def cut_out(x: Tensor, corner: Tensor, size: int) -> Tensor:
    """``x`` ``(B, C, H, W)`` with a ``size × size`` square at ``corner[b] = (top, left)`` ``(B, 2)`` (it may
    hang over the edge) set to ``FILL``."""
    _, _, H, W = x.shape
    i = torch.arange(H, device=x.device)[None, :] - corner[:, 0:1]  # (B, H)
    j = torch.arange(W, device=x.device)[None, :] - corner[:, 1:2]  # (B, W)
    inside = ((i >= 0) & (i < size))[:, :, None] & ((j >= 0) & (j < size))[:, None, :]  # (B, H, W)
    return torch.where(inside[:, None], torch.full_like(x, FILL), x)


def diff_augment(x: Tensor, transforms: tuple[str, ...], *, translation: float = 0.125,
                 cutout: float = 0.5) -> Tensor:
    """DiffAugment's ``T(x)``: each of ``transforms`` in turn, drawn per image. ``translation``: shifts of
    up to ``translation·H`` (``·W``) pixels each way (the paper's 1/8); ``cutout``: a square of side
    ``cutout·H`` placed uniformly, possibly over the edge (the paper's 1/2)."""
    B, _, H, W = x.shape
    for name in transforms:
        if name == "translation":
            reach = torch.tensor([int(H * translation + 0.5), int(W * translation + 0.5)])
            shift = torch.randint(0, 2 ** 62, (B, 2)) % (2 * reach + 1) - reach  # (B, 2) in [−reach, reach]
            x = translate(x, shift.to(x.device))
        elif name == "cutout":
            size = int(H * cutout + 0.5)
            centre = torch.randint(0, 2 ** 62, (B, 2)) % torch.tensor([H + 1, W + 1])  # (B, 2)
            x = cut_out(x, (centre - size // 2).to(x.device), size)
        else:
            raise ValueError(f"unknown DiffAugment transform {name!r}: choose from {', '.join(TRANSFORMS)}")
    return x
