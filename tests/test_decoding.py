"""The sampling rules every LM shares (``genlab.models.text.decoding``): temperature, top-k, top-p, banned ids."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.errors import ConfigError
from genlab.models.text.decoding import filtered_logits, generate, next_token, prompt_ids
from genlab.vocab import Vocabulary

P = torch.tensor([[0.5, 0.25, 0.15, 0.07, 0.03]])  # one row of next-token probabilities
LOGITS = P.log()


def _kept(z: torch.Tensor) -> list[int]:
    return torch.isfinite(z[0]).nonzero().squeeze(1).tolist()


def test_top_k_keeps_the_k_most_probable_tokens():
    assert _kept(filtered_logits(LOGITS, top_k=2)) == [0, 1]
    assert _kept(filtered_logits(LOGITS, top_k=10)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("p, kept", [(0.5, [0]), (0.6, [0, 1]), (0.75, [0, 1]), (0.76, [0, 1, 2]),
                                     (1.0, [0, 1, 2, 3, 4])])
def test_top_p_keeps_the_smallest_set_whose_mass_reaches_p(p, kept):
    z = filtered_logits(LOGITS, top_p=p)
    assert _kept(z) == kept
    renormalized = z.softmax(-1)[0, kept]
    assert torch.allclose(renormalized, P[0, kept] / P[0, kept].sum())  # the kept tokens keep their ratios


def test_temperature_scales_the_logits_and_zero_is_greedy():
    z = filtered_logits(LOGITS, temperature=0.5)
    assert torch.allclose(z.softmax(-1), (P ** 2) / (P ** 2).sum())  # softmax(log p / τ) ∝ p^(1/τ)
    assert next_token(LOGITS.expand(4, -1), temperature=0).tolist() == [0] * 4


def test_banned_ids_are_never_drawn_and_draws_follow_the_distribution():
    g = torch.Generator().manual_seed(0)
    draws = next_token(LOGITS.expand(20000, -1), generator=g, banned=[0])
    assert (draws != 0).all()
    share = torch.bincount(draws, minlength=5).float() / len(draws)
    expected = P[0].clone()
    expected[0] = 0
    assert torch.allclose(share, expected / expected.sum(), atol=0.01)


def test_bad_options_are_one_line_errors():
    for kwargs, message in (({"temperature": -1}, "temperature must be ≥ 0"), ({"top_k": 0}, "top_k must be"),
                            ({"top_p": 1.5}, "top_p must be in")):
        with pytest.raises(ConfigError, match=message):
            generate(lambda ids, c: (LOGITS.expand(len(ids), -1), c), torch.zeros(1, 1, dtype=torch.long), 2, **kwargs)


def test_generate_feeds_the_prompt_once_then_each_new_token():
    calls = []

    def step(ids, context):
        calls.append(ids.shape[1])
        return torch.full((ids.shape[0], 5), -math.inf).index_fill(1, torch.tensor([3]), 0.0), context

    out = generate(step, torch.tensor([[1, 2, 4]]), 4)
    assert out.tolist() == [[1, 2, 4, 3, 3, 3, 3]] and calls == [3, 1, 1, 1]


def test_prompt_ids_name_the_missing_symbols_and_start_from_a_line_break():
    v = Vocabulary(["\n", "a", "b"])
    assert prompt_ids(v, "ab") == v.encode(["a", "b"]) and prompt_ids(v, None) == v.encode(["\n"])
    with pytest.raises(ConfigError, match="lacks: 'c', 'd'"):
        prompt_ids(v, "abcd")
    words = Vocabulary(["where", "is", "mary"])
    assert prompt_ids(words, "where is mary") == words.encode(["where", "is", "mary"])
