"""The U-Net pieces (residual block, down/up-sampling, self-attention over pixels), the sinusoidal
embedding shared by transformers and diffusion models, and ``eval_mode``."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genlab.blocks import (
    Downsample,
    ResidualBlock,
    SelfAttention2d,
    Upsample,
    eval_mode,
    sinusoidal_embedding,
    sinusoidal_table,
)
from genlab.errors import ConfigError, GenlabError


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def test_residual_block_starts_as_its_skip_path_with_or_without_an_embedding():
    torch.manual_seed(0)
    x, e = torch.randn(2, 8, 5, 5), torch.randn(2, 16)
    same, wider = ResidualBlock(8, 8, groups=4), ResidualBlock(8, 12, embed_dim=16, groups=4)
    torch.testing.assert_close(same(x), x)  # conv₂ = 0: h = x
    torch.testing.assert_close(wider(x, e), wider.skip(x))  # 1×1 projection when the channels change
    assert "emb_proj.weight" in wider.state_dict() and not any("emb_proj" in k for k in same.state_dict())


def test_residual_block_reads_the_embedding_per_channel():
    torch.manual_seed(0)
    block = _randomize(ResidualBlock(4, 4, embed_dim=3, groups=2))
    x = torch.randn(1, 4, 6, 6)
    a, b = block(x, torch.zeros(1, 3)), block(x, torch.ones(1, 3))
    assert not torch.allclose(a, b)
    with pytest.raises(GenlabError, match=r"needs emb of shape \(B, 3\)"):
        block(x)
    with pytest.raises(GenlabError, match="takes no emb"):
        ResidualBlock(4, 4, groups=2)(x, torch.zeros(1, 3))


def test_downsample_halves_rounding_up_and_upsample_returns_to_the_skip_size():
    x = torch.randn(2, 4, 7, 7)
    down = Downsample(4)(x)
    assert down.shape == (2, 4, 4, 4)  # ⌈7/2⌉
    up = Upsample(4)
    assert up(down, size=(7, 7)).shape == (2, 4, 7, 7)
    assert up(down).shape == (2, 4, 8, 8)  # default: twice the input


def test_self_attention_2d_equals_pytorch_multihead_attention_over_the_pixels():
    torch.manual_seed(0)
    C, heads = 8, 2
    attn = _randomize(SelfAttention2d(C, heads=heads, groups=4).double())
    mha = nn.MultiheadAttention(C, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # the 1×1 convolutions are the linear projections
        mha.in_proj_weight.copy_(attn.qkv.weight[:, :, 0, 0])
        mha.in_proj_bias.copy_(attn.qkv.bias)
        mha.out_proj.weight.copy_(attn.proj_out.weight[:, :, 0, 0])
        mha.out_proj.bias.copy_(attn.proj_out.bias)
    x = torch.randn(2, C, 3, 4, dtype=torch.float64)
    seq = attn.norm(x).flatten(2).transpose(1, 2)  # (B, HW, C)
    expected = x + mha(seq, seq, seq, need_weights=False)[0].transpose(1, 2).reshape(x.shape)
    torch.testing.assert_close(attn(x), expected, rtol=1e-10, atol=1e-12)


def test_self_attention_2d_starts_as_the_identity_and_rejects_heads_not_dividing_channels():
    x = torch.randn(1, 8, 4, 4)
    torch.testing.assert_close(SelfAttention2d(8, heads=2, groups=4)(x), x)
    with pytest.raises(ConfigError, match="num_heads dividing 8"):
        SelfAttention2d(8, heads=3, groups=4)


def test_sinusoidal_embedding_is_sin_then_cos_of_geometric_frequencies():
    e = sinusoidal_embedding(torch.tensor([0.0, 1.0]), 8)
    assert e.shape == (2, 8) and e.dtype == torch.float32
    torch.testing.assert_close(e[0], torch.tensor([0.0] * 4 + [1.0] * 4))  # sin 0, cos 0
    freqs = torch.exp(-torch.log(torch.tensor(10000.0)) * torch.arange(4) / 4)
    torch.testing.assert_close(e[1], torch.cat([torch.sin(freqs), torch.cos(freqs)]))


def test_interleaved_embedding_is_the_positional_table_and_a_permutation_of_the_concatenated_one():
    p = torch.arange(9)
    table = sinusoidal_table(p, 6)
    for pos in range(9):
        for i in range(3):
            assert math.isclose(table[pos, 2 * i], math.sin(pos / 10000 ** (2 * i / 6)), abs_tol=1e-12)
    concat = sinusoidal_embedding(p, 6, dtype=torch.float64)
    torch.testing.assert_close(table, concat[:, [0, 3, 1, 4, 2, 5]], rtol=0, atol=0)
    assert sinusoidal_embedding(p, 5).shape == (9, 5) and torch.all(sinusoidal_embedding(p, 5)[:, -1] == 0)


def test_eval_mode_switches_every_module_and_restores_the_mode_even_on_error():
    net = nn.Sequential(nn.Dropout(0.5), nn.Linear(2, 2)).train()
    with eval_mode(net):
        assert not net.training and not net[0].training
    assert net.training and net[0].training
    with pytest.raises(RuntimeError), eval_mode(net):
        raise RuntimeError("boom")
    assert net.training
    net.eval()
    with eval_mode(net):
        pass
    assert not net.training
