"""Small network builders shared by the autoencoders and VAEs: activations, MLPs, a conv pair.

The conv pair is two stride-2 convolutions (C1, C2: ``H → H/4``) then an MLP, and its mirror: an MLP
then two transposed convolutions (C7: ``H/4 → H``). Images need ``H, W`` divisible by 4.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``tanh``, ``gelu``, ``sigmoid``, ``identity``)."""
    return ACTIVATIONS[name]()


def mlp(sizes: list[int], act: str) -> nn.Sequential:
    """Linear layers of the given widths with an activation between them (none after the last).

    ``act="glu"`` makes every hidden layer a gated linear unit, ``h = (W x + b) ⊙ σ(V x + c)``
    (Dauphin et al. 2017, arXiv:1612.08083; the "gated dense" layers of Tomczak & Welling's VampPrior
    VAEs, arXiv:1705.07120): one ``Linear(a, 2b)`` whose halves ``nn.GLU`` multiplies.
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        hidden = i < len(sizes) - 2
        if hidden and act == "glu":
            layers += [nn.Linear(a, 2 * b), nn.GLU(dim=-1)]  # (B, 2b) → (B, b)
            continue
        layers.append(nn.Linear(a, b))
        if hidden:
            layers.append(activation(act))
    return nn.Sequential(*layers)


def conv_encoder(data_shape: tuple[int, ...], channels: tuple[int, ...], hidden: tuple[int, ...],
                 out_dim: int, act: str) -> nn.Sequential:
    """``(B, C, H, W) → (B, out_dim)``: two stride-2 convolutions, flatten, MLP through ``hidden``."""
    C, H, W = data_shape
    c1, c2 = channels[0], channels[-1]
    return nn.Sequential(
        nn.Conv2d(C, c1, 4, stride=2, padding=1), activation(act),  # (B, c1, H/2, W/2)
        nn.Conv2d(c1, c2, 4, stride=2, padding=1), activation(act),  # (B, c2, H/4, W/4)
        nn.Flatten(), mlp([c2 * (H // 4) * (W // 4), *hidden, out_dim], act),  # (B, out_dim)
    )


def conv_decoder(data_shape: tuple[int, ...], channels: tuple[int, ...], hidden: tuple[int, ...],
                 in_dim: int, act: str) -> nn.Sequential:
    """``(B, in_dim) → (B, C, H, W)``: MLP through ``reversed(hidden)``, two transposed convolutions."""
    C, H, W = data_shape
    c1, c2 = channels[0], channels[-1]
    return nn.Sequential(
        mlp([in_dim, *reversed(hidden), c2 * (H // 4) * (W // 4)], act), activation(act),
        nn.Unflatten(1, (c2, H // 4, W // 4)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), activation(act),  # (B, c1, H/2, W/2)
        nn.ConvTranspose2d(c1, C, 4, stride=2, padding=1),  # (B, C, H, W)
    )


@torch.no_grad()
def init_output_bias_(decoder: nn.Module, x: Tensor, likelihood: str) -> bool:
    """Set the bias of ``decoder``'s last layer to the data's mean output: the log-odds of the mean
    pixel for a Bernoulli/BCE output (clamped to [1e-3, 1 − 1e-3]), the mean itself for a Gaussian/MSE one.

    Per value when the bias has one entry per value of an example (MLP decoders), per channel when it
    has one per channel (conv decoders). Without it the first steps spend a large gradient learning the
    mean image, which can saturate a sigmoid code layer for thousands of steps. Returns whether a bias
    was set. (Burda et al. 2015, arXiv:1509.00519, initialize their output biases this way.)
    """
    last = [m for m in decoder.modules() if isinstance(getattr(m, "bias", None), Tensor)]
    if not last:
        return False
    bias = last[-1].bias  # (D,) or (C,)
    mean = x.float().mean(0)  # (*data_shape)
    if bias.numel() == mean.numel():
        target = mean.flatten()
    elif mean.dim() == 3 and bias.numel() == mean.shape[0]:
        target = mean.mean((1, 2))
    else:
        return False
    if likelihood in ("bernoulli", "bce"):
        target = torch.logit(target.clamp(1e-3, 1 - 1e-3))
    bias.copy_(target.to(bias))
    return True
