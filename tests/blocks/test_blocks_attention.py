"""Attention functions (R9, A1–A3, A9–A11): fused vs reference vs PyTorch, masks, properties."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.blocks import (
    AdditiveAttention,
    NonLocalBlock,
    RelativePositionBias,
    attention_reference,
    causal_mask,
    cosine_similarity,
    hard_attention,
    non_local,
    padding_mask,
    scaled_dot_product_attention,
)
from genlab.errors import ShapeError


def _qkv(B=2, H=3, L=5, S=5, d=4, dtype=torch.float64, requires_grad=False):
    return tuple(torch.randn(B, H, n, d, dtype=dtype, requires_grad=requires_grad) for n in (L, S, S))


def _math_sdpa(q, k, v, attn_mask=None):
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


@settings(max_examples=15, deadline=None)
@given(L=st.integers(1, 6), extra=st.integers(0, 3), causal=st.booleans(), use_key_mask=st.booleans(),
       use_bias=st.booleans())
def test_fused_attention_equals_the_plain_reference_and_pytorch_math_kernel(L, extra, causal, use_key_mask,
                                                                            use_bias):
    S = L + extra  # S > L: queries are the last L positions (cached decoding)
    q, k, v = _qkv(L=L, S=S)
    key_mask = padding_mask(torch.tensor([S, max(1, S - 2)]), S) if use_key_mask else None
    bias = torch.randn(3, L, S, dtype=torch.float64) if use_bias else None
    kw = {"causal": causal, "key_mask": key_mask, "bias": bias}
    fused, ref = scaled_dot_product_attention(q, k, v, **kw), attention_reference(q, k, v, **kw)
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=1e-12)
    allowed = torch.ones(L, S, dtype=torch.bool)
    if causal:
        allowed = torch.ones(L, S, dtype=torch.bool).tril(S - L)  # aligned to the end
    allowed = allowed & (key_mask[:, None, None, :] if key_mask is not None else True)
    additive = torch.zeros(allowed.shape, dtype=torch.float64).masked_fill(~allowed, -math.inf)
    if bias is not None:
        additive = additive + bias
    torch.testing.assert_close(fused, _math_sdpa(q, k, v, additive), rtol=1e-10, atol=1e-12)


def test_causal_mask_is_lower_triangular_and_aligned_to_the_last_keys():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    assert torch.equal(causal_mask(2, 4), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool))


@pytest.mark.parametrize("fn", [scaled_dot_product_attention, attention_reference])
def test_causal_attention_hides_future_tokens(fn):
    q, k, v = _qkv(L=6, S=6)
    out = fn(q, k, v, causal=True)
    for i in range(5):
        k2, v2 = k.clone(), v.clone()
        k2[:, :, i + 1 :] = torch.randn_like(k2[:, :, i + 1 :])  # change everything after i
        v2[:, :, i + 1 :] = torch.randn_like(v2[:, :, i + 1 :])
        q2 = q.clone()
        q2[:, :, i + 1 :] = 0
        out2 = fn(q2, k2, v2, causal=True)
        torch.testing.assert_close(out2[:, :, : i + 1], out[:, :, : i + 1], rtol=1e-12, atol=1e-12)
        assert not torch.allclose(out2[:, :, i + 1 :], out[:, :, i + 1 :])


@pytest.mark.parametrize("fn", [scaled_dot_product_attention, attention_reference])
def test_query_whose_keys_are_all_masked_returns_zeros_and_finite_gradients(fn):
    q, k, v = _qkv(requires_grad=True)
    key_mask = padding_mask(torch.tensor([5, 3]), 5)
    mask = torch.ones(5, 5, dtype=torch.bool)
    mask[1] = False  # query 1 may see nothing
    out = fn(q, k, v, causal=True, key_mask=key_mask, mask=mask)
    assert torch.isfinite(out).all()
    assert torch.all(out[:, :, 1] == 0)
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    assert torch.all(q.grad[:, :, 1] == 0)


def test_key_padding_mask_ignores_padded_keys():
    q, k, v = _qkv()
    key_mask = padding_mask(torch.tensor([5, 2]), 5)
    out = scaled_dot_product_attention(q, k, v, key_mask=key_mask)
    k2, v2 = k.clone(), v.clone()
    k2[1, :, 2:], v2[1, :, 2:] = 100.0, 100.0  # garbage at padded keys of sequence 1
    torch.testing.assert_close(scaled_dot_product_attention(q, k2, v2, key_mask=key_mask), out)
    torch.testing.assert_close(out[1:], scaled_dot_product_attention(q[1:], k[1:, :, :2], v[1:, :, :2]))


def test_attention_rejects_3d_inputs_with_a_hint():
    x = torch.randn(2, 5, 4)
    with pytest.raises(ShapeError, match=r"\(B, H, L, D\)"):
        scaled_dot_product_attention(x, x, x)


def test_cosine_similarity_matches_pytorch_and_ignores_scale():
    a, b = torch.randn(4, 7, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    torch.testing.assert_close(cosine_similarity(a, b), F.cosine_similarity(a, b, dim=-1))
    torch.testing.assert_close(cosine_similarity(3.0 * a, 0.5 * b), cosine_similarity(a, b))
    torch.testing.assert_close(cosine_similarity(a, a), torch.ones(4, dtype=torch.float64))


def test_hard_attention_argmax_is_the_zero_temperature_limit_of_softmax_attention():
    q, k, v = _qkv()
    hard = hard_attention(q, k, v, causal=True)
    cold = attention_reference(q * 1e4, k, v, causal=True)  # scores × 10⁴: softmax → one-hot
    torch.testing.assert_close(hard, cold, rtol=1e-6, atol=1e-6)
    scores = (q @ k.transpose(-2, -1)).masked_fill(~causal_mask(5), -math.inf)
    picked = v.gather(2, scores.argmax(-1)[..., None].expand(-1, -1, -1, 4))
    torch.testing.assert_close(hard, picked)


def test_hard_attention_samples_follow_the_softmax_weights():
    q, k, v = _qkv(B=1, H=1, L=1, S=3, d=2)
    v = torch.eye(3, dtype=torch.float64)[None, None]  # value j is the one-hot vector of j
    g = torch.Generator().manual_seed(0)
    n = 4000  # n copies of the same query: the picked one-hot values count the choices
    picks = hard_attention(q.expand(n, 1, 1, 2), k.expand(n, 1, 3, 2), v.expand(n, 1, 3, 3),
                           mode="sample", generator=g)
    counts = picks.sum(0).view(3)
    weights = torch.softmax((q @ k.transpose(-2, -1)).view(3) / math.sqrt(2), 0)
    torch.testing.assert_close(counts / n, weights, rtol=0, atol=0.03)


def test_additive_attention_follows_r9_and_ignores_masked_positions():
    torch.manual_seed(0)
    attn = AdditiveAttention(query_dim=3, key_dim=4, attention_dim=5).double()
    s, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 6, 4, dtype=torch.float64)
    key_mask = padding_mask(torch.tensor([6, 4]), 6)
    context, weights = attn(s, h, key_mask)
    for b in range(2):  # the formula, position by position
        W_a, U_a, v_a = attn.W_a.weight, attn.U_a.weight, attn.v_a.weight[0]
        scores = torch.stack([v_a @ torch.tanh(W_a @ s[b] + U_a @ h[b, i] + attn.U_a.bias) for i in range(6)])
        scores[~key_mask[b]] = -math.inf
        alpha = torch.softmax(scores, 0)
        torch.testing.assert_close(weights[b], alpha)
        torch.testing.assert_close(context[b], (alpha[:, None] * h[b]).sum(0))
    assert torch.all(weights[1, 4:] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, dtype=torch.float64))
    ctx_all, w_all = attn(torch.stack([s, s], 1), h, key_mask)  # several decoder steps at once
    torch.testing.assert_close(ctx_all[:, 1], context)
    torch.testing.assert_close(w_all[:, 0], weights)


def test_relative_position_bias_depends_only_on_the_clipped_distance():
    rel = RelativePositionBias(num_heads=2, max_distance=2)
    with torch.no_grad():
        rel.weight.copy_(torch.randn_like(rel.weight))
    bias = rel(6)  # (H, L, S)
    assert bias.shape == (2, 6, 6)
    for i in range(6):
        for j in range(6):
            d = max(-2, min(2, i - j))
            torch.testing.assert_close(bias[:, i, j], rel.weight[d + 2])
    torch.testing.assert_close(rel(2, 6), bias[:, 4:])  # queries at the end (cached decoding)


def test_relative_bias_is_added_to_the_dot_product_scores():
    """A9: α(x_i, x_j, i − j) = x_iᵀ x_j + b_{i−j}, then softmax over j."""
    rel = RelativePositionBias(num_heads=1, max_distance=1).double()
    with torch.no_grad():
        rel.weight.copy_(torch.tensor([[2.0], [0.0], [-1.0]]))
    x = torch.randn(1, 1, 4, 3, dtype=torch.float64)
    out = scaled_dot_product_attention(x, x, x, bias=rel(4), scale=1.0)
    distance = (torch.arange(4)[:, None] - torch.arange(4)).clamp(-1, 1)  # clip(i − j, −K, K)
    scores = x[0, 0] @ x[0, 0].T + rel.weight[distance + 1, 0]
    torch.testing.assert_close(out[0, 0], torch.softmax(scores, -1) @ x[0, 0])


def test_non_local_operation_is_softmax_of_scaled_dot_products_over_all_positions():
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    alpha = torch.softmax(x @ x.transpose(1, 2) / math.sqrt(3), dim=-1)  # α(x_i, x_j)
    torch.testing.assert_close(non_local(x), alpha @ x)


def test_non_local_block_starts_as_identity_and_is_equivariant_to_pixel_permutations():
    block = NonLocalBlock(4).double()
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(block(x), x)
    with torch.no_grad():
        block.W_z.weight.normal_()
    perm = torch.randperm(15)
    permute = lambda t: t.flatten(2)[:, :, perm].view_as(t)  # noqa: E731
    torch.testing.assert_close(block(permute(x)), permute(block(x)))
    assert not torch.allclose(block(x), x)
