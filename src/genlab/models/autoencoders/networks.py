"""Encoder and decoder networks of the autoencoders (AE1, AE5): MLP stages and a small conv pair.

An MLP autoencoder is a stack of *stages*: encoder stage ``i`` maps ``h_{i−1} → h_i`` (``h_0 = x``),
decoder stage ``i`` maps ``h_i → h_{i−1}``. Keeping the stages as separate modules is what lets
``pretrain_layerwise`` train them one pair at a time (AE5). The last decoder stage has no activation:
it outputs logits (BCE loss) or the mean (MSE loss).
"""

from __future__ import annotations

import math

from torch import nn

from genlab.models.vae import mlp

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``tanh``, ``gelu``, ``sigmoid``, ``identity``)."""
    return ACTIVATIONS[name]()


def mlp_autoencoder(data_shape: tuple[int, ...], hidden: tuple[int, ...], code_dim: int, act: str,
                    code_act: str) -> tuple[nn.Sequential, nn.Sequential]:
    """AE1/AE5: ``encoder = Flatten → stage_1 → … → stage_L`` and the mirrored decoder.

    Widths ``d_0 = dim x, d_1..d_{L−1} = hidden, d_L = code_dim``. Encoder stage ``i`` is
    ``Linear(d_{i−1}, d_i)`` + activation (``code_act`` on the code); decoder stage ``i`` is
    ``Linear(d_i, d_{i−1})`` + activation, none on the output stage.
    """
    dims = [math.prod(data_shape), *hidden, code_dim]
    L = len(dims) - 1
    enc = [nn.Sequential(nn.Linear(dims[i], dims[i + 1]), activation(code_act if i == L - 1 else act))
           for i in range(L)]
    dec = [nn.Sequential(nn.Linear(dims[i + 1], dims[i]), *([activation(act)] if i > 0 else []))
           for i in range(L)]
    encoder = nn.Sequential(nn.Flatten(), *enc)  # (B, *data_shape) → (B, code_dim)
    decoder = nn.Sequential(*reversed(dec), nn.Unflatten(1, data_shape))  # (B, code_dim) → (B, *data_shape)
    return encoder, decoder


def mlp_stage_pairs(encoder: nn.Sequential, decoder: nn.Sequential) -> list[tuple[nn.Module, nn.Module]]:
    """The ``(encoder stage i, decoder stage i)`` pairs of ``mlp_autoencoder``'s networks, ``i = 1..L``."""
    enc = list(encoder)[1:]  # drop Flatten
    dec = list(decoder)[:-1][::-1]  # drop Unflatten; decoder runs stage L first
    return list(zip(enc, dec, strict=True))


def conv_autoencoder(data_shape: tuple[int, ...], channels: tuple[int, ...], hidden: tuple[int, ...],
                     code_dim: int, act: str, code_act: str) -> tuple[nn.Sequential, nn.Sequential]:
    """AE1 with two stride-2 convolutions (C1, C2: H → H/4), an MLP to the code, and the transposed
    mirror (C7). Needs images ``(C, H, W)`` with ``H, W`` divisible by 4."""
    C, H, W = data_shape
    c1, c2 = channels[0], channels[-1]
    flat = c2 * (H // 4) * (W // 4)
    encoder = nn.Sequential(
        nn.Conv2d(C, c1, 4, stride=2, padding=1), activation(act),  # (B, c1, H/2, W/2)
        nn.Conv2d(c1, c2, 4, stride=2, padding=1), activation(act),  # (B, c2, H/4, W/4)
        nn.Flatten(), mlp([flat, *hidden, code_dim], act), activation(code_act),  # (B, code_dim)
    )
    decoder = nn.Sequential(
        mlp([code_dim, *reversed(hidden), flat], act), activation(act),
        nn.Unflatten(1, (c2, H // 4, W // 4)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), activation(act),  # (B, c1, H/2, W/2)
        nn.ConvTranspose2d(c1, C, 4, stride=2, padding=1),  # (B, C, H, W)
    )
    return encoder, decoder
