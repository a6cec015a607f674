"""GANs (G1–G9): losses, networks and the models trained by ``training.systems.adversarial``."""

from genlab.models.gan.gan import (
           DCGAN,
           GAN,
           WGAN,
           WGANGP,
           DCGANConfig,
           GANConfig,
           GANOutput,
           NetworkConfig,
           WGANConfig,
           WGANGPConfig,
)

__all__ = ["DCGAN", "GAN", "WGAN", "WGANGP", "DCGANConfig", "GANConfig", "GANOutput", "NetworkConfig", "WGANConfig",
           "WGANGPConfig"]
