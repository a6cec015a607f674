"""Toy models and systems that exercise the spine's contract (imported by tests/test_spine.py and by the
subprocesses it kills): a model with two networks trained by two optimizers, an iteration of three
optimizer steps on two mini-batches, nested config sections, a vocabulary and fitted statistics."""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn

from genlab.config import Config, require
from genlab.models.base import Model, ModelOutput
from genlab.registry import MODELS, ModelEntry
from genlab.training.optim import adam
from genlab.training.systems import StepClock, System


@dataclasses.dataclass
class NetConfig(Config):
    hidden: int = 8
    noise: float = 0.1  # input noise (draws from torch's RNG: resume must restore it)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.hidden >= 1, f"hidden must be ≥ 1, got {self.hidden}")


@dataclasses.dataclass
class TwoNetsConfig(Config):
    data_shape: tuple[int, ...] = (1, 8, 8)
    first: NetConfig = dataclasses.field(default_factory=NetConfig)  # a nested section: model.first.*
    second: NetConfig = dataclasses.field(default_factory=lambda: NetConfig(hidden=4))
    vocabulary: tuple[str, ...] = ()  # fitted from the data, saved in config.json
    n_critic: int = 2  # steps of the first network per iteration


@dataclasses.dataclass
class TwoNetsOutput(ModelOutput):
    first: Tensor
    second: Tensor


class TwoNets(Model):
    """``first`` reconstructs x from a noisy copy; ``second`` reconstructs x from ``first``'s code."""

    config_class = TwoNetsConfig

    def __init__(self, config: TwoNetsConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        d = math.prod(c.data_shape)
        self.first = nn.Sequential(nn.Flatten(), nn.Linear(d, c.first.hidden), nn.Tanh(), nn.Linear(c.first.hidden, d))
        self.second = nn.Sequential(nn.Linear(d, c.second.hidden), nn.Tanh(), nn.Linear(c.second.hidden, d))
        self.register_buffer("mean", torch.zeros(d))  # fitted statistics (before_fit): saved as a buffer

    @classmethod
    def data_defaults(cls, data) -> dict:
        return {"data_shape": tuple(data.x.shape[1:]), "vocabulary": ("a", "b")}

    def before_fit(self, data) -> None:
        self.mean.copy_(data.x.flatten(1).mean(0))

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"first": list(self.first.parameters()), "second": list(self.second.parameters())}

    def first_loss(self, x: Tensor) -> Tensor:
        noisy = x + self.config.first.noise * torch.randn_like(x)
        return (self.first(noisy) - x.flatten(1)).pow(2).mean()

    def second_loss(self, x: Tensor) -> Tensor:
        return (self.second(self.first(x).detach()) - x.flatten(1)).pow(2).mean()

    def forward(self, x: Tensor, y: Tensor | None = None) -> TwoNetsOutput:
        a, b = self.first_loss(x), self.second_loss(x)
        return TwoNetsOutput(loss=a + b, first=a, second=b)


class TwoOptimizerSystem(System):
    """An iteration: ``n_critic`` steps of the first network's optimizer, each on its own mini-batch,
    then one step of the second's on the last of them (the shape of a GAN's iteration)."""

    @classmethod
    def clock_for(cls, model: TwoNets) -> StepClock:
        k = model.config.n_critic
        return StepClock(optimizer_steps=k + 1, batches=k)

    def train_iteration(self, batches: list) -> None:
        opt_first, opt_second = self.optimizers()
        for batch in batches:
            loss = self.model.first_loss(batch["x"])
            self.record({"loss": loss, "first": loss})
            opt_first.zero_grad(set_to_none=True)
            self._backward(loss)
            self._optimizer_step(opt_first)
        second = self.model.second_loss(batches[-1]["x"])
        self.record({"loss": loss.detach() + second, "first": loss.detach(), "second": second})
        opt_second.zero_grad(set_to_none=True)
        self._backward(second)
        self._optimizer_step(opt_second)

    def validation_terms(self, batch) -> dict[str, Tensor]:
        return self.model(**batch).scalars()

    def configure_optimizers(self):
        groups = self.model.parameter_groups()
        return [adam(groups["first"], lr=self.cfg.lr), adam(groups["second"], lr=self.cfg.lr)]


ENTRY = ModelEntry("two-nets", "spine_toys:TwoNets", "digits", "two networks, two optimizers (spine test)",
                   system="spine_toys:TwoOptimizerSystem", train_defaults={"lr": 3e-3, "batch_size": 64})


def register() -> None:
    """Add the toy to the model registry (the tests remove it again)."""
    MODELS[ENTRY.name] = ENTRY
