"""The KL weight of a VAE (V6): β-VAE and linear KL warm-up; the convolutional VAE's registry class.

``L = E_q[−log p_θ(x|z)] + β_t · KL(q_φ(z|x) ‖ p(z))`` with ``β_t = β · min(1, t / N)``: the KL weight
ramps linearly from 0 to β over the first ``N = warmup_steps`` training steps.
Higgins et al., "β-VAE", ICLR 2017; Bowman et al., "Generating Sentences from a Continuous Space",
2015, arXiv:1511.06349 (KL annealing); Sønderby et al., "Ladder Variational Autoencoders", 2016,
arXiv:1602.02282 (warm-up).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.config import require
from genlab.models.vae import VAE, VAEConfig, VAEOutput


class KLWarmup(nn.Module):
    """V6 warm-up: ``β_t = β · min(1, t / N)`` where ``t`` counts training-mode forward passes.

    ``t`` is a buffer (``step``), so it is saved in the state_dict and a resumed run continues the
    ramp exactly. In eval mode the weight is the target ``β`` (validation losses stay comparable).
    """

    def __init__(self, warmup_steps: int) -> None:
        super().__init__()
        self.warmup_steps = warmup_steps
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def weight(self, beta: float) -> float:
        """The KL weight of the current step; advances the step counter in training mode."""
        if not self.training or self.warmup_steps == 0:
            return beta
        t = int(self.step.item())
        self.step.add_(1)
        return beta * min(1.0, t / self.warmup_steps)


@dataclasses.dataclass
class BetaVAEConfig(VAEConfig):
    warmup_steps: int = 0  # V6: β ramps linearly from 0 over this many training steps (0: no warm-up)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.warmup_steps >= 0, f"warmup_steps must be ≥ 0, got {self.warmup_steps}")


@dataclasses.dataclass
class WarmupVAEOutput(VAEOutput):
    """``VAEOutput`` whose ``loss = reconstruction + kl_weight · kl``."""

    kl_weight: Tensor  # β_t of this step (0-d)


def with_kl_weight(out: VAEOutput, weight: float) -> WarmupVAEOutput:
    """V6: the same terms with ``loss = reconstruction + weight · kl``."""
    terms = {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}
    terms["loss"] = out.reconstruction + weight * out.kl
    return WarmupVAEOutput(**terms, kl_weight=out.loss.new_tensor(float(weight)))


class BetaVAE(VAE):
    """V6: the VAE with KL weight β and a linear KL warm-up (``warmup_steps``)."""

    config_class = BetaVAEConfig

    def __init__(self, config: BetaVAEConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.kl_warmup = KLWarmup(self.config.warmup_steps)

    def forward(self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
                ) -> WarmupVAEOutput:
        """``loss = −E_q log p_θ(x|z) + β_t · KL(q ‖ p)``; ``elbo`` is the β = 1 bound."""
        out = super().forward(x, y, generator=generator)
        return with_kl_weight(out, self.kl_warmup.weight(self.config.beta))


@dataclasses.dataclass
class ConvVAEConfig(BetaVAEConfig):
    architecture: Literal["mlp", "conv"] = "conv"  # two stride-2 convs (C1, C2) and their mirror (C7)
    hidden: tuple[int, ...] = (256,)  # width of the MLP between the conv features and z


class ConvVAE(BetaVAE):
    """The convolutional VAE: ``BetaVAE`` whose config defaults to ``architecture="conv"``."""

    config_class = ConvVAEConfig
    kinds = ("image",)
