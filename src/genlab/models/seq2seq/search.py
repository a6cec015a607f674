"""Decoding a sequence-to-sequence model: beam search, greedy as its one-hypothesis case.

A decoder is a function ``step(context, prefix) -> (log_probs (N, V), context)``: ``prefix`` (N, t) the ids written
so far, starting with ``<bos>``; ``context`` a dict of tensors whose dim 0 is the row (the encoder's states, a
recurrent decoder's state), which the search reorders as hypotheses are kept or dropped. A recurrent decoder reads
the prefix's last id and its state; a transformer reads the whole prefix.

Beam search with ``K`` hypotheses per source: at each step every live hypothesis is extended by every symbol, and
the ``K`` extensions of largest ``log p(y_1..y_t | x) = Σ_τ log p(y_τ | y_<τ, x)`` are kept; a hypothesis that wrote
``<eos>`` is finished and stays as it is (its only extension costs nothing). The search stops when every
hypothesis is finished or after ``max_length`` symbols (then ``<eos>`` is forced). The best finished hypothesis is
the one of largest ``log p / lp(|y|)`` with the length penalty ``lp(n) = ((5 + n) / 6)^α`` of Wu et al. 2016
(arXiv:1609.08144; ``α = 0``: none, the plain log-probability). ``K = 1`` is greedy decoding exactly: the most
probable symbol at each step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from genlab.errors import ConfigError

Context = dict[str, Tensor]
Step = Callable[[Context, Tensor], tuple[Tensor, Context]]


def check_beam(beam: int) -> int:
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ConfigError(f"beam must be a whole number ≥ 1 (1: greedy), got {beam!r}")
    return beam


def beam_search(step: Step, context: Context, batch: int, *, bos: int, eos: int, beam: int = 1, max_length: int,
                length_penalty: float = 0.0, banned: Sequence[int] = ()) -> tuple[list[list[int]], Tensor]:
    """The best output of each of the ``batch`` sources → ``(ids without <bos>/<eos> per source, their log p (B,))``.

    ``context``: one row per source (the search repeats each row ``beam`` times); ``banned`` ids are never written
    (``<pad>``, ``<unk>``, ``<bos>``)."""
    K = check_beam(beam)
    if max_length < 1:
        raise ConfigError(f"max_length must be ≥ 1 symbol, got {max_length}")
    B = batch
    context = {k: v.repeat_interleave(K, 0) for k, v in context.items()}  # (B·K, ...)
    device = next(iter(context.values())).device if context else torch.device("cpu")
    prefix = torch.full((B * K, 1), bos, dtype=torch.int64, device=device)  # (B·K, 1)
    score = torch.full((B, K), -math.inf, device=device)
    score[:, 0] = 0.0  # one live hypothesis per source at the start (its copies would only repeat it)
    done = torch.zeros(B * K, dtype=torch.bool, device=device)
    length = torch.zeros(B * K, dtype=torch.int64, device=device)  # symbols written, <eos> included
    for t in range(max_length + 1):
        logp, context = step(context, prefix)  # (B·K, V)
        logp = logp.float()
        V = logp.shape[1]
        if banned:
            logp[:, list(banned)] = -math.inf
        if t == max_length:  # out of room: <eos> now
            keep_eos = logp[:, eos].clone()
            logp.fill_(-math.inf)
            logp[:, eos] = keep_eos
        finished = torch.full((V,), -math.inf, device=device)
        finished[eos] = 0.0  # a finished hypothesis stays: one extension, free
        logp = torch.where(done[:, None], finished, logp)
        total = (score.reshape(-1, 1) + logp).reshape(B, K * V)
        score, index = total.topk(K, dim=1)  # (B, K)
        rows = (torch.arange(B, device=device)[:, None] * K + index // V).reshape(-1)  # (B·K,) the parents
        token = (index % V).reshape(-1)  # (B·K,)
        context = {k: v[rows] for k, v in context.items()}
        length = length[rows] + (~done[rows]).long()
        done = done[rows] | (token == eos)
        prefix = torch.cat([prefix[rows], token[:, None]], 1)
        if bool(done.all()):
            break
    penalty = ((5.0 + length.float()) / 6.0) ** length_penalty  # lp(|y|), |y| with <eos>
    ranked = (score.reshape(-1) / penalty).reshape(B, K)
    best = ranked.argmax(1)  # (B,)
    picked = torch.arange(B, device=device) * K + best
    out = []
    for row in prefix[picked, 1:].tolist():
        out.append(row[: row.index(eos)] if eos in row else row)
    return out, score.reshape(-1)[picked]
