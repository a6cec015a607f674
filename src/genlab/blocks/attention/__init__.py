"""Attention: additive (R9), scaled dot-product with masks (A1–A3), multi-head (A4) over sequences and
over the pixels of a feature map, linear (A8), relative position bias (A9), non-local (A10) and hard
attention (A11)."""

from genlab.blocks.attention.additive import AdditiveAttention, AttentionOutput
from genlab.blocks.attention.dot_product import (
    attention_reference,
    attention_weights,
    cosine_similarity,
    hard_attention,
    scaled_dot_product_attention,
)
from genlab.blocks.attention.linear import (
    LinearAttentionCache,
    LinearMultiHeadAttention,
    causal_linear_attention,
    causal_linear_attention_recurrent,
    elu_feature_map,
    linear_attention,
    linear_attention_quadratic,
)
from genlab.blocks.attention.masks import attention_mask, causal_mask, masked_softmax, padding_mask
from genlab.blocks.attention.multihead import KVCache, MultiHeadAttention
from genlab.blocks.attention.nonlocal_block import NonLocalBlock, non_local
from genlab.blocks.attention.relative import RelativePositionBias
from genlab.blocks.attention.spatial import SelfAttention2d

__all__ = [
    "AdditiveAttention", "AttentionOutput", "KVCache", "LinearAttentionCache", "LinearMultiHeadAttention",
    "MultiHeadAttention",
    "NonLocalBlock", "RelativePositionBias", "SelfAttention2d", "attention_mask", "attention_reference",
    "attention_weights",
    "causal_linear_attention", "causal_linear_attention_recurrent", "causal_mask", "cosine_similarity",
    "elu_feature_map", "hard_attention", "linear_attention", "linear_attention_quadratic",
    "masked_softmax", "non_local", "padding_mask", "scaled_dot_product_attention",
]
