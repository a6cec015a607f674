"""The generator and discriminator networks: MLPs for vectors (2-D toys), DCGAN for 28×28 images (G5).

Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional GANs", 2015,
arXiv:1511.06434: strided convolutions in the discriminator, transposed convolutions (C7) in the
generator, batch norm in both (not on the generator's output nor the discriminator's input), ReLU in
the generator with a tanh output, LeakyReLU(0.2) in the discriminator, weights from N(0, 0.02).
"""

from __future__ import annotations

import math

from torch import Tensor, nn


def _norm(kind: str, channels: int, spatial: bool) -> nn.Module:
    """Batch norm (DCGAN), layer norm (a WGAN-GP critic: the penalty is per example), or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if spatial else nn.LayerNorm(channels)
    return nn.Identity()


class MLPGenerator(nn.Module):
    """``z (B, latent) → x (B, D)``: ReLU hidden layers, a linear output (vectors are used as given)."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: tuple[int, ...], norm: str = "none") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = latent_dim
        for h in hidden:
            layers += [nn.Linear(d, h), _norm(norm, h, spatial=False), nn.ReLU()]
            d = h
        self.net = nn.Sequential(*layers, nn.Linear(d, out_dim))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """``x (B, D) → logit (B,)``: LeakyReLU(0.2) hidden layers."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], norm: str = "none") -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), _norm(norm, h, spatial=False), nn.LeakyReLU(0.2)]
            d = h
        self.net = nn.Sequential(*layers, nn.Linear(d, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)  # (B,)


class DCGANGenerator(nn.Module):
    """G5: ``z → Linear → (2C, H/4, W/4) → ConvT(4, 2, 1) → (C, H/2, W/2) → ConvT(4, 2, 1) → (c, H, W)``, tanh."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, int, int], channels: int, norm: str = "batch") -> None:
        super().__init__()
        c, h, w = data_shape
        self.start = (2 * channels, h // 4, w // 4)
        self.project = nn.Sequential(nn.Linear(latent_dim, math.prod(self.start), bias=norm == "none"),
                                     _norm(norm, math.prod(self.start), spatial=False), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1, bias=norm == "none"),  # (B, C, H/2, W/2)
            _norm(norm, channels, spatial=True), nn.ReLU(),
            nn.ConvTranspose2d(channels, c, 4, 2, 1), nn.Tanh(),  # (B, c, H, W) in [−1, 1]
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.up(self.project(z).view(-1, *self.start))


class DCGANDiscriminator(nn.Module):
    """G5: ``x → Conv(4, 2, 1) → LeakyReLU → Conv(4, 2, 1) → norm → LeakyReLU → Linear → logit (B,)``."""

    def __init__(self, data_shape: tuple[int, int, int], channels: int, norm: str = "batch") -> None:
        super().__init__()
        c, h, w = data_shape
        self.net = nn.Sequential(
            nn.Conv2d(c, channels, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, C, H/2, W/2); no norm on the input layer
            nn.Conv2d(channels, 2 * channels, 4, 2, 1, bias=norm == "none"),  # (B, 2C, H/4, W/4)
            _norm(norm, 2 * channels, spatial=True), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * channels * (h // 4) * (w // 4), 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)  # (B,)


def dcgan_init_(module: nn.Module) -> None:
    """Radford et al. §4: weights from ``N(0, 0.02)``; norm scales from ``N(1, 0.02)``, shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
