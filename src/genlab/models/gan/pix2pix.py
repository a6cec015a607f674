"""pix2pix (G8): image-to-image translation with a conditional GAN and an L1 loss.

Isola, Zhu, Zhou & Efros, "Image-to-Image Translation with Conditional Adversarial Networks", 2017,
arXiv:1611.07004: a U-Net generator ``G(s)`` (skip connections between mirrored levels; dropout as its
noise, at training and test time, §3.1), a PatchGAN discriminator ``D(s, t)`` that classifies each
patch of the (source, target) pair as real or fake (§3.2.2), and the loss
``G* = arg min_G max_D L_cGAN(G, D) + λ L_L1(G)`` with ``λ = 100`` (Eq. (4)). ``loss`` selects the
paper's Table 1 ablation: ``"l1+cgan"``, ``"l1"`` or ``"cgan"``.

Images are given in ``[0, 1]`` (fields ``source`` and ``x``, the target) and seen in ``[−1, 1]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.blocks.unet import Downsample, ResidualBlock, Upsample
from genlab.config import Config, require
from genlab.errors import ConfigError, ShapeError
from genlab.models.base import Adversarial, Model, ModelOutput, Player, Translates
from genlab.models.gan import losses
from genlab.models.gan.gan import require_betas
from genlab.models.inputs import check_data


@dataclasses.dataclass
class Pix2PixConfig(Config):
    data_shape: tuple[int, ...] = (1, 28, 28)  # (C, H, W) of source and target; H, W divisible by 4
    channels: int = 32  # U-Net base width: C at H/2, 2C at H/4
    disc_channels: int = 32  # PatchGAN width
    dropout: float = 0.5  # the generator's noise (decoder blocks), active at test time too
    l1_weight: float = 100.0  # λ of Eq. (4), on the L1 distance in [−1, 1] as the paper's code
    loss: Literal["l1+cgan", "l1", "cgan"] = "l1+cgan"  # Table 1's ablation
    betas: tuple[float, float] = (0.5, 0.999)  # Isola et al. §4: Adam, β1 = 0.5 (both players)
    #: options older genlab wrote (for the adversarial system, which now reads players()), with the only
    #: value pix2pix trains with: old config.json files still load
    retired = {"optimizer": "adam", "n_critic": 1}

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.data_shape) == 3 and self.data_shape[1] % 4 == 0 and self.data_shape[2] % 4 == 0,
                f"pix2pix needs images (C, H, W) with H, W divisible by 4, got {self.data_shape}")
        require(self.channels >= 4 and self.channels % 4 == 0, f"channels must be a multiple of 4, got {self.channels}")
        require(self.disc_channels >= 1, f"disc_channels must be ≥ 1, got {self.disc_channels}")
        require(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")
        require(self.l1_weight >= 0, f"l1_weight must be ≥ 0 (λ of Eq. (4); 0: no L1 term), got {self.l1_weight}")
        require_betas(self.betas)


@dataclasses.dataclass
class Pix2PixOutput(ModelOutput):
    """A player's loss and its parts: ``adversarial`` (the cGAN term), ``l1`` (``E‖t − G(s)‖₁`` per pixel),
    ``d_real``/``d_fake`` (mean patch probabilities)."""

    adversarial: Tensor | None = None
    l1: Tensor | None = None
    d_real: Tensor | None = None
    d_fake: Tensor | None = None


class UNetGenerator(nn.Module):
    """``s (B, C, H, W) → t̂``: as Isola et al.'s U-Net, the work is done below full resolution — one 3×3
    convolution at ``H`` in and out, residual blocks at ``H/2`` (C channels) and ``H/4`` (2C), mirrored on the
    way up with the skip connections concatenated (the full-resolution one included: the source's visible
    half reaches the output directly); tanh output. Built from ``blocks.unet``. About 32 M multiply-adds per
    28×28 image at C = 32 (a residual block at full resolution would cost four times that)."""

    def __init__(self, in_channels: int, channels: int, dropout: float) -> None:
        super().__init__()
        c, groups = channels, 4
        self.inp = nn.Conv2d(in_channels, c, 3, padding=1)  # H
        self.down1, self.enc1 = Downsample(c), ResidualBlock(c, c, groups=groups)  # H/2
        self.down2, self.mid = Downsample(c), ResidualBlock(c, 2 * c, groups=groups, dropout=dropout)  # H/4
        self.up2, self.dec2 = Upsample(2 * c), ResidualBlock(3 * c, c, groups=groups, dropout=dropout)  # H/2
        self.up1 = Upsample(c)  # H
        self.out = nn.Sequential(nn.GroupNorm(groups, 2 * c), nn.SiLU(), nn.Conv2d(2 * c, in_channels, 3, padding=1),
                                 nn.Tanh())

    def forward(self, s: Tensor) -> Tensor:
        h0 = self.inp(s)  # (B, C, H, W)
        h1 = self.enc1(self.down1(h0))  # (B, C, H/2, W/2)
        m = self.mid(self.down2(h1))  # (B, 2C, H/4, W/4)
        d1 = self.dec2(torch.cat([self.up2(m, h1.shape[-2:]), h1], 1))  # (B, C, H/2, W/2)
        return self.out(torch.cat([self.up1(d1, h0.shape[-2:]), h0], 1))  # (B, C_in, H, W)


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. §3.2.2): ``[s, t] → (B, 1, H/4, W/4)`` logits, one per overlapping patch."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(2 * in_channels, c, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, C, H/2, W/2)
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),  # (B, 2C, H/4, W/4)
            nn.Conv2d(2 * c, 1, 3, 1, 1),  # (B, 1, H/4, W/4)
        )

    def forward(self, s: Tensor, t: Tensor) -> Tensor:
        return self.net(torch.cat([s, t], 1))


@contextlib.contextmanager
def noise_on(module: nn.Module):
    """Dropout active inside the block whatever the module's mode (pix2pix's noise at test time)."""
    drops = [m for m in module.modules() if isinstance(m, nn.Dropout)]
    modes = [m.training for m in drops]
    for m in drops:
        m.train()
    try:
        yield
    finally:
        for m, mode in zip(drops, modes, strict=True):
            m.train(mode)


class Pix2Pix(Model, Adversarial, Translates):
    """G8: ``G(s)`` completes the target of source ``s``; ``D(s, t)`` judges the pair patch by patch."""

    config_class = Pix2PixConfig
    inputs = ("x", "source")  # (source, target) pairs; the digit's label y is read when present
    kinds = ("pairs",)
    monitor = "val/g_l1"  # the L1 distance to the truth of the validation pairs

    def __init__(self, config: Pix2PixConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.generator = UNetGenerator(c.data_shape[0], c.channels, c.dropout)
        self.discriminator = PatchDiscriminator(c.data_shape[0], c.disc_channels)

    @classmethod
    def data_defaults(cls, data) -> dict:
        if "source" not in data.fields:
            raise ShapeError(f"pix2pix trains on (source, x) pairs; {data.name} has no 'source' field: "
                             f"pass --data mnist-masked or digits-masked")
        return {"data_shape": tuple(data.x.shape[1:])}

    parameter_groups = Adversarial.parameter_groups  # one group per player

    def players(self) -> tuple[Player, Player]:
        """D, then G, each with Adam (β1 = 0.5, §4); one D step per G step (Isola et al. §3.3: the default k)."""
        b = self.config.betas
        return Player("discriminator", self.discriminator, betas=b), Player("generator", self.generator, betas=b)

    def _pair(self, x: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
        s = check_data(self, source, what="source images", unit_interval=True)
        t = check_data(self, x, what="target images", unit_interval=True)
        if s.shape != t.shape:
            raise ShapeError(f"source {tuple(s.shape)} and target {tuple(t.shape)} must have the same shape: "
                             f"pass one target per source image")
        return s * 2 - 1, t * 2 - 1  # model space [−1, 1]

    def discriminator_loss(self, x: Tensor, source: Tensor, y: Tensor | None = None) -> Pix2PixOutput:
        """G2 on patches: real pairs ``(s, t)`` against fake pairs ``(s, G(s))``."""
        s, t = self._pair(x, source)
        with torch.no_grad():
            fake = self.generator(s)
        real_logits, fake_logits = self.discriminator(s, t), self.discriminator(s, fake)
        return Pix2PixOutput(loss=losses.discriminator_loss(real_logits, fake_logits),
                             d_real=torch.sigmoid(real_logits).mean(), d_fake=torch.sigmoid(fake_logits).mean())

    def generator_loss(self, x: Tensor, source: Tensor, y: Tensor | None = None) -> Pix2PixOutput:
        """Eq. (4): ``L_cGAN`` (non-saturating, on patches) ``+ λ L_L1``, or one of them (the ablation). ``L_L1``
        is taken in the networks' space ``[−1, 1]``, where Isola et al.'s λ = 100 applies (their code
        normalizes images to ``[−1, 1]``): twice the ``l1`` reported, which is in data units ``[0, 1]``."""
        s, t = self._pair(x, source)
        fake = self.generator(s)
        l1_model = (fake - t).abs().mean()  # E‖t − G(s)‖₁ per pixel in [−1, 1]
        adversarial = losses.generator_loss_nonsaturating(self.discriminator(s, fake))
        mode = self.config.loss
        loss = (adversarial if mode != "l1" else 0.0) + (self.config.l1_weight * l1_model if mode != "cgan" else 0.0)
        l1 = l1_model / 2  # in data units ([0, 1])
        return Pix2PixOutput(loss=loss, adversarial=adversarial.detach(), l1=l1.detach())

    def forward(self, x: Tensor, source: Tensor, y: Tensor | None = None) -> Pix2PixOutput:
        return self.discriminator_loss(x, source)

    @torch.no_grad()
    def translate(self, source: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """``G(s)`` in ``[0, 1]`` with the dropout noise on (as at training); ``generator`` seeds that noise."""
        s = check_data(self, source, what="source images", unit_interval=True) * 2 - 1
        state = torch.get_rng_state()
        if generator is not None:
            torch.manual_seed(int(torch.randint(0, 2**62, (), generator=generator)))
        try:
            with noise_on(self.generator):
                return ((self.generator(s) + 1) / 2).clamp(0, 1)
        finally:
            if generator is not None:
                torch.set_rng_state(state)

    def after_discriminator_step(self) -> None:
        """Nothing: no weight constraint."""

    def sample(self, n: int, **options) -> Tensor:
        """Not a ``Generative`` model: pix2pix maps each source image to an output (G8) and draws nothing from
        noise alone; ``ConfigError`` pointing to ``translate``."""
        raise ConfigError(f"{type(self).__name__} translates source images and draws no samples from noise: call "
                          f"translate(source) with source images (B, {', '.join(map(str, self.config.data_shape))}) "
                          f"in [0, 1]")
