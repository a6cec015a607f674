"""Initializations shared by the blocks."""

from __future__ import annotations

from typing import TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)


def zero_module(module: M) -> M:
    """Set every parameter of ``module`` to zero and return it: the last layer of a residual branch
    ``x + f(x)`` so that the block starts as the identity (Ho et al. 2020, arXiv:2006.11239, their code;
    Goyal et al. 2017, arXiv:1706.02677, §5.1)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module
