"""Stacked autoencoder (AE5) and greedy layer-wise pre-training.

Bengio, Lamblin, Popovici & Larochelle, "Greedy Layer-Wise Training of Deep Networks", NIPS 2006.
Each encoder/decoder stage pair ``(f_i, g_i)`` is trained as a shallow autoencoder on the codes
``h_{i−1} = f_{i−1}(… f_1(x))`` of the stages below it (frozen), then the whole stack is fine-tuned.
"""

from __future__ import annotations

import dataclasses
import logging

import torch
from torch import Tensor

from genlab.config import require
from genlab.errors import ConfigError
from genlab.models.autoencoders.core import Autoencoder, AutoencoderConfig, reconstruction_loss
from genlab.models.autoencoders.networks import mlp_stage_pairs

log = logging.getLogger(__name__)


@dataclasses.dataclass
class StackedAEConfig(AutoencoderConfig):
    hidden: tuple[int, ...] = (256, 128)  # several encoder/decoder layers
    pretrain_epochs: int = 0  # AE5: epochs of greedy layer-wise pre-training per layer (0: none)
    pretrain_lr: float = 1e-3  # Adam learning rate of the pre-training

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.architecture == "mlp", "the stacked autoencoder is an MLP: use architecture='mlp'")
        require(self.pretrain_epochs >= 0, f"pretrain_epochs must be ≥ 0, got {self.pretrain_epochs}")
        require(self.pretrain_lr > 0, f"pretrain_lr must be > 0, got {self.pretrain_lr}")


class StackedAE(Autoencoder):
    """AE5: an MLP autoencoder of several stages, ``L = 1/n Σ_i L(x_i, g(f(x_i)))``, optionally
    pre-trained layer by layer (``before_fit``) before end-to-end training."""

    config_class = StackedAEConfig

    def before_fit(self, data) -> None:
        """Training hook, called once before a fresh run: greedy layer-wise pre-training (AE5)."""
        super().before_fit(data)
        if self.config.pretrain_epochs > 0:
            pretrain_layerwise(self, data.x, self.config.pretrain_epochs, lr=self.config.pretrain_lr)


def stage_pairs(model: Autoencoder) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
    """The ``(f_i, g_i)`` stage pairs of an MLP autoencoder, bottom (``i = 1``, next to ``x``) first."""
    if model.config.architecture != "mlp":
        raise ConfigError("layer-wise pre-training needs an MLP autoencoder (architecture='mlp')")
    return mlp_stage_pairs(model.encoder, model.decoder)


def pretrain_layerwise(model: Autoencoder, x: Tensor, epochs: int, *, lr: float = 1e-3,
                       batch_size: int = 128, seed: int = 0) -> list[float]:
    """AE5: greedy layer-wise pre-training of an MLP autoencoder, in place.

    Stage ``i`` learns to reconstruct ``h_{i−1}`` from ``f_i(h_{i−1})`` through ``g_i`` for ``epochs``
    passes (Adam), with the stages below frozen. Stage 1 uses the model's loss on ``x`` (BCE or squared
    error); the stages above use the squared error on the codes. Returns each stage's last-epoch mean loss.
    """
    if epochs < 1:
        raise ConfigError(f"epochs must be ≥ 1, got {epochs}")
    pairs = stage_pairs(model)
    g = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.train()
    device = model.device
    with torch.no_grad():
        h = x.to(device).flatten(1)  # h_0 = x, (N, D)
    losses = []
    for i, (f_i, g_i) in enumerate(pairs):
        kind = model.config.loss if i == 0 else "mse"
        params = [*f_i.parameters(), *g_i.parameters()]
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(epochs):
            total, count = 0.0, 0
            for idx in torch.randperm(len(h), generator=g).split(batch_size):
                hb = h[idx.to(device)]
                loss = reconstruction_loss(g_i(f_i(hb)), hb, kind).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, count = total + loss.item() * len(idx), count + len(idx)
        losses.append(total / count)
        log.info("pre-trained layer %d/%d: loss %.4f", i + 1, len(pairs), losses[-1])
        with torch.no_grad():
            h = f_i(h)  # the next stage's input, h_i
    model.train(was_training)
    return losses
