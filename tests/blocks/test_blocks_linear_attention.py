"""Linear attention (A8): the linear-cost forms equal the explicit quadratic formula; causality."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.blocks import (
    KVCache,
    LinearAttentionCache,
    LinearMultiHeadAttention,
    MultiHeadAttention,
    causal_linear_attention,
    causal_linear_attention_recurrent,
    elu_feature_map,
    linear_attention,
    linear_attention_quadratic,
    padding_mask,
)
from genlab.errors import ConfigError


def _qkv(B=2, H=2, L=7, d=3, dv=4):
    return (torch.randn(B, H, L, d, dtype=torch.float64), torch.randn(B, H, L, d, dtype=torch.float64),
            torch.randn(B, H, L, dv, dtype=torch.float64))


def test_feature_map_is_elu_plus_one_and_positive():
    x = torch.linspace(-20, 5, 51, dtype=torch.float64)
    torch.testing.assert_close(elu_feature_map(x), F.elu(x) + 1)
    assert (elu_feature_map(x) > 0).all()


def test_non_causal_linear_attention_equals_its_quadratic_formula():
    q, k, v = _qkv()
    key_mask = padding_mask(torch.tensor([7, 4]), 7)
    for km in (None, key_mask):
        torch.testing.assert_close(linear_attention(q, k, v, key_mask=km),
                                   linear_attention_quadratic(q, k, v, key_mask=km), rtol=1e-10, atol=1e-12)
    # and the quadratic formula is A8 written out: Σ_j φ(q_i)ᵀφ(k_j) v_j / Σ_j φ(q_i)ᵀφ(k_j)
    phi_q, phi_k = elu_feature_map(q[0, 0]), elu_feature_map(k[0, 0])
    i = 2
    w = torch.stack([phi_q[i] @ phi_k[j] for j in range(7)])
    expected = (w[:, None] * v[0, 0]).sum(0) / (w.sum() + 1e-6)
    torch.testing.assert_close(linear_attention(q, k, v)[0, 0, i], expected)


@settings(max_examples=15, deadline=None)
@given(L=st.integers(1, 11), chunk=st.integers(1, 5), masked=st.booleans())
def test_recurrent_and_chunked_causal_forms_agree_with_the_quadratic_formula(L, chunk, masked):
    q, k, v = _qkv(L=L)
    key_mask = padding_mask(torch.tensor([L, max(1, L // 2)]), L) if masked else None
    expected = linear_attention_quadratic(q, k, v, causal=True, key_mask=key_mask)
    recurrent = causal_linear_attention_recurrent(q, k, v, key_mask=key_mask)
    chunked = causal_linear_attention(q, k, v, chunk_size=chunk, key_mask=key_mask)
    torch.testing.assert_close(recurrent, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(chunked, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("form", ["chunked", "recurrent"])
def test_causal_linear_attention_hides_future_tokens(form):
    fn = (lambda q, k, v: causal_linear_attention(q, k, v, chunk_size=3)) if form == "chunked" \
        else causal_linear_attention_recurrent
    q, k, v = _qkv(L=8)
    out = fn(q, k, v)
    for i in range(7):
        q2, k2, v2 = (t.clone() for t in (q, k, v))
        for t in (q2, k2, v2):
            t[:, :, i + 1 :] = torch.randn_like(t[:, :, i + 1 :])
        out2 = fn(q2, k2, v2)
        torch.testing.assert_close(out2[:, :, : i + 1], out[:, :, : i + 1], rtol=1e-12, atol=1e-12)
        assert not torch.allclose(out2[:, :, i + 1 :], out[:, :, i + 1 :])


def test_linear_multihead_attention_shares_mha_parameters_and_uses_linear_heads():
    mha, lin = MultiHeadAttention(8, 2).double(), LinearMultiHeadAttention(8, 2, chunk_size=2).double()
    lin.load_state_dict(mha.state_dict())
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    qkv = torch.nn.functional.linear(x, lin.in_proj_weight, lin.in_proj_bias)
    q, k, v = (t.view(2, 5, 2, 4).transpose(1, 2) for t in qkv.chunk(3, -1))
    for causal in (False, True):
        h = linear_attention_quadratic(q, k, v, causal=causal).transpose(1, 2).reshape(2, 5, 8)
        torch.testing.assert_close(lin(x, causal=causal), lin.out_proj(h), rtol=1e-10, atol=1e-12)
    with pytest.raises(ConfigError, match="causal= and key_mask= only"):
        lin(x, bias=torch.zeros(2, 5, 5))


def test_the_recurrent_state_fed_in_pieces_equals_the_causal_formula():
    """LinearAttentionCache (A8's RNN view for generation): S, Z carried across calls of any length."""
    q, k, v = _qkv(L=9)
    state, pieces, t = LinearAttentionCache(), [], 0
    for size in (3, 1, 2, 1, 2):
        pieces.append(state.attend(q[:, :, t : t + size], k[:, :, t : t + size], v[:, :, t : t + size]))
        t += size
    assert state.length == 9 and state.S.shape == (2, 2, 3, 4) and state.Z.shape == (2, 2, 3)
    expected = linear_attention_quadratic(q, k, v, causal=True)
    torch.testing.assert_close(torch.cat(pieces, 2), expected, rtol=1e-10, atol=1e-12)


def test_linear_multihead_attention_decodes_with_its_state_not_a_kv_cache():
    lin = LinearMultiHeadAttention(8, 2).double()
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    cache = LinearAttentionCache()
    steps = torch.cat([lin(x[:, :4], causal=True, cache=cache), lin(x[:, 4:5], causal=True, cache=cache),
                       lin(x[:, 5:], causal=True, cache=cache)], 1)
    torch.testing.assert_close(steps, lin(x, causal=True), rtol=1e-10, atol=1e-12)
    with pytest.raises(ConfigError, match="LinearAttentionCache.*got a KVCache"):
        lin(x, causal=True, cache=KVCache())
