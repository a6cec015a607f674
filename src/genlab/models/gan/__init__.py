"""GANs (G1–G9): losses, networks and the models trained by ``training.systems.adversarial``."""

from genlab.models.gan.gan import (
    CGAN,
    DCGAN,
    GAN,
    WGAN,
    WGANGP,
    CGANConfig,
    DCGANConfig,
    GANConfig,
    GANOutput,
    NetworkConfig,
    UnrolledGAN,
    UnrolledGANConfig,
    WGANConfig,
    WGANGPConfig,
)
from genlab.models.gan.pix2pix import Pix2Pix, Pix2PixConfig

__all__ = ["CGAN", "DCGAN", "GAN", "WGAN", "WGANGP", "CGANConfig", "DCGANConfig", "GANConfig", "GANOutput",
           "NetworkConfig", "Pix2Pix", "Pix2PixConfig", "UnrolledGAN", "UnrolledGANConfig", "WGANConfig",
           "WGANGPConfig"]
