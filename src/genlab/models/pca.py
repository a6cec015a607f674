"""Principal component analysis by the singular value decomposition (P5).

Center ``X`` (``m`` rows), ``X = U Σ Vᵀ``; the components are the first ``k`` right singular vectors
``V_{:,1..k}``, the projection is ``X V_{:,1..k}`` and ``X V_k V_kᵀ`` minimizes ``‖X − X̂‖_F²`` over rank-k
reconstructions (Eckart–Young), with ``‖X − X V_k V_kᵀ‖_F² = Σ_{i>k} σ_i²``. The eigenvalues of the
covariance are ``σ_i² / (m − 1)`` (``explained_variance_``, scikit-learn's convention).
Attribute names follow ``sklearn.decomposition.PCA``.

``PCAModel`` is the same PCA as a genlab model (``genlab train pca``): fitted by ``FitSystem`` from the
training split, its state in buffers (saved in safetensors), its loss the squared reconstruction error.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genlab.config import Config, require
from genlab.errors import ConfigError, GenlabError
from genlab.models.base import Encodes, ModelOutput, ReconstructionScored, Reconstructs
from genlab.models.closed_form import ClosedFormModel, check_data_shape

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData


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

    @classmethod
    def from_state(cls, mean: Tensor, components: Tensor, shape: tuple[int, ...]) -> PCA:
        """A fitted PCA from its ``mean_`` ``(D,)`` and ``components_`` ``(k, D)`` for examples of ``shape``
        (e.g. a saved model's buffers): ``transform`` and ``inverse_transform`` work as after ``fit``."""
        pca = cls(len(components))
        pca.mean_, pca.components_, pca._shape = mean, components, tuple(shape)
        return pca

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


# --- as a genlab model ------------------------------------------------------------------------------
@dataclasses.dataclass
class PCAConfig(Config):
    data_shape: tuple[int, ...] = (1, 28, 28)  # shape of one example (C, H, W) or (D,)
    n_components: int = 32  # k: the principal components kept

    def __post_init__(self) -> None:
        super().__post_init__()
        check_data_shape(self.data_shape)
        D = math.prod(self.data_shape)
        require(1 <= self.n_components <= D, f"n_components must be in [1, {D}] (the data's dimension D), got "
                f"{self.n_components}: pass --set model.n_components=K with K ≤ {D}")


@dataclasses.dataclass
class PCAOutput(ModelOutput):
    """``loss``: the mean over the batch of ``‖x − x̂‖²`` (summed over the data's dimensions, not averaged)."""


class PCAModel(ClosedFormModel, Reconstructs, Encodes, ReconstructionScored):
    """P5 as a genlab model: ``fit`` is ``PCA(n_components).fit`` of the training split; the code of ``x`` is its
    projection ``(x − mean) V_k`` ``(B, k)``, its reconstruction ``code V_kᵀ + mean``, and the loss (validation's
    ``val/loss``) the squared reconstruction error per example, summed over the ``D`` dimensions and averaged
    over the batch. On the training split its mean is ``Σ_{i>k} σ_i² / m`` (Eckart–Young).

    Buffers (``(k, D)`` from the config): ``mean`` ``(D,)``, ``components`` ``(k, D)`` (rows: ``V_kᵀ``),
    ``singular_values`` ``(k,)``, ``explained_variance`` ``(k,)`` = ``σ_i² / (m − 1)``,
    ``explained_variance_ratio`` ``(k,)``, ``fitted``.
    """

    config_class = PCAConfig
    trained_as = "pca"

    def __init__(self, config: PCAConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        k, D = self.config.n_components, math.prod(self.config.data_shape)
        self.register_buffer("mean", torch.zeros(D))
        self.register_buffer("components", torch.zeros(k, D))
        for name in ("singular_values", "explained_variance", "explained_variance_ratio"):
            self.register_buffer(name, torch.zeros(k))

    @classmethod
    def data_defaults(cls, data: TensorData) -> dict:
        """The data's shape, and at most the data's dimension of components (32 by default)."""
        shape = tuple(data.x.shape[1:])
        return {"data_shape": shape, "n_components": min(PCAConfig.n_components, math.prod(shape))}

    @torch.no_grad()
    def fit(self, data: TensorData) -> None:
        """P5 on the training split's ``x`` ``(m, *data_shape)``: ``PCA(n_components).fit``, kept in the buffers."""
        pca = PCA(self.config.n_components).fit(self.training_x(data))
        for name in ("mean", "components", "singular_values", "explained_variance", "explained_variance_ratio"):
            getattr(self, name).copy_(getattr(pca, name + "_"))
        self.mark_fitted()

    def _pca(self) -> PCA:
        return PCA.from_state(self.mean, self.components, tuple(self.config.data_shape))

    def encode(self, x: Tensor) -> Tensor:
        """The projection ``(x − mean) V_k`` → ``(B, k)``."""
        return self._pca().transform(self.checked(x))

    def reconstruct(self, x: Tensor) -> Tensor:
        """``x̂ = (x − mean) V_k V_kᵀ + mean`` in the data's shape; ``x`` may hold any real values (noisy inputs)."""
        pca = self._pca()
        return pca.inverse_transform(pca.transform(self.checked(x, unit_interval=False)))

    def reconstruction_error(self, x: Tensor) -> Tensor:
        """``‖x − x̂‖²`` per example, summed over the data's dimensions → ``(B,)``."""
        x = self.checked(x)
        pca = self._pca()
        return (x - pca.inverse_transform(pca.transform(x))).flatten(1).pow(2).sum(1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> PCAOutput:
        """``loss``: the mean over the batch of ``‖x − x̂‖²`` (P5's Frobenius error per example)."""
        return PCAOutput(loss=self.reconstruction_error(x).mean())
