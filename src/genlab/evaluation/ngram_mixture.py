"""A language model's per-character probabilities mixed with those of an adaptive Kneser–Ney n-gram model, as the
text is read (dynamic evaluation's ``dynamic_ngram``).

Both models predict each character of the split from the text before it, and the mixture is their linear
interpolation (Jelinek & Mercer 1980), a weight ``w`` chosen on the validation split:

    p(x_t) = (1 − w) p_LM(x_t | x_<t) + w p_KN(x_t | x_<t)

The n-gram model is ``genlab.models.text.KneserNeyLM`` (modified Kneser–Ney) fitted on the training text, refitted
every ``refit`` characters on the training text followed by the split's text read so far: prequential, as the
dynamically evaluated LM is (a character is scored before either model has counted or trained on it). Its counts
remember long verbatim repeats of the text just read, which the LM's weights adapt to only slowly; on kjv's
validation text the dynamically evaluated 2 × 768 LSTM LM, read as one stream of 128-character rows, scores 1.389
bits/char alone, the adaptive order-10 model 1.583 alone, and their mixture at w = 0.25 1.352 (refit every 20,000
characters; benchmarks/RESULTS.md, ``text_lm_dynamic_ngram``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.data.tensors import TensorData
from genlab.errors import ConfigError


def one_stream(data: TensorData) -> Tensor:
    """The text of ``data``'s ``tokens`` rows ``(N, B + 1)`` as one stream ``(N·B + 1,)`` when consecutive rows
    overlap by one character (a text split read in blocks, as ``kjv``); else a ``ConfigError``."""
    from genlab.models.text.kneser_ney import training_sequences

    tokens = data.fields.get("tokens")
    if tokens is None or tokens.dim() != 2:
        raise ConfigError(f"mixing with an n-gram model reads text: {data.name} has no tokens rows")
    stream = training_sequences(tokens)
    if len(stream) != 1 and len(tokens) > 1:
        raise ConfigError(f"mixing with an n-gram model reads the split as one stream of text; {data.name}'s rows "
                          f"do not continue one another (each row's first character the last of the row before): "
                          f"evaluate without --dynamic-ngram")
    return stream[0]


def adaptive_ngram_log_probs(template: TensorData, history: Tensor, ids: Tensor, *, order: int,
                             refit: int, progress: bool = False) -> Tensor:
    """``log p_KN(ids[t] | history, ids[:t])`` for t = 1..L − 1 → ``(L − 1,)`` float64: an order-``order`` model
    fitted on ``history`` ``(M,)`` (the training text), then every ``refit`` characters on ``history`` followed by
    ``ids[:t]``; ``template``: token data whose ``meta`` holds the vocabulary; ``progress``: a bar over the refits."""
    from genlab.models.text.kneser_ney import KneserNeyLM

    if refit < 1:
        raise ConfigError(f"dynamic_ngram_refit must be ≥ 1 character (how often the n-gram model counts the text "
                          f"read so far), got {refit}")

    def fitted(text: Tensor) -> KneserNeyLM:
        data = TensorData({"tokens": text[None]}, kind="tokens", name=template.name, split="train",
                          meta=template.meta)
        model = KneserNeyLM.for_data(data, {"order": order})
        model.fit(data)
        return model

    full = torch.cat([history, ids])  # (M + L,)
    M, L = len(history), len(ids)
    parts = []
    starts = range(1, L, refit)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"Kneser–Ney {order}-gram, refitted", unit="fit", leave=False)
    for start in starts:  # positions start..end − 1, by a model that has counted ids[:start] only
        end = min(start + refit, L)
        parts.append(fitted(full[:M + start]).stream_log_probs(full[:M + end], start=M + start))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def check_weight(weight: float) -> None:
    """A ``ConfigError`` unless the mixture's weight ``w`` lies in (0, 1)."""
    if not 0 < weight < 1:
        raise ConfigError(f"dynamic_ngram_weight must be in (0, 1) (the n-gram model's share of the mixture), "
                          f"got {weight}")


def mixture_log_probs(lm: Tensor, ngram: Tensor, weight: float) -> Tensor:
    """``log((1 − w) p_LM + w p_KN)`` of each character from the two models' log-probabilities ``(n,)``."""
    check_weight(weight)
    if lm.shape != ngram.shape:
        raise ConfigError(f"the LM scored {len(lm)} characters and the n-gram model {len(ngram)}: they must read "
                          f"the same stream")
    return torch.logaddexp(lm.double() + math.log1p(-weight), ngram.double() + math.log(weight))
