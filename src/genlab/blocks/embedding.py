"""Token embedding (R8)."""

from __future__ import annotations

from torch import Tensor, nn

from genlab.errors import ShapeError


class Embedding(nn.Embedding):
    """Learned lookup table replacing one-hot word vectors (R8): ``e(t) = E[t]`` with ``E`` (V, D).

    ``E[t]`` equals ``onehot(t) @ E`` without building the one-hot vector. The row ``padding_idx`` is
    ignored: it starts at zero and receives no gradient (``nn.Embedding``'s behaviour, kept and
    tested). Token ids out of range raise a ``ShapeError`` that says so (on CPU; elsewhere the check
    would cost a device sync).
    """

    def forward(self, tokens: Tensor) -> Tensor:  # (B, T) int -> (B, T, D)
        if tokens.is_floating_point():
            raise ShapeError(f"Embedding expects integer token ids, got {tokens.dtype}: pass tokens.long()")
        if tokens.device.type == "cpu" and tokens.numel():
            lo, hi = int(tokens.min()), int(tokens.max())
            if lo < 0 or hi >= self.num_embeddings:
                raise ShapeError(f"token ids must lie in [0, {self.num_embeddings}), got min {lo}, max {hi}: "
                                 f"raise num_embeddings to the vocabulary size")
        return super().forward(tokens)
