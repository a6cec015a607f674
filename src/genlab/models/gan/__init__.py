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

__all__ = ["CGAN", "DCGAN", "GAN", "WGAN", "WGANGP", "CGANConfig", "DCGANConfig", "GANConfig", "GANOutput",
           "NetworkConfig", "UnrolledGAN", "UnrolledGANConfig", "WGANConfig", "WGANGPConfig"]
