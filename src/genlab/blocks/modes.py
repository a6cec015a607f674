"""Training / evaluation mode of a module, switched for a block of code and restored afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Run the ``with`` block with ``module`` in evaluation mode (dropout off, batch norm on its running
    statistics); afterwards, even on error, every submodule is back in the mode ``module`` was in."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
