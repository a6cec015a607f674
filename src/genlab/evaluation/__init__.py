"""What `genlab eval` and the family-specific uses run on a trained model.

``metrics``: the test-split figures (ELBO, NLL, bits/dim, FID/KID, mode coverage, accuracy) and
``evaluate``; ``uses``: the uses of autoencoders (AE6: embedding, retrieval, denoising, anomalies).
Each function asks the model only for the capabilities it declares (``genlab.models.base``).
"""

from genlab.evaluation.metrics import METRICS, default_metrics, evaluate, parse_metrics

__all__ = ["METRICS", "default_metrics", "evaluate", "parse_metrics"]
