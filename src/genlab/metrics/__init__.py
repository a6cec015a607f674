"""genlab.metrics: FID/KID in a domain feature space (``fid``) and likelihood bounds (``likelihood``)."""

from genlab.metrics.fid import FIDResult, KIDResult, LeNetFeatures, fid, frechet_distance, kid
from genlab.metrics.likelihood import bits_per_dim, iwae_bound, log_likelihood

__all__ = ["FIDResult", "KIDResult", "LeNetFeatures", "bits_per_dim", "fid", "frechet_distance", "iwae_bound",
           "kid", "log_likelihood"]
