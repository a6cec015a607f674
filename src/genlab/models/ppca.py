"""Probabilistic PCA: a latent-variable model whose marginal likelihood and posterior are exact.

Tipping & Bishop, "Probabilistic Principal Component Analysis", JRSS B, 1999.

    z ~ N(0, I_L),   x | z ~ N(W z + b, σ² I_D)                       (V7, the generative process)
    p(x) = N(x; b, W Wᵀ + σ² I)                                         (V8, in closed form)
    p(z|x) = N(M⁻¹ Wᵀ (x − b), σ² M⁻¹),   M = Wᵀ W + σ² I               (X1, Bayes' rule)

Because every term is Gaussian, the identities of V1 can be checked exactly: for any Gaussian
``q(z) = N(m, S)``, ``ELBO(q) = log p(x) − KL(q ‖ p(z|x)) ≤ log p(x)``, with equality iff ``q = p(z|x)``.

``PPCAModel`` is the same model as a genlab model (``genlab train ppca``): fitted by ``FitSystem`` (maximum
likelihood, in closed form), its ``W``, ``b``, ``σ²`` in buffers, its loss the exact ``−log p(x)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.distributions import MultivariateNormal

from genlab.config import Config, require
from genlab.errors import ConfigError
from genlab.models.base import Encodes, Generative, LatentVariable, ModelOutput, Reconstructs
from genlab.models.closed_form import ClosedFormModel, check_data_shape
from genlab.models.inputs import check_count
from genlab.models.pca import PCA

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData

LOG_2PI = math.log(2 * math.pi)


def kl_gaussians(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> Tensor:
    """V3 (general): ``KL(N(μ1, Σ1) ‖ N(μ2, Σ2)) = ½[log(|Σ2|/|Σ1|) − k + tr(Σ2⁻¹Σ1) + (μ2−μ1)ᵀΣ2⁻¹(μ2−μ1)]``.

    Means ``(..., k)``, covariances ``(..., k, k)`` (broadcast) → ``(...)``.
    """
    k = mu1.shape[-1]
    L2 = torch.linalg.cholesky(cov2)
    d = (mu2 - mu1)[..., None]  # (..., k, 1)
    maha = torch.cholesky_solve(d, L2).mul(d).sum((-2, -1))  # (μ2−μ1)ᵀ Σ2⁻¹ (μ2−μ1)
    trace = torch.cholesky_solve(cov1, L2).diagonal(dim1=-2, dim2=-1).sum(-1)  # tr(Σ2⁻¹ Σ1)
    logdet = torch.logdet(cov2) - torch.logdet(cov1)
    return 0.5 * (logdet - k + trace + maha)


class ProbabilisticPCA:
    """The linear-Gaussian model above with parameters ``W`` ``(D, L)``, ``b`` ``(D,)``, ``σ²`` (a float)."""

    def __init__(self, W: Tensor, b: Tensor, sigma2: float) -> None:
        if W.dim() != 2 or b.shape != (W.shape[0],) or sigma2 <= 0:
            raise ConfigError(f"need W (D, L), b (D,) and σ² > 0; got W {tuple(W.shape)}, "
                              f"b {tuple(b.shape)}, σ² = {sigma2}")
        self.W, self.b, self.sigma2 = W, b, float(sigma2)

    @classmethod
    def fit(cls, x: Tensor, latent_dim: int) -> ProbabilisticPCA:
        """Maximum-likelihood fit (Tipping & Bishop, Eq. 7–8) from the PCA of ``x`` (P5):
        ``σ² = `` mean of the discarded covariance eigenvalues, ``W = V_L (Λ_L − σ² I)^{1/2}``,
        ``b = mean``."""
        X = x.flatten(1)
        m, D = X.shape
        if not 1 <= latent_dim < min(m, D):
            raise ConfigError(f"latent_dim must be in [1, {min(m, D)}), got {latent_dim}")
        pca = PCA().fit(X)
        lam = pca.explained_variance_ * (m - 1) / m  # eigenvalues of the ML covariance XᵀX/m
        sigma2 = lam[latent_dim:].mean()
        W = pca.components_[:latent_dim].T * (lam[:latent_dim] - sigma2).clamp_min(0).sqrt()  # (D, L)
        return cls(W, pca.mean_, float(sigma2))

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    # --- the model's distributions ----------------------------------------------------------
    def marginal(self) -> MultivariateNormal:
        """``p(x) = N(b, W Wᵀ + σ² I)``."""
        D = self.W.shape[0]
        cov = self.W @ self.W.T + self.sigma2 * torch.eye(D, dtype=self.W.dtype)
        return MultivariateNormal(self.b, covariance_matrix=cov)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` → ``(B,)``."""
        return self.marginal().log_prob(x.flatten(1))

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Exact ``p(z|x) = N(M⁻¹Wᵀ(x − b), σ² M⁻¹)``: mean ``(B, L)``, covariance ``(L, L)``."""
        L = self.latent_dim
        M = self.W.T @ self.W + self.sigma2 * torch.eye(L, dtype=self.W.dtype)  # (L, L)
        M_inv = torch.linalg.inv(M)
        mean = (x.flatten(1) - self.b) @ self.W @ M_inv.T  # (B, L)
        return mean, self.sigma2 * M_inv

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        """``log p(x|z) + log p(z)`` for ``x`` ``(B, D)`` and ``z`` ``(..., B, L)`` → ``(..., B)``."""
        D, L = self.W.shape
        resid = x.flatten(1) - z @ self.W.T - self.b  # (..., B, D)
        log_px_z = -0.5 * (D * (LOG_2PI + math.log(self.sigma2)) + resid.pow(2).sum(-1) / self.sigma2)
        log_pz = -0.5 * (L * LOG_2PI + z.pow(2).sum(-1))
        return log_px_z + log_pz

    # --- the bounds of V1 and V8 for a Gaussian q(z) = N(m, S) ------------------------------
    def elbo(self, x: Tensor, q_mean: Tensor, q_cov: Tensor) -> Tensor:
        """V1 in closed form: ``E_q[log p(x|z)] − KL(q ‖ p(z))`` → ``(B,)``; ``q_mean`` ``(B, L)``,
        ``q_cov`` ``(L, L)`` or ``(B, L, L)``.

        ``E_q log p(x|z) = −D/2 log 2πσ² − (‖x − W m − b‖² + tr(W S Wᵀ)) / 2σ²``.
        """
        D, L = self.W.shape
        resid = x.flatten(1) - q_mean @ self.W.T - self.b  # (B, D)
        tr = (self.W @ q_cov @ self.W.T).diagonal(dim1=-2, dim2=-1).sum(-1)  # tr(W S Wᵀ)
        sq = resid.pow(2).sum(-1) + tr
        expected_log_lik = -0.5 * (D * (LOG_2PI + math.log(self.sigma2)) + sq / self.sigma2)
        eye = torch.eye(L, dtype=self.W.dtype)
        return expected_log_lik - kl_gaussians(q_mean, q_cov, torch.zeros_like(q_mean), eye)

    def kl_to_posterior(self, x: Tensor, q_mean: Tensor, q_cov: Tensor) -> Tensor:
        """``KL(q ‖ p(z|x))`` in closed form (V3) → ``(B,)``: the gap ``log p(x) − ELBO(q)`` of V1."""
        post_mean, post_cov = self.posterior(x)
        return kl_gaussians(q_mean, q_cov, post_mean, post_cov)

    def log_importance_weights(self, x: Tensor, k: int, q_mean: Tensor, q_cov: Tensor, *,
                               generator: torch.Generator | None = None) -> Tensor:
        """V5/V8: ``log p(x, z_j) − log q(z_j)``, ``z_j ~ q = N(m, S)`` → ``(B, k)``."""
        B, L = q_mean.shape
        chol = torch.linalg.cholesky(q_cov)  # (L, L) or (B, L, L)
        eps = torch.randn((k, B, L), generator=generator, dtype=q_mean.dtype)
        z = q_mean + (chol @ eps[..., None]).squeeze(-1)  # (k, B, L)
        log_q = MultivariateNormal(q_mean, scale_tril=chol).log_prob(z)  # (k, B)
        return (self.log_joint(x, z) - log_q).T  # (B, k)

    # --- V7 ---------------------------------------------------------------------------------
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """V7: ``z ~ N(0, I)``, ``x = W z + b + σ ε`` → ``(n, D)``."""
        D, L = self.W.shape
        z = torch.randn((n, L), generator=generator, dtype=self.W.dtype)
        eps = torch.randn((n, D), generator=generator, dtype=self.W.dtype)
        return z @ self.W.T + self.b + math.sqrt(self.sigma2) * eps


# --- as a genlab model ------------------------------------------------------------------------------
@dataclasses.dataclass
class PPCAConfig(Config):
    data_shape: tuple[int, ...] = (1, 28, 28)  # shape of one example (C, H, W) or (D,)
    latent_dim: int = 32  # L = dim z, below the data's dimension D

    def __post_init__(self) -> None:
        super().__post_init__()
        check_data_shape(self.data_shape)
        D = math.prod(self.data_shape)
        require(1 <= self.latent_dim < D, f"latent_dim must be in [1, {D - 1}] (below the data's dimension D = {D}), "
                f"got {self.latent_dim}: pass --set model.latent_dim=L with L < {D}")


@dataclasses.dataclass
class PPCAOutput(ModelOutput):
    """``loss = −mean log p(x)`` (nats, exact: V8 in closed form)."""

    elbo: Tensor  # mean ELBO at the exact posterior, which is log p(x) (V1): −loss, the figure `genlab eval` reports


class PPCAModel(ClosedFormModel, Generative, Encodes, Reconstructs, LatentVariable):
    """Probabilistic PCA (V7, V8, X1) as a genlab model, every quantity exact (``ProbabilisticPCA``'s math):

    - ``fit``: the maximum-likelihood ``W``, ``b``, ``σ²`` of the training split (Tipping & Bishop, from P5);
    - ``forward``: ``loss = −mean log p(x)`` in nats, ``p(x) = N(b, W Wᵀ + σ² I)`` (V8 in closed form);
    - ``elbo(x)``: the ELBO with ``q`` = the exact posterior ``p(z|x)`` (X1), which equals ``log p(x)`` (V1);
    - ``log_importance_weights(x, k)``: ``log p(x, z_j) − log q(z_j)``, ``z_j ~ q = p(z|x)`` (V5/V8): each
      equals ``log p(x)``, so the importance-sampled NLL is exact for any ``k``;
    - ``encode(x)``: the posterior mean ``M⁻¹Wᵀ(x − b)`` ``(B, L)``; ``reconstruct(x)``: ``W E[z|x] + b``;
    - ``sample(n)``: V7, ``z ~ N(0, I)``, ``x = W z + b + σ ε``, in the data's shape.

    Buffers (sized from the config): ``W`` ``(D, L)``, ``b`` ``(D,)``, ``sigma2`` (0-d), ``fitted``.
    """

    config_class = PPCAConfig
    trained_as = "ppca"

    def __init__(self, config: PPCAConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        D, L = math.prod(self.config.data_shape), self.config.latent_dim
        self.register_buffer("W", torch.zeros(D, L))
        self.register_buffer("b", torch.zeros(D))
        self.register_buffer("sigma2", torch.ones(()))

    @classmethod
    def data_defaults(cls, data: TensorData) -> dict:
        """The data's shape, and a latent dimension below the data's (32 by default)."""
        shape = tuple(data.x.shape[1:])
        return {"data_shape": shape, "latent_dim": max(1, min(PPCAConfig.latent_dim, math.prod(shape) - 1))}

    @torch.no_grad()
    def fit(self, data: TensorData) -> None:
        """The maximum-likelihood fit of the training split's ``x`` (``ProbabilisticPCA.fit``), kept in the buffers."""
        fitted = ProbabilisticPCA.fit(self.training_x(data), self.config.latent_dim)
        self.W.copy_(fitted.W)
        self.b.copy_(fitted.b)
        self.sigma2.fill_(fitted.sigma2)
        self.mark_fitted()

    def _ppca(self) -> ProbabilisticPCA:
        return ProbabilisticPCA(self.W, self.b, float(self.sigma2))

    # --- the likelihood and the bounds ------------------------------------------------------
    def forward(self, x: Tensor, y: Tensor | None = None) -> PPCAOutput:
        """V8: ``loss = −mean log p(x)`` (nats), exact."""
        log_px = self._ppca().log_prob(self.checked(x))  # (B,)
        return PPCAOutput(loss=-log_px.mean(), elbo=log_px.mean())

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` per example (nats) → ``(B,)``."""
        return self._ppca().log_prob(self.checked(x))

    def elbo(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """V1 at ``q = p(z|x)`` (the exact posterior, X1) → ``(B,)``: equal to ``log p(x)`` (no sampling: the
        ``generator`` is not used)."""
        x, ppca = self.checked(x), self._ppca()
        return ppca.elbo(x, *ppca.posterior(x))

    def log_importance_weights(self, x: Tensor, k: int, *, generator: torch.Generator | None = None) -> Tensor:
        """V5/V8 with ``q = p(z|x)``: ``log p(x, z_j) − log p(z_j|x)`` for ``k`` draws per example → ``(B, k)``."""
        x, k, ppca = self.checked(x), check_count(k, what="k"), self._ppca()
        return ppca.log_importance_weights(x, k, *ppca.posterior(x), generator=generator)

    # --- codes and reconstructions ----------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean ``E[z|x] = M⁻¹Wᵀ(x − b)`` → ``(B, L)``."""
        return self._ppca().posterior(self.checked(x))[0]

    def reconstruct(self, x: Tensor) -> Tensor:
        """``W E[z|x] + b`` in the data's shape; ``x`` may hold any real values (noisy inputs)."""
        ppca = self._ppca()
        z = ppca.posterior(self.checked(x, unit_interval=False))[0]  # (B, L)
        return (z @ ppca.W.T + ppca.b).view(-1, *self.config.data_shape)

    # --- V7 ---------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """V7: ``z ~ N(0, I)``, ``x = W z + b + σ ε`` → ``(n, *data_shape)`` in the buffers' dtype."""
        n = check_count(n)
        self.require_fitted()
        return self._ppca().sample(n, generator=generator).view(n, *self.config.data_shape)
