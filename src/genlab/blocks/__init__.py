"""genlab.blocks: the layers of the course, each written from its equation (IDs from docs/catalogue.md).

Recurrent (R1–R8), attention and transformers (R9, A1–A11), convolution and pooling (C1–C5, C7),
the pieces of a U-Net (residual block with an optional conditioning vector, down- and up-sampling,
self-attention over pixels), normalization and dropout (N1–N5), softmax/cross-entropy from logits,
the discretized Gaussian likelihood (D4) and gradient clipping (F1–F4), and the notes' hand-derived
backward passes (R2, C6) in ``genlab.blocks.manual``. Blocks with a PyTorch counterpart keep its
parameter names, so ``state_dict``s move both ways. Imports torch only.
"""

from genlab.blocks.attention import (
    AdditiveAttention,
    AttentionOutput,
    KVCache,
    LinearAttentionCache,
    LinearMultiHeadAttention,
    MultiHeadAttention,
    NonLocalBlock,
    RelativePositionBias,
    SelfAttention2d,
    attention_mask,
    attention_reference,
    attention_weights,
    causal_linear_attention,
    causal_linear_attention_recurrent,
    causal_mask,
    cosine_similarity,
    elu_feature_map,
    hard_attention,
    linear_attention,
    linear_attention_quadratic,
    masked_softmax,
    non_local,
    padding_mask,
    scaled_dot_product_attention,
)
from genlab.blocks.causal_conv import TCN, CausalConv1d, TemporalBlock
from genlab.blocks.clip import clip_grad_norm
from genlab.blocks.conv import (
    UpsampleBlock,
    conv2d,
    conv_output_size,
    conv_transpose_output_size,
    same_padding,
)
from genlab.blocks.dropout import Dropout, MCPrediction, mc_predict
from genlab.blocks.embedding import Embedding
from genlab.blocks.init import zero_module
from genlab.blocks.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    discretized_gaussian_log_likelihood,
    log_softmax,
    logsumexp,
    softmax,
)
from genlab.blocks.modes import eval_mode
from genlab.blocks.norm import BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm
from genlab.blocks.pooling import Pool2d, pool2d
from genlab.blocks.positional import (
    LearnedPositions,
    PositionalEncoding,
    SinusoidalPositions,
    sinusoidal_embedding,
    sinusoidal_table,
)
from genlab.blocks.recurrent import (
    GRU,
    LSTM,
    RNN,
    CoupledGateCell,
    CoupledGateRNN,
    GRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    RecurrentCell,
    RecurrentStack,
    ResetBeforeGRUCell,
    RNNCell,
    last_valid,
)
from genlab.blocks.transformer import CausalTransformer, TransformerDecoderBlock, TransformerEncoderBlock
from genlab.blocks.unet import Downsample, ResidualBlock, Upsample

__all__ = [
    # recurrent
    "GRU", "LSTM", "RNN", "CoupledGateCell", "CoupledGateRNN", "GRUCell", "LSTMCell", "LayerNormLSTMCell",
    "RNNCell", "RecurrentCell", "RecurrentStack", "ResetBeforeGRUCell", "last_valid", "Embedding",
    # attention and transformers
    "AdditiveAttention", "AttentionOutput", "KVCache", "LinearAttentionCache", "LinearMultiHeadAttention",
    "MultiHeadAttention",
    "NonLocalBlock", "RelativePositionBias", "SelfAttention2d", "attention_mask", "attention_reference",
    "attention_weights",
    "causal_linear_attention", "causal_linear_attention_recurrent", "causal_mask", "cosine_similarity",
    "elu_feature_map", "hard_attention", "linear_attention", "linear_attention_quadratic", "masked_softmax",
    "non_local", "padding_mask", "scaled_dot_product_attention",
    "LearnedPositions", "PositionalEncoding", "SinusoidalPositions", "sinusoidal_embedding",
    "sinusoidal_table",
    "CausalTransformer", "TransformerDecoderBlock", "TransformerEncoderBlock",
    # convolution and pooling
    "TCN", "CausalConv1d", "TemporalBlock", "UpsampleBlock", "conv2d", "conv_output_size",
    "conv_transpose_output_size", "same_padding", "Pool2d", "pool2d",
    # U-Net pieces
    "Downsample", "ResidualBlock", "Upsample", "zero_module",
    # normalization, dropout, losses, clipping
    "BatchNorm", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "MCPrediction", "mc_predict",
    "binary_cross_entropy_with_logits", "cross_entropy", "log_softmax", "logsumexp", "softmax",
    "discretized_gaussian_log_likelihood", "clip_grad_norm", "eval_mode",
]
