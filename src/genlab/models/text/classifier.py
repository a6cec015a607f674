"""A recurrent text classifier, many-to-one (R7): embedding (R8) → bidirectional GRU or LSTM (R3/R4, R6) →
pooling over the words → softmax over the classes (F1), trained on the cross-entropy of the class (F2).

    e_t = E[w_t],   h_t = [→h_t ; ←h_t] = BiRNN(e_1..e_n)_t,   p(y | w) = softmax(W c + b)   (F1)

with ``c`` one vector per document from the real words ``t ≤ n`` (``pooling``):

- ``"attention"`` (R9, the additive score of Bahdanau et al. 2014, arXiv:1409.0473, with a learned query ``u``
  in place of a decoder state, as in Yang et al. 2016's word attention): ``e_t = vᵀ tanh(W_a u + U_a h_t + b)``,
  ``α = masked_softmax(e)`` over the real words (0 on padding), ``c = Σ_t α_t h_t`` — ``W_a u + b`` is the
  bias ``b`` of ``e_t = vᵀ tanh(W h_t + b)``; ``AdditiveAttention`` computes it;
- ``"cosine"`` (A2): ``e_t = s · cos(u, K h_t)``, the cosine similarity of the query and each projected state
  (``K`` a linear map to ``attention_dim``) times a learned scale ``s`` (starting at 10, at most 100: cosines alone
  lie in [−1, 1], too flat for a softmax over hundreds of words), ``α = masked_softmax(e)``, ``c = Σ_t α_t h_t``;
- ``"hard"`` (A11; Xu et al. 2015, arXiv:1502.03044): the additive scores of ``"attention"``, but ``c = h_{t*}``, one
  word's state — ``t*`` the argmax of ``α`` in evaluation, a draw ``t* ~ α`` in training (stochastic hard attention);
  the choice has no gradient, so training uses the straight-through estimator ``c = Σ_t α_t h_t + sg(h_{t*} −
  Σ_t α_t h_t)``: the forward value is hard, the gradient the soft one's. Its ``α`` is one-hot at ``t*``;
- ``"mean"``: ``α_t = 1/n``, ``c = Σ_t α_t h_t``;
- ``"last"`` (R7's last state): the final states ``h_n`` of each direction (the forward one after word ``n``, the
  backward one after word 1), concatenated — no weights.

The words' count ``n`` is ``words_lengths`` when given, else the non-``<pad>`` ids (``<pad>`` = 0 never stands for
a word): ``predict(words)`` reads the same documents as ``forward`` whether the batch is padded or not, and padding
a document further changes neither its weights nor its logits (the RNN runs packed to each length).
In training, ``word_dropout`` ``p`` removes each real word of a document with probability ``p`` before the
embedding (whole words, not embedding units; the words left keep their order, a document keeps at least one
word), as in Iyyer et al. 2015's deep averaging networks: the model cannot lean on a few words, and the RNN
reads about ``(1 − p)`` of the words. Evaluation reads every word.
``attention(words)`` returns ``α`` (B, L); the renderer writes test documents with their predicted and true
topics and each word's weight (``AttentionText``: ``.txt`` or an ``.html`` heat map).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.attention import AdditiveAttention, cosine_similarity, masked_softmax, padding_mask
from genlab.blocks.recurrent.layers import GRU, LSTM
from genlab.config import Config, require
from genlab.errors import ConfigError, ShapeError
from genlab.models.base import Classifier, Model
from genlab.models.cnn import ClassifierOutput
from genlab.models.inputs import check_labels
from genlab.models.text.attention_text import AttentionText
from genlab.models.text.bigram import text_defaults
from genlab.render import Renderer

CELLS = {"gru": GRU, "lstm": LSTM}


@dataclasses.dataclass
class TextClassifierConfig(Config):
    vocabulary: tuple[str, ...] = ()  # id → word (``Vocabulary.to_list()``), from the data: saved as JSON
    joiner: str = " "
    classes: tuple[str, ...] = ()  # class names, from the data's ``meta["classes"]``
    embed_dim: int = 64  # R8
    hidden: int = 64  # per direction
    cell: Literal["gru", "lstm"] = "gru"  # R3 (PyTorch's reset-after form: the fused kernel), R4
    bidirectional: bool = True  # R6
    pooling: Literal["attention", "cosine", "hard", "last", "mean"] = "attention"
    attention_dim: int = 64  # width of the additive score's tanh layer (R9); of K h_t for cosine (A2)
    dropout: float = 0.2  # on the embeddings and on c (training only)
    word_dropout: float = 0.3  # share of each training document's words removed before the embedding

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.vocabulary) >= 3, "the text classifier needs a vocabulary from the data: train it on "
                                           "--data bbc-news")
        require(len(self.classes) >= 2, f"a classifier tells at least 2 classes apart, got {list(self.classes)}: "
                                        f"train it on labelled documents (--data bbc-news)")
        require(min(self.embed_dim, self.hidden, self.attention_dim) >= 1,
                f"embed_dim, hidden and attention_dim must be ≥ 1, got {self.embed_dim}, {self.hidden}, "
                f"{self.attention_dim}")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        require(0 <= self.word_dropout < 1, f"word_dropout must be in [0, 1), got {self.word_dropout}")


class TextClassifier(Model, Classifier):
    """Reads a document's ``words``, predicts its class ``y`` (R7 with R9 pooling; F1, F2)."""

    config_class = TextClassifierConfig
    inputs = ("words", "y")
    optional_inputs = ("words_lengths",)
    kinds = ("documents",)
    target = "y"
    preview = True  # its predictions for validation documents, with the attention weights, go to samples/ (text)
    monitor, monitor_mode = "val/accuracy", "max"

    def __init__(self, config: TextClassifierConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.embed = nn.Embedding(len(c.vocabulary), c.embed_dim, padding_idx=0)  # R8; <pad> = 0
        self.rnn = CELLS[c.cell](c.embed_dim, c.hidden, bidirectional=c.bidirectional)  # R6, batch-first
        D = c.hidden * (2 if c.bidirectional else 1)
        if c.pooling in ("attention", "cosine", "hard"):
            self.query = nn.Parameter(torch.randn(c.attention_dim) / c.attention_dim ** 0.5)  # u
        if c.pooling in ("attention", "hard"):
            self.attend = AdditiveAttention(c.attention_dim, D, c.attention_dim)  # R9
        if c.pooling == "cosine":
            self.key = nn.Linear(D, c.attention_dim)  # K (A2)
            self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))  # log s
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(D, len(c.classes))  # F1

    @classmethod
    def data_defaults(cls, data) -> dict[str, Any]:
        """The vocabulary and joiner (``text_defaults``) and the class names: ``meta["classes"]``, else 0..K−1."""
        classes = data.meta.get("classes")
        if not classes:
            y = data.fields.get("y")
            classes = [] if y is None else [str(k) for k in range(int(y.max()) + 1)]
        return {**text_defaults(data), "classes": tuple(classes)}

    # --- the equations ---------------------------------------------------------------------------------
    def _lengths(self, words: Tensor, words_lengths: Tensor | None) -> Tensor:
        """The words' counts ``n`` (B,): ``words_lengths``, else the non-``<pad>`` ids of each row."""
        if words.dim() != 2 or words.dtype != torch.int64:
            raise ShapeError(f"TextClassifier reads word ids (B, L) int64, got {tuple(words.shape)} {words.dtype}")
        n = (words != 0).sum(1) if words_lengths is None else words_lengths.to(words.device)  # (B,)
        if len(n) and int(n.min()) < 1:
            raise ConfigError("a document with no word (all <pad>): drop it, or give it at least one word")
        return n

    def drop_words(self, words: Tensor, n: Tensor) -> tuple[Tensor, Tensor]:
        """Remove each real word with probability ``word_dropout``: ``(words (B, L') with the kept words first, in
        order, then <pad>; their counts n' (B,), each ≥ 1)``, ``L' = max n'``."""
        real = padding_mask(n, words.shape[1])  # (B, L)
        keep = real & (torch.rand(words.shape, device=words.device) >= self.config.word_dropout)
        keep[:, 0] |= ~keep.any(1)  # a document left with no word keeps its first
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept positions first, in order
        n = keep.sum(1)  # (B,)
        words = torch.gather(words, 1, order).masked_fill(~padding_mask(n, words.shape[1]), 0)
        return words[:, : int(n.max())], n

    def pooled(self, words: Tensor, words_lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """``(c (B, D), α (B, L) or None)``: the document vectors and the weights that pooled them (in training
        with ``word_dropout``, over the words kept: ``α`` (B, L'))."""
        n = self._lengths(words, words_lengths)  # (B,)
        if self.training and self.config.word_dropout > 0:
            words, n = self.drop_words(words, n)
        h, final = self.rnn(self.drop(self.embed(words)), lengths=n)  # (B, L, D), 0 on padding
        pooling = self.config.pooling
        if pooling == "last":  # R7: h_n of each direction (forward after word n, backward after word 1)
            h_n = final[0] if isinstance(final, tuple) else final  # (dirs, B, H): one layer
            return torch.cat(list(h_n), -1), None  # (B, D)
        real = padding_mask(n, words.shape[1])  # (B, L), True at the real words
        if pooling == "mean":
            alpha = real.to(h.dtype) / n[:, None].to(h.dtype)  # α_t = 1/n
            return (alpha[:, :, None] * h).sum(1), alpha
        if pooling == "cosine":  # A2: e_t = s · cos(u, K h_t)
            scale = self.log_scale.clamp(max=math.log(100.0)).exp()
            alpha = masked_softmax(scale * cosine_similarity(self.query, self.key(h)), real)  # (B, L)
            return (alpha[:, :, None] * h).sum(1), alpha
        u = self.query.expand(len(words), -1)  # (B, A): the learned query
        c, alpha = self.attend(u, h, key_mask=real)  # R9: α = masked_softmax(vᵀ tanh(W_a u + U_a h_t)), c = Σ α h
        if pooling == "hard":  # A11: one word's state, straight-through gradient
            pick = torch.multinomial(alpha.detach(), 1)[:, 0] if self.training else alpha.argmax(-1)  # t* (B,)
            one_hot = F.one_hot(pick, alpha.shape[1]).to(h.dtype)  # (B, L)
            hard = (one_hot[:, :, None] * h).sum(1)  # h_{t*} (B, D)
            return c + (hard - c).detach(), one_hot
        return c, alpha

    def logits(self, words: Tensor, words_lengths: Tensor | None = None) -> Tensor:
        """F1: ``W c + b`` → ``(B, K)``."""
        c, _ = self.pooled(words, words_lengths)
        return self.head(self.drop(c))

    def forward(self, words: Tensor, y: Tensor, words_lengths: Tensor | None = None) -> ClassifierOutput:
        """F2: mean cross-entropy of the class, and the batch's accuracy."""
        logits = self.logits(words, words_lengths)  # (B, K)
        y = check_labels(self, y, len(logits), num_classes=len(self.config.classes))
        return ClassifierOutput(F.cross_entropy(logits, y), accuracy=(logits.detach().argmax(-1) == y).float().mean(),
                                logits=logits)

    @torch.no_grad()
    def predict(self, words: Tensor, words_lengths: Tensor | None = None) -> Tensor:
        """The most probable class per document → ``(B,)`` int64 (uses the current mode)."""
        return self.logits(words, words_lengths).argmax(-1)

    @torch.no_grad()
    def attention(self, words: Tensor, words_lengths: Tensor | None = None) -> Tensor:
        """The pooling weights ``α`` (B, L): summing to 1 over each document's real words, 0 on padding
        (``pooling="mean"``: 1/n); ``pooling="last"`` has none (``ConfigError``)."""
        _, alpha = self.pooled(words, words_lengths)
        if alpha is None:
            raise ConfigError("pooling='last' reads the final states, not weights over the words: train with "
                              "--set model.pooling=attention to see where the model looks")
        return alpha

    def renderer(self) -> Renderer:
        c = self.config

        def attend(words: Tensor) -> Tensor:
            was = self.training
            self.eval()
            try:
                return self.attention(words.to(self.device)).cpu()
            finally:
                self.train(was)

        return AttentionText(vocabulary=tuple(c.vocabulary), joiner=c.joiner, classes=tuple(c.classes),
                             attend=None if c.pooling == "last" else attend)
