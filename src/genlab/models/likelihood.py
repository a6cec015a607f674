"""Likelihoods of the latent-variable models: the importance-sampled marginal likelihood (V8) and bits
per dimension.

Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", 2015, arXiv:1509.00519.

For a latent-variable model ``p(x) = ∫ p(x|z) p(z) dz`` and a proposal ``q(z|x)``,

    log p(x) ≈ L_K = log 1/K Σ_k p(x, z_k)/q(z_k|x),   z_k ~ q(z|x),

a lower bound in expectation (``E L_1 = ELBO ≤ E L_K ≤ E L_{K+1} ≤ log p(x)``) that converges to
``log p(x)`` as ``K → ∞``, and is exact for every ``K`` when ``q`` is the true posterior ``p(z|x)``.
A model only has to expose ``log_importance_weights(x, k) -> (B, k)`` = ``log p(x, z_k) − log q(z_k|x)``.
The models use these (the IWAE trains on ``iwae_bound``, the diffusion bounds report ``bits_per_dim``);
``genlab.metrics.likelihood`` re-exports them for evaluation.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from genlab.errors import ConfigError, GenlabError, ShapeError

LOG2 = math.log(2.0)


@runtime_checkable
class ImportanceWeighted(Protocol):
    """The capability ``log_likelihood`` needs: ``log_importance_weights(x, k)`` → ``(B, k)`` log weights (genlab's
    ``LatentVariable`` models, or any module that has the method)."""

    def log_importance_weights(self, x: Tensor, k: int) -> Tensor: ...


def iwae_bound(log_w: Tensor) -> Tensor:
    """V8: ``log 1/K Σ_k exp(log_w_k)`` over the last axis, by log-sum-exp: ``(..., K)`` → ``(...)``."""
    return torch.logsumexp(log_w, dim=-1) - math.log(log_w.shape[-1])


@torch.no_grad()
def log_likelihood(model: ImportanceWeighted, x: Tensor, k: int = 5000, *, batch_size: int = 100,
                   chunk: int = 500, generator: torch.Generator | None = None,
                   progress: bool = False) -> Tensor:
    """V8: per-example importance-sampled ``log p(x)`` (nats) with ``k`` samples → ``(N,)`` float64.

    Batched over the data (``batch_size`` examples at a time) and chunked over the samples (``chunk``
    at a time) with a running log-sum-exp, so memory is that of ``batch_size × chunk`` samples whatever
    ``k`` is. The model is evaluated in eval mode (restored afterwards). ``generator`` is passed to
    ``model.log_importance_weights`` when given; ``progress`` shows a ``tqdm`` bar.
    """
    for name, value in (("k", k), ("batch_size", batch_size), ("chunk", chunk)):
        if value < 1:
            raise ConfigError(f"{name} must be ≥ 1, got {value}")
    if len(x) == 0:
        raise ShapeError(f"log_likelihood got an empty batch x {tuple(x.shape)}: pass at least one example")
    if not isinstance(model, ImportanceWeighted):
        raise GenlabError(f"{type(model).__name__} has no log_importance_weights(x, k): the importance-"
                          f"sampled likelihood needs a latent-variable model with an encoder q(z|x)")
    kwargs = {} if generator is None else {"generator": generator}
    n_chunks = math.ceil(k / chunk)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=math.ceil(len(x) / batch_size) * n_chunks, desc=f"log p(x), k={k}", unit="chunk")
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()  # type: ignore[attr-defined]
    try:
        out = []
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size]
            acc = torch.full((len(xb),), -math.inf, dtype=torch.float64, device=xb.device)  # running lse
            for j in range(0, k, chunk):
                kc = min(chunk, k - j)
                log_w = model.log_importance_weights(xb, kc, **kwargs)  # (B, kc)
                if tuple(log_w.shape) != (len(xb), kc):
                    raise GenlabError(f"{type(model).__name__}.log_importance_weights(x, {kc}) returned "
                                      f"shape {tuple(log_w.shape)}, expected ({len(xb)}, {kc})")
                acc = torch.logaddexp(acc, torch.logsumexp(log_w.double(), dim=1))
                if bar is not None:
                    bar.update()
            out.append(acc - math.log(k))
        return torch.cat(out)
    finally:
        if bar is not None:
            bar.close()
        if was_training:
            model.train()  # type: ignore[attr-defined]


def bits_per_dim(nll_nats: Tensor | float, dims: int) -> Tensor | float:
    """Negative log-likelihood in nats per example → bits per dimension, ``nll / (dims · ln 2)``."""
    if dims < 1:
        raise ConfigError(f"dims must be ≥ 1 (the number of values per example, 784 for MNIST), got {dims}")
    return nll_nats / (dims * LOG2)
