"""Small network builders shared by the autoencoders and VAEs: activations, MLPs, a conv pair.

The conv pair is two stride-2 convolutions (C1, C2: ``H → H/4``) then an MLP, and its mirror: an MLP
then two transposed convolutions (C7: ``H/4 → H``). Images need ``H, W`` divisible by 4.
"""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``tanh``, ``gelu``, ``sigmoid``, ``identity``)."""
    return ACTIVATIONS[name]()


def mlp(sizes: list[int], act: str) -> nn.Sequential:
    """Linear layers of the given widths with an activation between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
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
