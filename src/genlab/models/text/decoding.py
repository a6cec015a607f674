"""Choosing the next token from a language model's logits: temperature, top-k and top-p (nucleus) sampling.

``next_token(logits, generator=..., temperature=1.0, top_k=None, top_p=None)`` with logits ``(B, V)``:

- temperature τ: ``softmax(z / τ)`` (τ → 0: greedy; τ = 0 is greedy exactly);
- top-k: only the k largest logits keep their mass (Fan et al. 2018, arXiv:1805.04833);
- top-p: only the smallest set of tokens whose probabilities sum to ≥ p (the most probable first) keeps its mass
  (Holtzman et al. 2019, arXiv:1904.09751); the most probable token always stays;
- ``banned`` ids (``<pad>``, ``<unk>``, ``<bos>``) never drawn.

Shared by every LM of genlab (bigram, recurrent, transformer): one place for the sampling rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from genlab.errors import ConfigError


def check_decoding(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """``ConfigError`` for a temperature < 0, a top-k < 1 or a top-p outside (0, 1]."""
    if not isinstance(temperature, int | float) or temperature < 0:
        raise ConfigError(f"temperature must be ≥ 0 (0: greedy, 1: the model's distribution), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"top_k must be a whole number ≥ 1 (tokens kept), got {top_k!r}")
    if top_p is not None and (not isinstance(top_p, int | float) or not 0 < top_p <= 1):
        raise ConfigError(f"top_p must be in (0, 1] (the probability mass kept), got {top_p!r}")


def filtered_logits(logits: Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                    top_p: float | None = None, banned: Sequence[int] = ()) -> Tensor:
    """``logits`` (B, V) scaled by 1/τ, with the tokens that top-k, top-p or ``banned`` remove set to −∞."""
    z = logits.float().clone()
    if banned:
        z[:, list(banned)] = -math.inf
    if temperature > 0:
        z = z / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = z.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        z = z.masked_fill(z < kth, -math.inf)
    if top_p is not None and top_p < 1:
        sorted_z, order = z.sort(dim=-1, descending=True)  # (B, V)
        probs = sorted_z.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass of the tokens more probable than each
        drop = before >= top_p  # the most probable token has before = 0 < p: always kept
        z = z.scatter(-1, order, sorted_z.masked_fill(drop, -math.inf))
    return z


def next_token(logits: Tensor, *, generator: torch.Generator | None = None, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None, banned: Sequence[int] = ()) -> Tensor:
    """One token id per row of ``logits`` (B, V) → ``(B,)`` int64: greedy at ``temperature`` 0, else a draw."""
    z = filtered_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p, banned=banned)
    if temperature == 0:
        return z.argmax(-1)
    return torch.multinomial(z.softmax(-1), 1, generator=generator).squeeze(1)


def banned_ids(vocabulary) -> list[int]:
    """The special tokens a sample never holds: ``<pad>``, ``<unk>`` and ``<bos>`` (when the vocabulary has them)."""
    from genlab.vocab import BOS, PAD, UNK

    table = vocabulary.to_list()
    return [table.index(s) for s in (PAD, UNK, BOS) if s in table]


#: the options every genlab LM's ``sample`` takes (``genlab sample RUN --prompt ... --tokens ...``)
LM_SAMPLE_OPTIONS = frozenset({"prompt", "tokens", "temperature", "top_k", "top_p"})


def prompt_ids(vocabulary, prompt: str | None, *, start: str = "\n") -> list[int]:
    """The ids of ``prompt`` (characters, or words split on spaces when the vocabulary holds words); an empty or
    absent prompt starts from ``start`` (a line break: where a verse starts). ``ConfigError`` naming the symbols the
    vocabulary lacks (``<unk>`` is never fed silently)."""
    text = prompt if prompt else start
    words = all(len(s) > 1 for s in vocabulary.symbols if s.strip())  # a word vocabulary
    symbols = text.split() if words else list(text)
    missing = sorted({s for s in symbols if s not in vocabulary})
    if missing:
        shown = ", ".join(repr(s) for s in missing[:10])
        raise ConfigError(f"the prompt holds {len(missing)} symbol(s) the model's vocabulary lacks: {shown}; "
                          f"write it with the training text's symbols (genlab sample RUN --prompt ...)")
    return vocabulary.encode(symbols)


def generate(step, prompt: Tensor, tokens: int, *, generator: torch.Generator | None = None,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             banned: Sequence[int] = ()) -> Tensor:
    """Autoregressive generation: ``step(ids (B, t), context) -> (logits (B, V) of the next token, context)`` is
    called on the prompt ``(B, P)`` once, then on each new token alone (a recurrent state or a key/value cache in
    ``context``) → ``(B, P + tokens)``: the prompt, then the ``tokens`` drawn."""
    check_decoding(temperature, top_k, top_p)
    logits, context = step(prompt, None)
    out = [prompt]
    for t in range(tokens):
        new = next_token(logits, generator=generator, temperature=temperature, top_k=top_k, top_p=top_p,
                         banned=banned)[:, None]  # (B, 1)
        out.append(new)
        if t + 1 < tokens:
            logits, context = step(new, context)
    return torch.cat(out, 1)
