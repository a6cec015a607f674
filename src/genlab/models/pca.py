"""Principal component analysis by the singular value decomposition (P5).

Center ``X`` (``m`` rows), ``X = U Σ Vᵀ``; the components are the first ``k`` right singular vectors
``V_{:,1..k}``, the projection is ``X V_{:,1..k}`` and ``X V_k V_kᵀ`` minimizes ``‖X − X̂‖_F²`` over rank-k
reconstructions (Eckart–Young), with ``‖X − X V_k V_kᵀ‖_F² = Σ_{i>k} σ_i²``. The eigenvalues of the
covariance are ``σ_i² / (m − 1)`` (``explained_variance_``, scikit-learn's convention).
Attribute names follow ``sklearn.decomposition.PCA``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.errors import ConfigError, GenlabError


class PCA:
    """P5: PCA of ``x`` ``(m, *shape)`` (flattened to ``(m, D)``) with ``n_components`` (None: all)."""

    def __init__(self, n_components: int | None = None) -> None:
        if n_components is not None and n_components < 1:
            raise ConfigError(f"n_components must be ≥ 1 or None, got {n_components}")
        self.n_components = n_components

    def fit(self, x: Tensor) -> PCA:
        """Center and take the SVD; sets ``mean_``, ``components_`` ``(k, D)``, ``singular_values_``,
        ``explained_variance_`` ``(k,)``, ``explained_variance_ratio_``, ``noise_variance_``."""
        X = x.flatten(1)
        m, D = X.shape
        k = self.n_components or min(m, D)
        if k > min(m, D):
            raise ConfigError(f"n_components={k} exceeds min(n_samples, n_features) = {min(m, D)}")
        if m < 2:
            raise ConfigError("PCA needs at least 2 examples")
        self.mean_ = X.mean(0)  # (D,)
        Xc = X - self.mean_
        _, S, Vt = torch.linalg.svd(Xc, full_matrices=False)  # U (m, r), Σ (r,), Vᵀ (r, D)
        # sign convention (scikit-learn's svd_flip on Vᵀ): the largest |V_ji| of each component is positive
        signs = torch.sign(Vt.gather(1, Vt.abs().argmax(1, keepdim=True)))  # (r, 1)
        Vt = Vt * signs
        eigenvalues = S**2 / (m - 1)  # covariance eigenvalues
        self.components_ = Vt[:k]  # (k, D)
        self.singular_values_ = S[:k]
        self.explained_variance_ = eigenvalues[:k]
        self.explained_variance_ratio_ = eigenvalues[:k] / eigenvalues.sum()
        rest = eigenvalues[k:]
        self.noise_variance_ = rest.sum() / max(1, min(m, D) - k) if len(rest) else eigenvalues.new_zeros(())
        self._shape = tuple(x.shape[1:])
        return self

    def transform(self, x: Tensor) -> Tensor:
        """Projection ``(x − mean) V_k`` → ``(m, k)``."""
        self._require_fit()
        return (x.flatten(1) - self.mean_) @ self.components_.T

    def inverse_transform(self, z: Tensor) -> Tensor:
        """Reconstruction ``z V_kᵀ + mean`` in the input's shape."""
        self._require_fit()
        return (z @ self.components_ + self.mean_).view(-1, *self._shape)

    def fit_transform(self, x: Tensor) -> Tensor:
        return self.fit(x).transform(x)

    def _require_fit(self) -> None:
        if not hasattr(self, "components_"):
            raise GenlabError("this PCA is not fitted yet: call fit(x) first")
