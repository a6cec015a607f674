"""A bag-of-words QA baseline on (story, question) → answer word (bAbI-style tasks).

    s = (1/|S|) Σ_i (A[w_i] + T[min(d_i, D − 1)]),   q = (1/|Q|) Σ_j B[u_j],   p(a | s, q) = softmax(W [s; q] + c)

with word embeddings ``A``, ``B``, a learned embedding ``T`` of each story word's distance ``d_i`` from the story's
end (the temporal encoding of Sukhbaatar et al. 2015, arXiv:1503.08895, §4.1, here on words), and one linear
layer over the concatenation (F1, F2: softmax cross-entropy). No attention over sentences: the memory networks'
baseline to beat. ``<pad>`` words (id 0) are left out of the means.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from genlab.config import Config, require
from genlab.models.qa.common import StoryReader


@dataclasses.dataclass
class BagOfWordsQAConfig(Config):
    vocabulary: tuple[str, ...] = ()  # id → word (``Vocabulary.to_list()``), from the data: saved as JSON
    joiner: str = " "
    embed_dim: int = 32  # width of A, B, T
    max_distance: int = 64  # D: distances from the story's end ≥ D − 1 share one embedding

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.vocabulary) >= 3, "the QA model needs a vocabulary from the data: train it on --data babi")
        require(self.embed_dim >= 1, f"embed_dim must be ≥ 1, got {self.embed_dim}")
        require(self.max_distance >= 1, f"max_distance must be ≥ 1, got {self.max_distance}")


def masked_mean(e: Tensor, ids: Tensor) -> Tensor:
    """Mean of ``e`` ``(B, L, d)`` over the positions whose id is not ``<pad>`` (0) → ``(B, d)``."""
    keep = (ids != 0).unsqueeze(-1).to(e.dtype)  # (B, L, 1)
    return (e * keep).sum(1) / keep.sum(1).clamp_min(1)


class BagOfWordsQA(StoryReader):
    """Reads ``story`` and ``question``, predicts the ``answer`` word."""

    config_class = BagOfWordsQAConfig

    def __init__(self, config: BagOfWordsQAConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        V = len(c.vocabulary)
        self.A = nn.Embedding(V, c.embed_dim, padding_idx=0)  # story words
        self.T = nn.Embedding(c.max_distance, c.embed_dim)  # distance from the story's end
        self.B = nn.Embedding(V, c.embed_dim, padding_idx=0)  # question words
        self.out = nn.Linear(2 * c.embed_dim, V)

    def logits(self, story: Tensor, question: Tensor) -> Tensor:
        """``W [s; q] + c`` → ``(B, V)``."""
        lengths = (story != 0).sum(1, keepdim=True)  # (B, 1)
        distance = lengths - 1 - torch.arange(story.shape[1], device=story.device)  # (B, S): from the end
        distance = distance.clamp(0, self.config.max_distance - 1)
        s = masked_mean(self.A(story) + self.T(distance), story)  # (B, d)
        q = masked_mean(self.B(question), question)  # (B, d)
        return self.out(torch.cat([s, q], -1))
