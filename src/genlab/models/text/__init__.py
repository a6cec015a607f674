"""Language models on token data (kind ``"tokens"``): the bigram baseline; the recurrent and transformer LMs
build on the same contract (``tokens`` in, per-token loss with ``units``, text out through ``TextFile``). The text
classifier reads labelled documents (kind ``"documents"``: ``words`` → ``y``)."""

from genlab.models.text.bigram import BigramLM, LMOutput, text_defaults
from genlab.models.text.classifier import TextClassifier
from genlab.models.text.kneser_ney import KneserNeyLM
from genlab.models.text.recurrent_lm import GRULM, RNNLM, RecurrentLM
from genlab.models.text.transformer_lm import TransformerLM

__all__ = ["GRULM", "RNNLM", "BigramLM", "KneserNeyLM", "LMOutput", "RecurrentLM", "TextClassifier",
           "TransformerLM", "text_defaults"]
