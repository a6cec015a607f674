"""GANs (G1–G3, G5, G9): a generator and a discriminator (critic) with their losses; trained by the
adversarial system (``genlab.training.systems.adversarial``): per iteration ``n_critic`` discriminator
steps, each on a fresh mini-batch and fresh ``z``, then one generator step (G3, Goodfellow et al. 2014,
arXiv:1406.2661, Algorithm 1). The config's ``n_critic``, ``optimizer``, ``betas`` and ``loss`` reach the
system through the ``Adversarial`` declaration (``players``, ``critic_steps``, ``wasserstein``).

Data convention (as the diffusion models): images are given in ``[0, 1]`` and seen by the networks in
``[−1, 1]`` (the generator ends in tanh); ``sample`` returns images in ``[0, 1]``. Vectors (2-D toys)
are used as given. Real data is checked by ``genlab.models.inputs.check_data`` (float, converted to the
parameters' dtype; integer images are refused: ``x.float() / 255``; images in [0, 1]).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.config import Config, require
from genlab.errors import ConfigError
from genlab.models.base import (
    Adversarial,
    Conditional,
    Model,
    ModelOutput,
    Player,
    image_shape_of,
    num_classes_of,
)
from genlab.models.gan import losses
from genlab.models.gan.diffaugment import TRANSFORMS, diff_augment
from genlab.models.gan.networks import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    dcgan_init_,
)
from genlab.models.inputs import check_count, check_data, check_labels


@dataclasses.dataclass
class NetworkConfig(Config):
    """One network's options (the ``generator.*`` and ``discriminator.*`` sections)."""

    hidden: tuple[int, ...] = (128, 128)  # MLP widths (vectors)
    channels: int = 64  # DCGAN base width (images): C and 2C
    norm: Literal["batch", "layer", "none"] = "batch"  # DCGAN batch norm; a WGAN-GP critic uses layer/none
    #: hidden activation; None: the network's own (DCGAN's ReLU in G, LeakyReLU(0.2) in D). Metz et al.'s toy
    #: recipe uses tanh in both
    activation: Literal["relu", "leaky_relu", "tanh"] | None = None
    #: this player's learning rate is the run's ``lr`` × ``lr_scale`` (two time-scale updates; Metz et al.'s toy
    #: recipe: G 1e-3, D 1e-4, i.e. ``lr=1e-3`` with ``discriminator.lr_scale=0.1``)
    lr_scale: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(all(h >= 1 for h in self.hidden), f"hidden must hold widths ≥ 1, got {list(self.hidden)}")
        require(self.channels >= 1, f"channels must be ≥ 1, got {self.channels}")
        require(self.activation in (None, "relu", "leaky_relu", "tanh"),
                f"activation must be relu, leaky_relu or tanh (or null: the network's own), got {self.activation!r}")
        require(self.lr_scale > 0, f"lr_scale must be > 0 (the player's lr is the run's lr × lr_scale), got "
                                   f"{self.lr_scale}")


def require_betas(betas) -> None:
    """``ConfigError`` unless ``betas`` is Adam's ``(β1, β2)`` (F5): two numbers, each in ``[0, 1)`` (the
    optimizers are built from the config at training time, where torch's own error would be a traceback)."""
    ok = len(betas) == 2 and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                                 for b in betas)
    require(ok, f"betas must be two numbers in [0, 1) (Adam's β1, β2), got {list(betas)}: "
                f"e.g. betas=[0.5, 0.999]")


@dataclasses.dataclass
class GANConfig(Config):
    data_shape: tuple[int, ...] = (2,)  # (D,) vectors or (C, H, W) images with H, W divisible by 4
    latent_dim: int = 64  # dim z
    prior: Literal["normal", "uniform"] = "normal"  # G1: z ~ N(0, I) or U(−1, 1)
    loss: Literal["nonsaturating", "minimax", "wasserstein"] = "nonsaturating"  # G2, G9
    constraint: Literal["none", "clip", "gp"] = "none"  # G9: the critic's Lipschitz constraint
    clip_value: float = 0.01  # c of weight clipping (Arjovsky et al. 2017)
    gp_weight: float = 10.0  # λ of the gradient penalty (Gulrajani et al. 2017)
    r1_weight: float = 0.0  # γ of the R1 penalty on real data (Mescheder et al. 2018); 0: off
    n_critic: int = 1  # k: discriminator steps per generator step (G3)
    optimizer: Literal["adam", "rmsprop"] = "adam"  # rmsprop for weight-clipped WGAN
    betas: tuple[float, float] = (0.5, 0.999)  # Adam's (β1, β2): DCGAN's 0.5; WGAN-GP (0, 0.9)
    num_classes: int = 0  # G7: > 0 conditions G(z, y) and D(x, y) on a class label (cgan)
    augment: tuple[str, ...] = ()  # DiffAugment of D's inputs (images): "translation", "cutout" (small data)
    generator: NetworkConfig = dataclasses.field(default_factory=lambda: NetworkConfig(norm="none"))
    discriminator: NetworkConfig = dataclasses.field(default_factory=lambda: NetworkConfig(norm="none"))

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.latent_dim >= 1, f"latent_dim must be ≥ 1, got {self.latent_dim}")
        require(self.num_classes >= 0, f"num_classes must be ≥ 0 (0: unconditional), got {self.num_classes}")
        require(self.n_critic >= 1, f"n_critic must be ≥ 1 (discriminator steps per generator step), got "
                                    f"{self.n_critic}")
        require(len(self.data_shape) in (1, 3), f"data_shape must be (D,) or (C, H, W), got {self.data_shape}")
        if len(self.data_shape) == 3:
            require(self.data_shape[1] % 4 == 0 and self.data_shape[2] % 4 == 0,
                    f"DCGAN needs H and W divisible by 4, got {self.data_shape}")
        require((self.loss == "wasserstein") == (self.constraint != "none"),
                f"loss='wasserstein' needs constraint 'clip' or 'gp', and those go with the Wasserstein loss only, "
                f"got loss={self.loss!r} and constraint={self.constraint!r}")
        require(self.clip_value > 0, f"clip_value must be > 0 (the critic's weights go into [−c, c]), got "
                                     f"{self.clip_value}")
        require(self.gp_weight >= 0, f"gp_weight must be ≥ 0, got {self.gp_weight}")
        require(self.r1_weight >= 0, f"r1_weight must be ≥ 0 (0: off), got {self.r1_weight}")
        require_betas(self.betas)
        unknown = sorted(set(self.augment) - set(TRANSFORMS))
        require(not unknown, f"augment: unknown transform(s) {unknown}: choose from {', '.join(TRANSFORMS)}")
        require(not self.augment or self.is_image, "augment (DiffAugment) transforms images: leave it empty for "
                                                   "vectors")
        require(self.constraint != "gp" or self.discriminator.norm != "batch",
                "the gradient penalty is per example: use discriminator.norm=layer or none, not batch")

    @property
    def is_image(self) -> bool:
        return len(self.data_shape) == 3


@dataclasses.dataclass
class GANOutput(ModelOutput):
    """One player's loss and what the curves show: ``d_real = E D(x)``, ``d_fake = E D(G(z))`` (probabilities;
    critic scores for a WGAN), ``distance`` = the critic's ``E D(x) − E D(G(z))`` (WGAN), ``penalty`` (GP; R1)."""

    d_real: Tensor | None = None
    d_fake: Tensor | None = None
    distance: Tensor | None = None
    penalty: Tensor | None = None


class GAN(Model, Conditional, Adversarial):
    """G1–G3: ``G(z)`` against ``D(x)``; non-saturating, minimax or Wasserstein losses; MLP or DCGAN networks;
    with ``num_classes > 0`` the conditional GAN ``G(z, y)``, ``D(x, y)`` (G7)."""

    config_class = GANConfig
    sample_options = frozenset({"y"})
    monitor = None  # no validation loss tells a better GAN: keep last.ckpt only

    def __init__(self, config: GANConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        if c.is_image:
            self.generator = DCGANGenerator(c.latent_dim, c.data_shape, c.generator.channels, c.generator.norm,
                                            c.num_classes, c.generator.activation)
            self.discriminator = DCGANDiscriminator(c.data_shape, c.discriminator.channels, c.discriminator.norm,
                                                    c.num_classes, c.discriminator.activation)
            dcgan_init_(self)
        else:
            d = math.prod(c.data_shape)
            self.generator = MLPGenerator(c.latent_dim, d, c.generator.hidden, c.generator.norm, c.num_classes,
                                          c.generator.activation)
            self.discriminator = MLPDiscriminator(d, c.discriminator.hidden, c.discriminator.norm, c.num_classes,
                                                  c.discriminator.activation)

    @classmethod
    def data_defaults(cls, data) -> dict:
        """The data's shape; MLPs without normalization for vectors (the 2-D toys), which a model convolutional
        by design (``kinds = ("image",)``: DCGAN, cGAN) refuses."""
        if cls.kinds == ("image",):
            image_shape_of(data, cls.__name__, otherwise=f"train a gan for 2-D points: genlab train gan "
                                                         f"--data {data.name}")
        plain = {} if data.x.dim() == 4 else {"generator": {"norm": "none"}, "discriminator": {"norm": "none"}}
        return {"data_shape": tuple(data.x.shape[1:]), **plain}

    # --- the two players ----------------------------------------------------------------------
    parameter_groups = Adversarial.parameter_groups  # one group per player (Model's is one for everything)

    def players(self) -> tuple[Player, Player]:
        """D (a WGAN's critic), then G; both with the config's ``optimizer`` and ``betas``, each at the run's lr
        × its network's ``lr_scale``."""
        c = self.config
        return (Player("discriminator", self.discriminator, c.optimizer, c.betas, c.discriminator.lr_scale),
                Player("generator", self.generator, c.optimizer, c.betas, c.generator.lr_scale))

    @property
    def critic_steps(self) -> int:
        """k = ``n_critic`` (G3)."""
        return self.config.n_critic

    @property
    def wasserstein(self) -> bool:
        """Whether D is a critic estimating the Wasserstein distance (G9)."""
        return self.config.loss == "wasserstein"

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """G1: ``z ~ N(0, I)`` or ``U(−1, 1)``, ``(n, latent_dim)`` in the parameters' dtype and device."""
        like = next(self.parameters())
        shape = (n, self.config.latent_dim)
        if self.config.prior == "normal":
            z = torch.randn(shape, generator=generator, dtype=like.dtype)
        else:
            z = torch.rand(shape, generator=generator, dtype=like.dtype) * 2 - 1
        return z.to(like.device)

    def to_model_space(self, x: Tensor) -> Tensor:
        """Real data checked (``check_data``; images in [0, 1]) and mapped to the networks' space (images to
        ``[−1, 1]``)."""
        x = check_data(self, x, hint="pass data shaped like the training data", unit_interval=self.config.is_image)
        return x * 2 - 1 if self.config.is_image else x

    def labels(self, y: Tensor | int | None, n: int, *, generator: torch.Generator | None = None) -> Tensor | None:
        """G7: the labels ``(n,)`` a conditional model is given or draws (uniform over the classes); ``None``
        for an unconditional model, which refuses labels."""
        K = self.config.num_classes
        if y is None and K:
            return torch.randint(0, K, (n,), generator=generator).to(next(self.parameters()).device)
        return check_labels(self, y, n, num_classes=K, unconditional_hint="train a cgan")

    def real_batch(self, x: Tensor, y: Tensor | None, what: str) -> tuple[Tensor, Tensor | None]:
        """A batch of real data for a loss: ``x`` checked and in the networks' space (``to_model_space``: an
        empty batch is refused), with its labels ``y`` (G7). A conditional model needs them (random labels
        would pair real images with wrong classes): ``ConfigError`` saying to pass ``y``; an unconditional
        model ignores them."""
        real = self.to_model_space(x)
        K = self.config.num_classes
        if not K:
            return real, None
        if y is None:
            raise ConfigError(f"{type(self).__name__} is conditional (num_classes={K}): {what} needs the labels "
                              f"of the real data x: pass y, one label per example ({what}(x, y))")
        return real, self.labels(y, len(real))

    def _scores(self, real: Tensor, fake: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """``D(x)`` and ``D(G(z))`` in two passes: batch norm normalizes a real batch and a fake batch each by its
        own statistics, as Radford et al.'s code does and as the generator's step sees ``D`` (a fake batch).
        One pass over the mixed batch trains a ``D`` the generator's step never meets; on MNIST it wins
        outright within 300 iterations (measured 2026-12-01). With ``augment``, D sees ``T(x)`` and ``T(G(z))``."""
        return self.discriminator(self.augmented(real), y), self.discriminator(self.augmented(fake), y)

    def augmented(self, x: Tensor) -> Tensor:
        """DiffAugment's ``T(x)`` (``genlab.models.gan.diffaugment``), or ``x`` when ``augment`` is empty."""
        return diff_augment(x, self.config.augment) if self.config.augment else x

    def discriminator_loss(self, x: Tensor, y: Tensor | None = None) -> GANOutput:
        """G2 / G9 for the discriminator on real ``x`` and fresh ``G(z)`` (the generator is not trained here);
        a conditional model scores ``(x, y)`` and ``(G(z, y), y)`` with the real labels."""
        real, y = self.real_batch(x, y, "discriminator_loss")
        with torch.no_grad():
            fake = self.generator(self.sample_latent(len(real)), y)
        r1 = self.config.r1_weight > 0 and torch.is_grad_enabled()
        real = real.detach().requires_grad_(True) if r1 else real
        r, f = self._scores(real, fake, y)
        if self.config.loss != "wasserstein":
            loss, penalty = losses.discriminator_loss(r, f), None
            if r1:  # γ/2 · R1 on the paper's loss, which is twice J_D (G2): γ/4 here
                penalty = losses.r1_penalty(r, real)
                loss = loss + self.config.r1_weight / 4 * penalty
            return GANOutput(loss=loss, d_real=torch.sigmoid(r).mean(), d_fake=torch.sigmoid(f).mean(),
                             penalty=penalty)
        loss, penalty = losses.critic_loss(r, f), None
        if self.config.constraint == "gp" and torch.is_grad_enabled():  # (validation runs without gradients)
            penalty = losses.gradient_penalty(self.discriminator, real, fake, y=y)
            loss = loss + self.config.gp_weight * penalty
        return GANOutput(loss=loss, d_real=r.mean(), d_fake=f.mean(), distance=(r.mean() - f.mean()).detach(),
                         penalty=penalty)

    def generator_loss(self, x: Tensor, y: Tensor | None = None) -> GANOutput:
        """G2 / G9 for the generator on ``len(x)`` fresh ``z`` (``x``, checked as real data, only sets the batch
        size; a conditional model uses the batch's labels ``y``)."""
        real, y = self.real_batch(x, y, "generator_loss")
        fake = self.generator(self.sample_latent(len(real)), y)
        f = self.discriminator(self.augmented(fake), y)
        if self.config.loss == "wasserstein":
            return GANOutput(loss=losses.generator_loss_wasserstein(f), d_fake=f.mean().detach())
        g = losses.generator_loss_minimax if self.config.loss == "minimax" else losses.generator_loss_nonsaturating
        return GANOutput(loss=g(f), d_fake=torch.sigmoid(f).mean().detach())

    @torch.no_grad()
    def after_discriminator_step(self) -> None:
        """Weight clipping (G9, Arjovsky et al. Algorithm 1): every critic weight into ``[−c, c]``."""
        if self.config.constraint == "clip":
            for p in self.discriminator.parameters():
                p.clamp_(-self.config.clip_value, self.config.clip_value)

    def forward(self, x: Tensor, y: Tensor | None = None) -> GANOutput:
        """Validation terms: the discriminator's loss on ``x`` (``loss``) and its view of real and fake data."""
        return self.discriminator_loss(x, y)

    # --- samples -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, y: Tensor | int | None = None) -> Tensor:
        """``G(z)`` (``G(z, y)`` for a conditional model: ``y`` one label, ``n`` labels, or ``None`` for uniform
        ones) for ``n`` fresh ``z``, in data space (images in ``[0, 1]``)."""
        n = check_count(n)
        z = self.sample_latent(n, generator=generator)
        x = self.generator(z, self.labels(y, n, generator=generator))
        return ((x + 1) / 2).clamp(0, 1) if self.config.is_image else x


@dataclasses.dataclass
class DCGANConfig(GANConfig):
    """Radford et al. 2015: batch norm in both networks, Adam β1 = 0.5, z ~ N(0, I) of 100 dims."""

    data_shape: tuple[int, ...] = (1, 28, 28)
    latent_dim: int = 100
    generator: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)
    discriminator: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)


class DCGAN(GAN):
    config_class = DCGANConfig
    kinds = ("image",)  # convolutional by design: 2-D points are for gan's MLPs


@dataclasses.dataclass
class WGANConfig(DCGANConfig):
    """Arjovsky et al. 2017: critic without sigmoid, n_critic 5, weight clipping c = 0.01, RMSProp."""

    loss: Literal["nonsaturating", "minimax", "wasserstein"] = "wasserstein"
    constraint: Literal["none", "clip", "gp"] = "clip"
    n_critic: int = 5
    optimizer: Literal["adam", "rmsprop"] = "rmsprop"


class WGAN(GAN):
    config_class = WGANConfig


@dataclasses.dataclass
class WGANGPConfig(WGANConfig):
    """Gulrajani et al. 2017: gradient penalty λ = 10, Adam (0, 0.9), no batch norm in the critic."""

    constraint: Literal["none", "clip", "gp"] = "gp"
    optimizer: Literal["adam", "rmsprop"] = "adam"
    betas: tuple[float, float] = (0.0, 0.9)
    discriminator: NetworkConfig = dataclasses.field(default_factory=lambda: NetworkConfig(norm="layer"))


class WGANGP(GAN):
    config_class = WGANGPConfig

    @classmethod
    def data_defaults(cls, data) -> dict:
        """Vectors (the 2-D toys) get λ = 0.1, the weight of Gulrajani et al.'s own toy experiments (their
        ``gan_toy.py``): at λ = 10 the critic's unit-norm gradient leaves 0.4 % of ring8 samples within 3σ of a
        mode, at 0.1 87 % (``benchmarks/RESULTS.md``, ``gan_toys_wgan_gp``)."""
        toy = {} if data.x.dim() == 4 else {"gp_weight": 0.1}
        return {**super().data_defaults(data), **toy}


@dataclasses.dataclass
class CGANConfig(DCGANConfig):
    """Mirza & Osindero 2014, arXiv:1411.1784: ``G(z, y)``, ``D(x, y)``; the classes come from the data."""

    num_classes: int = 10


class CGAN(GAN):
    """G7: the conditional DCGAN (label into the generator's input, projection discriminator)."""

    config_class = CGANConfig
    kinds = ("image",)

    @classmethod
    def data_defaults(cls, data) -> dict:
        return {**super().data_defaults(data), **num_classes_of(data)}



@dataclasses.dataclass
class UnrolledGANConfig(GANConfig):
    """Metz et al. 2016, arXiv:1611.02163: the generator's loss through the discriminator unrolled ``k`` steps."""

    unroll_steps: int = 5  # k: 0 is the plain GAN
    #: step size of the unrolled (plain gradient) discriminator updates. 0.01: at 0.05 the lookahead overshoots
    #: and a long run on grid25 collapses to 8 of 25 modes (1 with second order); 0.01 covers 20 ± 2.5 over 5
    #: seeds with a constant lr (RESULTS.md, gan_toys_unrolled_grid25)
    unroll_lr: float = 0.01
    second_order: bool = False  # differentiate through the unrolled updates (the paper's full gradient)
    #: the lookahead's update: plain gradient steps of size unroll_lr ("sgd"), or Adam steps of size unroll_lr
    #: that continue the moments of D's own Adam ("adam": Metz et al. unroll their optimizer; set unroll_lr to D's lr)
    unroll_optimizer: Literal["sgd", "adam"] = "sgd"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.unroll_steps >= 0, f"unroll_steps must be ≥ 0 (0: no unrolling), got {self.unroll_steps}")
        require(self.unroll_lr > 0, f"unroll_lr must be > 0, got {self.unroll_lr}")
        require(self.unroll_optimizer == "sgd" or self.optimizer == "adam",
                f"unroll_optimizer='adam' continues D's Adam moments: D trains with optimizer={self.optimizer!r}; "
                "set optimizer='adam' or unroll_optimizer='sgd'")
        require(self.loss != "wasserstein", "unrolling is defined here for the non-saturating and minimax losses")
        require(not self.augment, "unrolled-gan's lookahead steps see D's inputs as they are: leave augment empty")
        require(self.r1_weight == 0, "unrolled-gan's lookahead steps use J_D without a penalty: set r1_weight=0 "
                                     "(or train a gan with r1_weight)")


class UnrolledGAN(GAN):
    """G6: ``θ_D^{i+1} = θ_D^i − η ∇ J_D(θ_D^i)`` for ``k`` steps on fresh fakes (functional parameters,
    ``torch.func.functional_call``; the discriminator itself is not changed), then the generator's loss
    against ``D(·; θ_D^k)`` (Metz et al. Eqs. (7)–(10)). First order by default: ``θ_D^k`` is a constant for
    the generator's gradient; ``second_order`` back-propagates through the unrolled updates too. The
    unrolled updates are plain gradient steps, or (``unroll_optimizer="adam"``, as the paper unrolls its
    optimizer) Adam steps ``θ ← θ − η m̂_j / (√v̂_j + ε)`` whose moments ``m, v`` continue those of D's training:
    the model keeps a copy of them, updated from D's gradients after each of D's steps (``after_discriminator_step``;
    buffers, so a checkpoint resumes them), with D's betas and step count for the bias correction."""

    config_class = UnrolledGANConfig
    _EPS = 1e-8  # Adam's ε (torch's default, which genlab's optimizers keep)

    def __init__(self, config: UnrolledGANConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        if self.config.unroll_optimizer == "adam":  # D's Adam moments, mirrored: m_i, v_i per parameter, step t
            self.d_moments = nn.Module()
            for i, p in enumerate(self.discriminator.parameters()):
                self.d_moments.register_buffer(f"m_{i}", torch.zeros_like(p))
                self.d_moments.register_buffer(f"v_{i}", torch.zeros_like(p))
            self.d_moments.register_buffer("t", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def after_discriminator_step(self) -> None:
        """The parent's constraint, then (``unroll_optimizer="adam"``) the mirrored moments take the gradients D
        just stepped on: ``m ← β1 m + (1 − β1) g``, ``v ← β2 v + (1 − β2) g²``, ``t ← t + 1``."""
        super().after_discriminator_step()
        if self.config.unroll_optimizer != "adam":
            return
        b1, b2 = self.config.betas
        for i, p in enumerate(self.discriminator.parameters()):
            if p.grad is not None:
                getattr(self.d_moments, f"m_{i}").mul_(b1).add_(p.grad, alpha=1 - b1)
                getattr(self.d_moments, f"v_{i}").mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
        self.d_moments.t.add_(1)

    def _adam_lookahead(self, theta: dict[str, Tensor], grads: list[Tensor], moments: list[tuple[Tensor, Tensor]],
                        step: int) -> tuple[dict[str, Tensor], list[tuple[Tensor, Tensor]]]:
        """One unrolled Adam step (lookahead step ``step`` ≥ 1 after D's ``t``): new parameters and moments."""
        b1, b2 = self.config.betas
        t = int(self.d_moments.t) + step
        new_theta, new_moments = {}, []
        for (name, th), g, (m, v) in zip(theta.items(), grads, moments, strict=True):
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            new_theta[name] = th - self.config.unroll_lr * m_hat / ((v_hat + 1e-30).sqrt() + self._EPS)
            new_moments.append((m, v))
        return new_theta, new_moments

    def unrolled_parameters(self, x: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        """``θ_D^k``: ``k`` functional gradient steps of the discriminator on ``x`` and fresh ``G(z)``."""
        from torch.func import functional_call

        c = self.config
        real = self.to_model_space(x)
        buffers = dict(self.discriminator.named_buffers())
        theta = {n: p.detach().requires_grad_(True) for n, p in self.discriminator.named_parameters()}
        moments = ([(getattr(self.d_moments, f"m_{i}"), getattr(self.d_moments, f"v_{i}")) for i in range(len(theta))]
                   if c.unroll_optimizer == "adam" else [])
        for step in range(1, c.unroll_steps + 1):
            fake = self.generator(self.sample_latent(len(x)), y)
            fake = fake if c.second_order else fake.detach()
            d = lambda v: functional_call(self.discriminator, (theta, buffers), (v, y))  # noqa: E731, B023
            loss = losses.discriminator_loss(d(real), d(fake))  # two passes, as GAN._scores
            grads = torch.autograd.grad(loss, list(theta.values()), create_graph=c.second_order)
            if c.unroll_optimizer == "adam":
                theta, moments = self._adam_lookahead(theta, grads, moments, step)
            else:
                theta = {n: t - c.unroll_lr * g for (n, t), g in zip(theta.items(), grads, strict=True)}
        return theta

    def generator_loss(self, x: Tensor, y: Tensor | None = None) -> GANOutput:
        """G6: the generator's G2 loss against the discriminator unrolled ``unroll_steps`` ahead (validation,
        without gradients, and ``unroll_steps = 0`` use the discriminator as it is)."""
        if self.config.unroll_steps == 0 or not torch.is_grad_enabled():
            return super().generator_loss(x, y)
        from torch.func import functional_call

        real, y = self.real_batch(x, y, "generator_loss")
        theta = self.unrolled_parameters(x, y)
        fake = self.generator(self.sample_latent(len(real)), y)
        f = functional_call(self.discriminator, (theta, dict(self.discriminator.named_buffers())), (fake, y))
        g = losses.generator_loss_minimax if self.config.loss == "minimax" else losses.generator_loss_nonsaturating
        return GANOutput(loss=g(f), d_fake=torch.sigmoid(f).mean().detach())
