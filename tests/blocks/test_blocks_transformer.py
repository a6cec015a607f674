"""Multi-head attention (A4), positional encodings (A5), transformer blocks (A6) and the cached causal
stack (A7): agreement with torch.nn and the properties the notes state."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genlab.blocks import (
    CausalTransformer,
    LearnedPositions,
    MultiHeadAttention,
    PositionalEncoding,
    RelativePositionBias,
    SinusoidalPositions,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    padding_mask,
    sinusoidal_table,
)
from genlab.blocks.norm import LayerNorm
from genlab.blocks.transformer import FusedLayerNorm
from genlab.errors import ConfigError, ShapeError

E, NH = 8, 2


def _mha_pair():
    ref = nn.MultiheadAttention(E, NH, batch_first=True).double()
    ours = MultiHeadAttention(E, NH).double()
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def test_mha_state_dict_equals_pytorch_multihead_attention():
    ref, ours = nn.MultiheadAttention(E, NH, batch_first=True), MultiHeadAttention(E, NH)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
           [(k, v.shape) for k, v in ref.state_dict().items()]
    ref.load_state_dict(ours.state_dict())


@pytest.mark.parametrize("case", ["self", "cross", "key_padding", "causal", "causal_and_padding"])
def test_mha_outputs_and_gradients_match_pytorch_multihead_attention(case):
    ours, ref = _mha_pair()
    x = torch.randn(2, 5, E, dtype=torch.float64, requires_grad=True)
    mem = torch.randn(2, 7, E, dtype=torch.float64) if case == "cross" else x
    key_mask = padding_mask(torch.tensor([5, 3]), 5) if "padding" in case else None
    causal = case.startswith("causal")
    attn_mask = torch.ones(5, 5, dtype=torch.bool).triu(1) if causal else None  # torch: True = hidden
    expected, _ = ref(x, mem, mem, key_padding_mask=None if key_mask is None else ~key_mask,
                      attn_mask=attn_mask, need_weights=False)
    got = ours(x, mem, mem, causal=causal, key_mask=key_mask)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    w = torch.randn_like(got)
    g_ours = torch.autograd.grad((got * w).sum(), [x, *ours.parameters()])
    g_ref = torch.autograd.grad((expected * w).sum(), [x, *ref.parameters()])
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_mha_without_positions_is_permutation_equivariant():
    mha = MultiHeadAttention(E, NH).double()
    x = torch.randn(2, 6, E, dtype=torch.float64)
    P = torch.randperm(6)
    torch.testing.assert_close(mha(x[:, P]), mha(x)[:, P], rtol=1e-10, atol=1e-12)  # MHA(P X) = P MHA(X)


@pytest.mark.parametrize("combine", ["add", "concat"])
@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_mha_with_positions_is_not_permutation_equivariant(combine, positions):
    table = SinusoidalPositions(E) if positions == "sinusoidal" else LearnedPositions(16, E)
    pe = PositionalEncoding(table, combine).double()
    dim = E if combine == "add" else 2 * E
    mha = MultiHeadAttention(dim, NH).double()
    x = torch.randn(2, 6, E, dtype=torch.float64)
    P = torch.randperm(6)
    assert not torch.allclose(mha(pe(x[:, P])), mha(pe(x))[:, P], atol=1e-6)  # MHA(PX ∥ E) ≠ P MHA(X ∥ E)


def test_sinusoidal_table_follows_the_formula_and_concat_appends_it():
    E_ = sinusoidal_table(torch.arange(7), 6)
    for p in range(7):
        for i in range(3):
            assert math.isclose(E_[p, 2 * i], math.sin(p / 10000 ** (2 * i / 6)), abs_tol=1e-12)
            assert math.isclose(E_[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 6)), abs_tol=1e-12)
    assert sinusoidal_table(torch.arange(3), 5).shape == (3, 5)  # odd dims work
    pe = PositionalEncoding(SinusoidalPositions(6).double(), "concat")
    x = torch.randn(2, 7, 4, dtype=torch.float64)
    out = pe(x)
    assert out.shape == (2, 7, 10)
    torch.testing.assert_close(out[0, :, 4:], E_)
    torch.testing.assert_close(pe(x[:, 3:], offset=3), out[:, 3:])  # offset = position of x[:, 0]


def test_learned_positions_past_max_len_raise_shape_error():
    with pytest.raises(ShapeError, match="max_len"):
        PositionalEncoding(LearnedPositions(4, E))(torch.randn(1, 5, E))


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("causal", [False, True])
def test_encoder_block_matches_pytorch_transformer_encoder_layer(norm_first, causal):
    ref = nn.TransformerEncoderLayer(E, NH, 16, dropout=0.1, batch_first=True, norm_first=norm_first).double()
    ours = TransformerEncoderBlock(E, NH, 16, dropout=0.1, norm_first=norm_first).double()
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    ours.eval(), ref.eval()
    x = torch.randn(2, 5, E, dtype=torch.float64)
    key_mask = padding_mask(torch.tensor([5, 4]), 5)
    mask = torch.ones(5, 5, dtype=torch.bool).triu(1) if causal else None  # torch: True = hidden
    expected = ref(x, src_mask=mask, src_key_padding_mask=~key_mask, is_causal=causal)
    torch.testing.assert_close(ours(x, causal=causal, key_mask=key_mask), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
def test_decoder_block_matches_pytorch_transformer_decoder_layer(norm_first):
    ref = nn.TransformerDecoderLayer(E, NH, 16, batch_first=True, norm_first=norm_first).double().eval()
    ours = TransformerDecoderBlock(E, NH, 16, norm_first=norm_first).double().eval()
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    x, memory = torch.randn(2, 5, E, dtype=torch.float64), torch.randn(2, 7, E, dtype=torch.float64)
    memory_mask = padding_mask(torch.tensor([7, 5]), 7)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    expected = ref(x, memory, tgt_mask=tgt_mask, memory_key_padding_mask=~memory_mask, tgt_is_causal=True)
    got = ours(x, memory, memory_mask=memory_mask)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_the_blocks_fused_layer_norm_equals_the_written_out_formula_in_values_gradients_and_state_dict():
    """N3 through F.layer_norm (the blocks' fast path) against LayerNorm's H' = γ (H − μ)/√(σ² + ε) + β."""
    ref = LayerNorm(E, eps=1e-6).double()
    with torch.no_grad():
        ref.weight.normal_(), ref.bias.normal_()
    ours = FusedLayerNorm(E, eps=1e-6).double()
    ours.load_state_dict(ref.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict()) == ["weight", "bias"]
    assert all(isinstance(m, FusedLayerNorm) for m in (TransformerEncoderBlock(E, NH).norm1,
                                                       TransformerDecoderBlock(E, NH).norm3,
                                                       CausalTransformer(E, NH, num_layers=1).norm))
    x = torch.randn(2, 5, E, dtype=torch.float64, requires_grad=True)
    got, expected = ours(x), ref(x)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    w = torch.randn_like(got)
    for a, b in zip(torch.autograd.grad((got * w).sum(), [x, *ours.parameters()]),
                    torch.autograd.grad((expected * w).sum(), [x, *ref.parameters()]), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)
    with pytest.raises(ShapeError, match=r"expects inputs ending in \(8,\)"):
        ours(torch.randn(2, 5, E + 1, dtype=torch.float64))


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_causal_transformer_hides_future_tokens(positions):
    model = CausalTransformer(E, NH, num_layers=2, positions=positions, max_len=16).double().eval()
    x = torch.randn(2, 7, E, dtype=torch.float64)
    out = model(x)
    for i in range(6):
        x2 = x.clone()
        x2[:, i + 1 :] = torch.randn_like(x2[:, i + 1 :])
        out2 = model(x2)
        torch.testing.assert_close(out2[:, : i + 1], out[:, : i + 1], rtol=1e-10, atol=1e-12)
        assert not torch.allclose(out2[:, i + 1 :], out[:, i + 1 :])


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre_norm", "post_norm"])
@pytest.mark.parametrize("step", [1, 3])
def test_cached_generation_equals_full_recomputation(step, norm_first):
    model = CausalTransformer(E, NH, num_layers=2, positions="learned", max_len=16,
                              norm_first=norm_first).double().eval()
    x = torch.randn(2, 8, E, dtype=torch.float64)
    full = model(x)
    cache = model.new_cache()
    pieces = [model(x[:, t : t + step], cache=cache) for t in range(0, 8, step)]
    assert cache[0].length == 8
    torch.testing.assert_close(torch.cat(pieces, 1), full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
def test_encoder_block_with_a_relative_bias_matches_pytorch_given_the_bias_as_a_float_mask(norm_first):
    """A9 in the A6 block: scores x_iᵀx_j/√d + b_{clip(i−j)} (−∞ above the diagonal, A3), per head."""
    ref = nn.TransformerEncoderLayer(E, NH, 16, batch_first=True, norm_first=norm_first).double().eval()
    ours = TransformerEncoderBlock(E, NH, 16, norm_first=norm_first).double().eval()
    ours.load_state_dict(ref.state_dict())
    rel = RelativePositionBias(NH, max_distance=2).double()
    with torch.no_grad():
        rel.weight.normal_()
    x = torch.randn(3, 6, E, dtype=torch.float64)
    bias = rel(6)  # (H, L, S)
    hidden = torch.ones(6, 6, dtype=torch.bool).triu(1)
    mask = bias.masked_fill(hidden, -math.inf).repeat(3, 1, 1)  # torch: (B·H, L, S) added to the scores
    torch.testing.assert_close(ours(x, causal=True, bias=bias), ref(x, src_mask=mask), rtol=1e-10, atol=1e-12)


VARIANTS = [  # (positions, combine, attention): every combination the stack takes
    ("sinusoidal", "add", "softmax"), ("learned", "add", "softmax"), ("sinusoidal", "concat", "softmax"),
    ("learned", "concat", "softmax"), ("relative", "add", "softmax"), ("none", "add", "softmax"),
    ("sinusoidal", "add", "linear"), ("learned", "concat", "linear"), ("none", "add", "linear"),
]


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre_norm", "post_norm"])
@pytest.mark.parametrize("positions, combine, attention", VARIANTS)
def test_every_stack_variant_is_causal_and_its_cache_equals_recomputation(positions, combine, attention,
                                                                          norm_first):
    model = CausalTransformer(E, NH, num_layers=2, positions=positions, max_len=16, norm_first=norm_first,
                              combine=combine, attention=attention, max_distance=3).double().eval()
    if model.relative is not None:
        with torch.no_grad():
            model.relative.weight.normal_()
    x = torch.randn(2, 7, model.input_dim, dtype=torch.float64)
    full = model(x)
    assert full.shape == (2, 7, E)
    if model.relative is not None:  # the bias b_{clip(i−j)} reaches the scores of every block
        with torch.no_grad():
            model.relative.weight.add_(1.0 * torch.arange(7.0, dtype=torch.float64)[:, None])
        assert not torch.allclose(model(x)[:, 1:], full[:, 1:])
        full = model(x)
    for i in range(6):  # A3: changing the inputs after i changes nothing up to i
        x2 = x.clone()
        x2[:, i + 1 :] = torch.randn_like(x2[:, i + 1 :])
        out2 = model(x2)
        torch.testing.assert_close(out2[:, : i + 1], full[:, : i + 1], rtol=1e-10, atol=1e-12)
        assert not torch.allclose(out2[:, i + 1 :], full[:, i + 1 :])
    cache = model.new_cache()
    pieces = [model(x[:, a:b], cache=cache) for a, b in ((0, 3), (3, 4), (4, 6), (6, 7))]
    assert cache[0].length == 7
    torch.testing.assert_close(torch.cat(pieces, 1), full, rtol=1e-10, atol=1e-12)


def test_concatenated_positions_fill_the_last_position_dim_features_of_d_model():
    """A5 [X ∥ E]: the inputs bring d_model − position_dim features, E the rest; the blocks keep width d_model."""
    model = CausalTransformer(E, NH, num_layers=1, combine="concat", position_dim=3).double().eval()
    assert model.input_dim == E - 3
    seen = []
    model.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    x = torch.randn(2, 5, E - 3, dtype=torch.float64)
    model(x)
    torch.testing.assert_close(seen[0], torch.cat([x, sinusoidal_table(torch.arange(5), 3).expand(2, 5, 3)], -1))
    with pytest.raises(ShapeError, match=r"expects \(B, T, 5\)"):
        model(torch.randn(2, 5, E, dtype=torch.float64))


@pytest.mark.parametrize("options, message", [
    ({"positions": "relative", "attention": "linear"}, "linear attention .* relative position bias"),
    ({"positions": "relative", "combine": "concat"}, "combine='concat' .* needs positions"),
    ({"positions": "none", "combine": "concat"}, "combine='concat' .* needs positions"),
    ({"position_dim": 4}, "position_dim sets the concatenated part"),
    ({"combine": "concat", "position_dim": E}, r"position_dim must be in \[1, d_model"),
    ({"attention": "sparse"}, "attention must be 'softmax' or 'linear'"),
])
def test_the_stack_refuses_options_that_do_not_combine(options, message):
    with pytest.raises(ConfigError, match=message):
        CausalTransformer(E, NH, num_layers=1, **options)
