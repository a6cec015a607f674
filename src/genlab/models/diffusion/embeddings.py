"""Time and class conditioning of the denoisers: an MLP of the sinusoidal time embedding (A5,
``genlab.blocks.positional``) + a label embedding.

The label embedding has one extra "null" row (index ``num_classes``) used for classifier-free
guidance (Ho & Salimans, "Classifier-Free Diffusion Guidance", 2022, arXiv:2207.12598).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.blocks.positional import sinusoidal_embedding


class ConditionEmbedding(nn.Module):
    """``e = MLP(sinusoidal(t)) + E[y]``: the vector that conditions every block of a denoiser.

    ``num_classes = 0`` gives an unconditional embedding (``y`` ignored); otherwise ``y = None`` or a
    negative label (``−1``) selects the learned null class ``∅`` of classifier-free guidance.
    """

    def __init__(self, *, base_dim: int, embed_dim: int, num_classes: int = 0) -> None:
        super().__init__()
        self.base_dim = base_dim
        self.num_classes = num_classes
        self.time_mlp = nn.Sequential(
            nn.Linear(base_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim)
        )
        self.label_embedding = nn.Embedding(num_classes + 1, embed_dim) if num_classes > 0 else None

    def forward(self, t: Tensor, y: Tensor | None = None) -> Tensor:
        emb = self.time_mlp(
            sinusoidal_embedding(t, self.base_dim).to(self.time_mlp[0].weight.dtype)
        )  # (B, E)
        if self.label_embedding is not None:
            if y is None:
                y = torch.full((t.shape[0],), self.num_classes, dtype=torch.long, device=t.device)
            y = torch.where(y < 0, self.num_classes, y.long())  # −1 → null class
            emb = emb + self.label_embedding(y)  # (B, E)
        return emb


def drop_labels(y: Tensor, p_uncond: float, *, generator: torch.Generator | None = None) -> Tensor:
    """Replace each label by the null label ``−1`` with probability ``p_uncond`` (classifier-free guidance).

    Ho & Salimans 2022 (arXiv:2207.12598), Algorithm 1: one network learns ``ε(x, y)`` and ``ε(x, ∅)``.
    """
    if p_uncond <= 0.0:
        return y
    device = generator.device if generator is not None else y.device
    drop = (torch.rand(y.shape, generator=generator, device=device) < p_uncond).to(y.device)  # (B,)
    return torch.where(drop, torch.full_like(y, -1), y)
