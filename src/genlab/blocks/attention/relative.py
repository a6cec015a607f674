"""Relative position attention bias (A9)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError


class RelativePositionBias(nn.Module):
    """A learned score bias per clipped relative distance (A9): ``α(x_i, x_j, i − j) = x_iᵀ x_j + b_{i−j}``.

    ``b`` has one entry per head and per distance ``clip(i − j, −K, K)`` (``weight`` (2K + 1, H)), so
    positions farther than ``K`` apart share one bias. Shaw, Uszkoreit & Vaswani 2018, "Self-Attention
    with Relative Position Representations", arXiv:1803.02155 (clipping); a scalar bias per distance as
    in Raffel et al. 2019 (T5), arXiv:1910.10683. ``forward(L, S)`` returns the bias ``(H, L, S)`` for
    the ``bias=`` argument of the attention functions; queries are the last ``L`` of ``S`` positions.
    """

    def __init__(self, num_heads: int, max_distance: int) -> None:
        super().__init__()
        if num_heads < 1 or max_distance < 0:
            raise ConfigError(f"RelativePositionBias needs num_heads ≥ 1 and max_distance ≥ 0, got "
                              f"{num_heads} and {max_distance}")
        self.num_heads, self.max_distance = num_heads, max_distance
        self.weight = nn.Parameter(torch.zeros(2 * max_distance + 1, num_heads))  # b_{−K..K}

    def distances(self, L: int, S: int | None = None) -> Tensor:
        """Clipped relative distances ``clip(i − j, −K, K)``, ``(L, S)`` integers."""
        S = L if S is None else S
        i = torch.arange(S - L, S, device=self.weight.device)[:, None]  # query positions
        j = torch.arange(S, device=self.weight.device)[None, :]  # key positions
        return (i - j).clamp(-self.max_distance, self.max_distance)

    def forward(self, L: int, S: int | None = None) -> Tensor:  # -> (H, L, S)
        index = self.distances(L, S) + self.max_distance  # (L, S) in [0, 2K]
        return self.weight[index].permute(2, 0, 1)  # b_{clip(i−j)} per head
