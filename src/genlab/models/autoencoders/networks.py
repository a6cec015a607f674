"""Encoder and decoder networks of the autoencoders (AE1, AE5): MLP stages and a small conv pair.

An MLP autoencoder is a stack of *stages*: encoder stage ``i`` maps ``h_{i−1} → h_i`` (``h_0 = x``),
decoder stage ``i`` maps ``h_i → h_{i−1}``. Keeping the stages as separate modules is what lets
``pretrain_layerwise`` train them one pair at a time (AE5). The last decoder stage has no activation:
it outputs logits (BCE loss) or the mean (MSE loss).
"""

from __future__ import annotations

import math

from torch import nn

from genlab.models.networks import activation, conv_decoder, conv_encoder


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
    """AE1 with the shared conv pair (C1, C2, C7); ``code_act`` applies to the code."""
    encoder = nn.Sequential(conv_encoder(data_shape, channels, hidden, code_dim, act), activation(code_act))
    return encoder, conv_decoder(data_shape, channels, hidden, code_dim, act)
