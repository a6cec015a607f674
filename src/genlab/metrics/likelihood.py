"""Importance-sampled marginal likelihood (V8) and bits per dimension, as evaluation metrics.

The math lives with the models that use it (``genlab.models.likelihood``); this module re-exports it
so that ``genlab.metrics.likelihood`` keeps its public names.
"""

from genlab.models.likelihood import LOG2, ImportanceWeighted, bits_per_dim, iwae_bound, log_likelihood

__all__ = ["LOG2", "ImportanceWeighted", "bits_per_dim", "iwae_bound", "log_likelihood"]
