"""Language models on token data (kind ``"tokens"``): the bigram baseline; the recurrent and transformer LMs
build on the same contract (``tokens`` in, per-token loss with ``units``, text out through ``TextFile``)."""

from genlab.models.text.bigram import BigramLM, text_defaults

__all__ = ["BigramLM", "text_defaults"]
