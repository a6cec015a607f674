"""An MLP denoiser ``ε_θ(x_t, t, y)`` for low-dimensional data (2-D toy distributions)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from genlab.models.diffusion.embeddings import ConditionEmbedding


class ResidualMLPBlock(nn.Module):
    """``h + W2 SiLU(W1 SiLU(LN(h)) + U e)``: the condition ``e`` is added inside every block."""

    def __init__(self, hidden_dim: int, *, embed_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden_dim)
        self.fc1 = nn.Linear(hidden_dim, hidden_dim)
        self.emb_proj = nn.Linear(embed_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, hidden_dim)

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        z = self.fc1(F.silu(self.norm(h))) + self.emb_proj(F.silu(emb))  # (B, H)
        return h + self.fc2(F.silu(z))


class MLPDenoiser(nn.Module):
    """Residual MLP ``(x_t (B, D), t (B,), y (B,) | None) → (B, out_dim)`` with the time embedding added.

    The denoising network of D2/D3 for vector data; ``t`` may be fractional (VDM). ``num_classes > 0``
    adds a label embedding with a null class (``y = None``) for classifier-free guidance.
    """

    def __init__(
        self,
        *,
        in_dim: int = 2,
        out_dim: int = 2,
        hidden_dim: int = 128,
        num_layers: int = 3,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        self.embedding = ConditionEmbedding(
            base_dim=hidden_dim, embed_dim=hidden_dim, num_classes=num_classes
        )
        self.proj_in = nn.Linear(in_dim, hidden_dim)
        self.blocks = nn.ModuleList(
            [ResidualMLPBlock(hidden_dim, embed_dim=hidden_dim) for _ in range(num_layers)]
        )
        self.norm_out = nn.LayerNorm(hidden_dim)
        self.proj_out = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        emb = self.embedding(t, y)  # (B, H)
        h = self.proj_in(x)  # (B, H)
        for block in self.blocks:
            h = block(h, emb)
        return self.proj_out(F.silu(self.norm_out(h)))  # (B, out_dim)
