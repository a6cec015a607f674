"""Sampling from a plain autoencoder: a Gaussian mixture fitted to its codes (X1).

An autoencoder has no prior over its codes ``h = f(x)``, so it cannot generate. Fitting a Gaussian
mixture model ``p(h) = Σ_k π_k N(h; μ_k, Σ_k)`` to the codes of the training data and decoding
draws from it turns any autoencoder into a generator ("ex-post density estimation": Ghosh et al.,
"From Variational to Deterministic Autoencoders", 2019, arXiv:1903.12436).

The mixture is fitted by scikit-learn's ``GaussianMixture`` (EM) and kept as buffers of a
``GaussianMixturePrior`` module, so ``save_pretrained`` stores it in ``model.safetensors`` (no pickle).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError, GenlabError
from genlab.models.gaussian import standard_normal

if TYPE_CHECKING:
    from genlab.models.autoencoders.core import Autoencoder

log = logging.getLogger(__name__)


class CodePriorNotFitted(GenlabError, RuntimeError):
    """``sample`` was called on an autoencoder whose code prior has not been fitted yet."""


class GaussianMixturePrior(nn.Module):
    """X1: ``p(h) = Σ_k π_k N(h; μ_k, Σ_k)`` over codes ``h ∈ R^L``, stored as buffers.

    Buffers: ``weights`` ``(K,)`` = π, ``means`` ``(K, L)`` = μ, ``scale_tril`` ``(K, L, L)`` = the
    Cholesky factors of Σ, ``fitted`` (0-d, 1 once ``fit`` ran).
    """

    def __init__(self, n_components: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("weights", torch.full((n_components,), 1.0 / n_components))
        self.register_buffer("means", torch.zeros(n_components, dim))
        self.register_buffer("scale_tril", torch.eye(dim).expand(n_components, dim, dim).clone())
        self.register_buffer("fitted", torch.zeros((), dtype=torch.uint8))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted.item())

    @torch.no_grad()
    def fit(self, h: Tensor, *, seed: int = 0, reg_covar: float = 1e-6) -> GaussianMixturePrior:
        """Fit the mixture to codes ``h`` ``(N, L)`` by EM (scikit-learn, full covariances).

        EM runs with one BLAS thread: its matrices are small, and on a busy machine more threads
        make it several times slower.
        """
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        K, L = self.means.shape
        if h.dim() != 2 or h.shape[1] != L:
            raise ConfigError(f"expected codes of shape (N, {L}), got {tuple(h.shape)}")
        if len(h) < K:
            raise ConfigError(f"fitting a {K}-component mixture needs at least {K} codes, got {len(h)}: "
                              f"pass more data or fewer components")
        gmm = GaussianMixture(K, covariance_type="full", reg_covar=reg_covar, random_state=seed)
        with threadpool_limits(limits=1):
            gmm.fit(h.detach().double().cpu().numpy())
        dev, dt = self.means.device, self.means.dtype
        self.weights.copy_(torch.as_tensor(gmm.weights_, dtype=dt, device=dev))
        self.means.copy_(torch.as_tensor(gmm.means_, dtype=dt, device=dev))
        cov = torch.as_tensor(gmm.covariances_, dtype=torch.float64)  # (K, L, L)
        self.scale_tril.copy_(torch.linalg.cholesky(cov).to(dev, dt))
        self.fitted.fill_(1)
        log.info("fitted a %d-component Gaussian mixture to %d codes (converged: %s)", K, len(h),
                 gmm.converged_)
        return self

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` codes: ``k ~ Cat(π)``, ``h = μ_k + L_k ε``, ``ε ~ N(0, I)`` → ``(n, L)``, in the dtype
        and on the device of the mixture's buffers (they follow ``model.double()``, ``model.to(device)``)."""
        if not self.is_fitted:
            raise CodePriorNotFitted("this autoencoder has no code prior yet, so it cannot sample: call "
                                     "genlab.models.autoencoders.fit_code_prior(model, train_x) (or "
                                     "model.after_fit(train_x)) first")
        k = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=generator)  # (n,)
        eps = standard_normal((n, self.means.shape[1]), like=self.means, generator=generator)  # (n, L)
        k = k.to(self.means.device)
        return self.means[k] + (self.scale_tril[k] @ eps[..., None]).squeeze(-1)

    def log_prob(self, h: Tensor) -> Tensor:
        """``log p(h)`` under the mixture → ``(N,)``."""
        comps = torch.distributions.MultivariateNormal(self.means, scale_tril=self.scale_tril)
        return torch.logsumexp(comps.log_prob(h[:, None]) + self.weights.log(), dim=1)  # (N, K) → (N,)


@torch.no_grad()
def encode_all(model: nn.Module, x: Tensor, *, batch_size: int = 1000) -> Tensor:
    """Codes of ``x`` in batches, in eval mode: ``model.encode`` (its first output for VAEs) → ``(N, L)``."""
    was_training = model.training
    model.eval()
    try:
        out = []
        for i in range(0, len(x), batch_size):
            h = model.encode(x[i: i + batch_size].to(next(model.parameters()).device))
            out.append((h[0] if isinstance(h, tuple) else h).flatten(1))
        return torch.cat(out)
    finally:
        model.train(was_training)


def fit_code_prior(model: Autoencoder, x: Tensor, n_components: int | None = None, *, seed: int = 0,
                   max_codes: int | None = 20_000) -> GaussianMixturePrior:
    """X1: fit ``model.code_prior`` (a Gaussian mixture) to the codes of ``x``; then ``model.sample``
    decodes mixture draws. ``n_components`` other than the config's rebuilds the prior and updates
    ``model.config.prior_components`` so that ``save_pretrained``/``load`` keep working. At most
    ``max_codes`` examples of ``x`` (a seeded random subset; ``None``: all) are encoded and fitted."""
    if n_components is not None and n_components != model.config.prior_components:
        if n_components < 1:
            raise ConfigError(f"n_components must be ≥ 1, got {n_components}")
        model.config = model.config.replace(prior_components=n_components)
        model.code_prior = GaussianMixturePrior(n_components, model.config.code_dim).to(model.device)
    if max_codes is not None and len(x) > max_codes:
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:max_codes]]
    return model.code_prior.fit(encode_all(model, x), seed=seed)
