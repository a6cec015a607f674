"""genlab.metrics: FID/KID in a domain feature space (``fid``), likelihood bounds (``likelihood``) and
mode coverage of 2-D mixtures (``coverage``)."""

from genlab.metrics.coverage import Coverage, mode_coverage
from genlab.metrics.fid import FIDResult, KIDResult, LeNetFeatures, fid, frechet_distance, kid
from genlab.metrics.likelihood import bits_per_dim, iwae_bound, log_likelihood

__all__ = ["Coverage", "FIDResult", "KIDResult", "LeNetFeatures", "bits_per_dim", "fid", "frechet_distance",
           "iwae_bound", "kid", "log_likelihood", "mode_coverage"]
