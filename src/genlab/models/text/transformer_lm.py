"""The causal transformer language model (A7): a decoder-only transformer over characters (or words), trained on
next-token prediction and sampled autoregressively.

    X = √D · E[w_0 .. w_{T−1}]                 token embeddings (R8, scaled as Vaswani et al. 2017 §3.4)
    X ← X + P   or   X ← [X ∥ P]                positions (A5), or a relative score bias b_{clip(i−j)} (A9)
    X ← Block_l(X), l = 1 … L                   A6 (pre- or post-norm), causal mask (A3), softmax or linear
                                                attention (A8)
    p(w_{t+1} | w_{≤t}) = softmax(W h_t + b)    F1; the loss is its cross-entropy (F2)

The stack is ``genlab.blocks.CausalTransformer``; this module adds the embedding, the head and the text contract of
``models.text.bigram`` (``tokens`` in, mean NLL per predicted non-``<pad>`` token in nats with ``bits`` and
``units``, text out). Options (``TransformerLMConfig``):

- ``positions``: ``"sinusoidal"`` (fixed, A5), ``"learned"`` (a table of ``block_size`` vectors, A5),
  ``"relative"`` (A9: one learned bias per head and clipped distance ``clip(i − j, −K, K)``, ``K =
  max_distance``, shared by all layers, as T5), ``"none"`` (only the causal mask tells order);
- ``combine`` (A5, absolute positions only): ``"add"`` ``X + P``, or ``"concat"`` ``[X ∥ P]`` — ``d_model`` is
  split: the token embedding has ``d_model − position_dim`` features, the positions the other ``position_dim``
  (default ``d_model // 4``), so the blocks keep width ``d_model`` (no projection);
- ``norm``: ``"pre"`` ``X ← X + MHA(LN(X))`` (and a final LN, as GPT-2) or ``"post"`` ``X ← LN(X + MHA(X))`` (A6);
- ``attention``: ``"softmax"`` or ``"linear"`` (A8, φ = elu + 1, causal by prefix sums; not with relative
  positions, whose bias is added to scores that linear attention never forms);
- ``tie_weights``: the head's weight is the embedding table (Press & Wolf 2017, arXiv:1608.05859); it needs
  ``combine="add"`` (the embedding then has ``d_model`` features, as the hidden states).

Generation (``sample``): the prompt is run once into a cache (``CausalTransformer.new_cache()``: keys and values
per layer, or linear attention's recurrent state ``(S, Z)``), then one new token per step. The model sees at most
``block_size`` tokens: once the text outgrows them, each step recomputes the cache from the last ``block_size``
tokens (a sliding window: exactly what the model would compute on that window alone, at ``O(block_size²)`` per
step; a window beyond the trained length is never used). ``sample(cache=False)`` recomputes every step — the
same tokens, slower.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from genlab.blocks import CausalTransformer, Embedding
from genlab.blocks.transformer import position_features
from genlab.config import Config, require
from genlab.errors import ConfigError, ShapeError
from genlab.models.base import Generative, Model
from genlab.models.inputs import check_count
from genlab.models.text.bigram import LMOutput, lm_output, text_defaults
from genlab.models.text.decoding import LM_SAMPLE_OPTIONS, banned_ids, generate, prompt_ids
from genlab.render import Renderer, TextFile
from genlab.vocab import Vocabulary


@dataclasses.dataclass
class TransformerLMConfig(Config):
    vocabulary: tuple[str, ...] = ()  # id → symbol (``Vocabulary.to_list()``), from the data: saved as JSON
    joiner: str = ""  # "" between characters, " " between words (how samples are written)
    block_size: int = 128  # context: the most tokens a prediction sees (from the data: its rows' length − 1)
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 4
    dim_feedforward: int | None = None  # None: 4 · d_model
    dropout: float = 0.1  # embeddings, attention weights, sub-layer outputs and the FFN (training only)
    norm: Literal["pre", "post"] = "pre"  # A6
    positions: Literal["sinusoidal", "learned", "relative", "none"] = "sinusoidal"  # A5, A9
    combine: Literal["add", "concat"] = "add"  # A5: X + P or [X ∥ P]
    position_dim: int | None = None  # features of P when concatenated (None: d_model // 4)
    max_distance: int = 32  # K of the relative positions: distances beyond ±K share a bias (A9)
    attention: Literal["softmax", "linear"] = "softmax"  # A8
    activation: Literal["relu", "gelu"] = "gelu"  # of the feed-forward sub-layer
    tie_weights: bool = False  # the head's weight is the embedding table (combine="add" only)
    length: int = 300  # tokens per sample (sample(tokens=...) overrides)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.vocabulary) >= 3, f"a language model needs a vocabulary of symbols besides <pad>, got "
                                           f"{list(self.vocabulary)[:5]}: build it from token data (--data kjv)")
        for name in ("block_size", "d_model", "num_heads", "num_layers", "max_distance", "length"):
            require(getattr(self, name) >= 1, f"{name} must be ≥ 1, got {getattr(self, name)}")
        require(self.d_model % self.num_heads == 0,
                f"d_model ({self.d_model}) must be a multiple of num_heads ({self.num_heads}): each head reads "
                f"d_model / num_heads features")
        require(self.dim_feedforward is None or self.dim_feedforward >= 1,
                f"dim_feedforward must be ≥ 1 (or null: 4 · d_model), got {self.dim_feedforward}")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        position_features(self.d_model, positions=self.positions, combine=self.combine,
                          position_dim=self.position_dim, attention=self.attention)  # options that do not combine
        require(not (self.tie_weights and self.combine == "concat"),
                "tie_weights shares the embedding table with the head, which reads d_model features; with "
                "combine='concat' the embedding has d_model − position_dim: use combine='add' or tie_weights=false")


class TransformerLM(Model, Generative):
    """A decoder-only transformer over tokens (A7): embedding, ``CausalTransformer``, linear head to next-token
    logits; options in ``TransformerLMConfig`` (positions, norm, attention, weight tying)."""

    config_class = TransformerLMConfig
    inputs = ("tokens",)
    optional_inputs = ("tokens_lengths",)
    kinds = ("tokens",)
    sample_options = LM_SAMPLE_OPTIONS | {"cache"}

    def __init__(self, config: TransformerLMConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.vocab = Vocabulary.from_list(list(c.vocabulary))
        V = len(self.vocab)
        self.stack = CausalTransformer(c.d_model, c.num_heads, c.num_layers, c.dim_feedforward, c.dropout,
                                       positions=c.positions, max_len=c.block_size, norm_first=c.norm == "pre",
                                       activation=c.activation, combine=c.combine, position_dim=c.position_dim,
                                       attention=c.attention, max_distance=c.max_distance)
        D = self.stack.input_dim  # d_model, or d_model − position_dim when positions are concatenated
        self.embed = Embedding(V, D)  # R8
        nn.init.normal_(self.embed.weight, std=D ** -0.5)  # × √D in forward: unit-scale inputs (as P's)
        self.embed_scale = math.sqrt(D)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.d_model, V)  # F1: logits W h + b
        if c.tie_weights:
            self.head.weight = self.embed.weight  # (V, d_model): one table in and out

    @classmethod
    def data_defaults(cls, data) -> dict[str, Any]:
        """The vocabulary and joiner of the data, and ``block_size``: its rows' length − 1 (a row predicts that
        many tokens from the ones before them)."""
        tokens = data.fields.get("tokens")
        return {**text_defaults(data), **({} if tokens is None else {"block_size": tokens.shape[1] - 1})}

    def logits(self, ids: Tensor, cache: list | None = None) -> Tensor:
        """Next-token logits after each position of ``ids`` (B, T) → (B, T, V); with a ``cache``
        (``self.stack.new_cache()``), ``ids`` continue the positions it holds."""
        x = self.drop(self.embed(ids) * self.embed_scale)  # (B, T, D)
        return self.head(self.stack(x, cache=cache))  # (B, T, d_model) → (B, T, V)

    def forward(self, tokens: Tensor, tokens_lengths: Tensor | None = None) -> LMOutput:
        """A7 with F2: position ``t`` of ``tokens[:, :-1]`` predicts ``tokens[:, t + 1]``, seeing only ``≤ t``;
        ``−(1/n) Σ log p(w_{t+1} | w_{≤t})`` over the ``n`` targets that are not ``<pad>`` (nor past a row's
        length)."""
        if tokens.dim() != 2 or tokens.shape[1] < 2:
            raise ShapeError(f"{type(self).__name__} reads rows of token ids (B, T + 1) with T ≥ 1, got "
                             f"{tuple(tokens.shape)}")
        inputs, target = tokens[:, :-1], tokens[:, 1:]  # (B, T), (B, T)
        T = inputs.shape[1]
        if T > self.config.block_size:
            raise ConfigError(f"rows of {T + 1} tokens predict {T} from contexts longer than the model's "
                              f"block_size {self.config.block_size}: load the data with --set data.block_size="
                              f"{self.config.block_size} or less")
        keep = target != self.vocab.pad_id  # (B, T)
        if tokens_lengths is not None:  # positions past a row's length are padding too
            keep &= torch.arange(1, T + 1, device=tokens.device) < tokens_lengths[:, None]
        n = int(keep.sum())
        if n == 0:
            raise ConfigError("a batch with no token to predict: rows need at least 2 tokens that are not <pad>")
        return lm_output(self.logits(inputs)[keep], target[keep])  # the mean over the n targets

    # --- generation ------------------------------------------------------------------------------------
    def _cached_step(self, ids: Tensor, context: tuple[Tensor, list] | None) -> tuple[Tensor, tuple]:
        """The next token's logits after ``ids`` (the prompt, then one token a call), from the cache; when the text
        outgrows ``block_size``, the cache recomputed from the last ``block_size`` tokens (the sliding window)."""
        window = ids if context is None else torch.cat([context[0], ids], 1)  # (n, ≤ block_size + 1)
        if context is None or window.shape[1] > self.config.block_size:
            window = window[:, -self.config.block_size :]
            cache = self.stack.new_cache()
            return self.logits(window, cache)[:, -1], (window, cache)
        cache = context[1]
        return self.logits(ids, cache)[:, -1], (window, cache)  # the new token only: O(window) per step

    def _recomputed_step(self, ids: Tensor, window: Tensor | None) -> tuple[Tensor, Tensor]:
        """The next token's logits recomputed from the last ``block_size`` tokens, without a cache."""
        window = (ids if window is None else torch.cat([window, ids], 1))[:, -self.config.block_size :]
        return self.logits(window)[:, -1], window

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, prompt: str | None = None,
               tokens: int | None = None, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, cache: bool = True) -> Tensor:
        """``n`` texts: the ``prompt`` (a line break when none), then ``tokens`` drawn tokens (default
        ``config.length``) → ``(n, P + tokens)`` int64 (``models.text.decoding``: temperature, top-k, top-p).
        ``cache=False`` recomputes the window at every step (the same tokens; a check of the cache)."""
        n = check_count(n)
        tokens = self.config.length if tokens is None else check_count(tokens, what="tokens")
        start = torch.tensor(prompt_ids(self.vocab, prompt), dtype=torch.int64, device=self.device)
        step = self._cached_step if cache else self._recomputed_step
        was_training = self.training
        self.eval()  # no dropout while sampling
        try:
            return generate(step, start.expand(n, -1), tokens, generator=generator, temperature=temperature,
                            top_k=top_k, top_p=top_p, banned=banned_ids(self.vocab))
        finally:
            self.train(was_training)

    def renderer(self) -> Renderer:
        return TextFile(vocabulary=tuple(self.config.vocabulary), joiner=self.config.joiner)
