"""Sequence-to-sequence models (``Transduces``): an attentive recurrent encoder–decoder (R9) and a transformer
encoder–decoder (A6), decoded greedily or by beam search; ``cmudict`` (G2P) and ``dates``."""

from genlab.models.seq2seq.rnn import AttentionSeq2Seq, AttentionSeq2SeqConfig
from genlab.models.seq2seq.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig

__all__ = ["AttentionSeq2Seq", "AttentionSeq2SeqConfig", "TransformerSeq2Seq", "TransformerSeq2SeqConfig"]
