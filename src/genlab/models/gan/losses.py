"""The adversarial losses (G1, G2, G9), from logits / critic values — pure functions.

Goodfellow et al., "Generative Adversarial Nets", 2014, arXiv:1406.2661; Arjovsky, Chintala & Bottou,
"Wasserstein GAN", 2017, arXiv:1701.07875; Gulrajani et al., "Improved Training of Wasserstein GANs",
2017, arXiv:1704.00028.

Notation: ``D(x) = σ(l(x))`` with ``l`` the discriminator's logit. From logits, stably:
``log D = −softplus(−l)`` and ``log(1 − D) = −softplus(l)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def value_function(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """G1: ``V(D, G) = E log D(x) + E log(1 − D(G(z)))`` (a scalar)."""
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """G2: ``J_D = −½ E log D(x) − ½ E log(1 − D(G(z)))`` = ``−½ V`` (binary cross-entropy, F3)."""
    return -0.5 * value_function(real_logits, fake_logits)


def generator_loss_minimax(fake_logits: Tensor) -> Tensor:
    """G2, minimax: ``J_G = −J_D``; only ``½ E log(1 − D(G(z)))`` depends on G (saturates when D wins)."""
    return -0.5 * F.softplus(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """G2, non-saturating: ``J_G = −½ E log D(G(z))`` (strong gradients when D rejects the samples)."""
    return 0.5 * F.softplus(-fake_logits).mean()


def critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """G9: the critic maximizes ``E D(x) − E D(x̃)``; this is its negative, to minimize."""
    return fake_scores.mean() - real_scores.mean()


def generator_loss_wasserstein(fake_scores: Tensor) -> Tensor:
    """G9: the generator minimizes ``−E D(G(z))``."""
    return -fake_scores.mean()


def gradient_penalty(critic, real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None,
                     **cond) -> Tensor:
    """G9 (WGAN-GP, Gulrajani et al. Eq. (3)): ``E_x̂ (‖∇_x̂ D(x̂)‖₂ − 1)²`` on ``x̂ = ε x + (1 − ε) x̃``,
    ``ε ~ U[0, 1]`` per example. Differentiable (``create_graph``): its gradient trains the critic."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)  # (B, *data_shape)
    scores = critic(x_hat, **cond)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder, Geiger & Nowozin 2018, arXiv:1801.04406, Eq. (9)): ``E_x ‖∇_x D(x)‖²`` on real data,
    from the logits of the pass that scored ``real`` (which must require grad). Differentiable
    (``create_graph``): it trains the discriminator towards a flat response on the data."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)  # (B, *data_shape)
    return grad.flatten(1).pow(2).sum(1).mean()
