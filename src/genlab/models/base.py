"""What every genlab model shares: config-built ``nn.Module`` + save/load + structured outputs.

A trainable model is a plain ``nn.Module`` (no Lightning) built as ``Model(config)``. Its
``forward(x, y=None)`` returns a ``ModelOutput`` dataclass whose ``loss`` field is the scalar to
minimize and whose other 0-d tensor fields are named loss terms/metrics logged by the trainer.
Unconditional models accept ``y`` (labels) and ignore it. Generative models add
``sample(n, *, generator=None, **cond)``; likelihood models add ``elbo(x)`` and
``log_importance_weights(x, k)`` (used by ``genlab.metrics.likelihood``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import Tensor, nn

from genlab.config import Config
from genlab.hub import PretrainedMixin


@dataclasses.dataclass
class ModelOutput:
    """Base of structured model outputs: ``loss`` plus named terms."""

    loss: Tensor

    def scalars(self) -> dict[str, Tensor]:
        """All 0-d tensor fields (the loss and its named terms), for logging."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Tensor) and v.dim() == 0:
                out[f.name] = v
        return out


class Model(PretrainedMixin, nn.Module):
    """Base class: stores the validated config; subclasses build layers in ``__init__``."""

    config_class: ClassVar[type[Config]]
    #: kind of data the model expects: "image", "vector", "sequence", "tokens"
    data_kind: ClassVar[str] = "image"

    def __init__(self, config: Config | None = None, **overrides) -> None:
        super().__init__()
        if config is None:
            config = self.config_class(**overrides)
        elif overrides:
            config = config.replace(**overrides)
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, "
                            f"got {type(config).__name__}")
        self.config = config

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
