"""Mode-specific normalization (CTGAN, Xu et al. 2019, arXiv:1907.00503, §4.2) and the encoded rows CTGAN and TVAE
read (G10).

A numeric column's values are fitted by a variational Gaussian mixture (``BayesianGaussianMixture``, a Dirichlet-
process prior with concentration 0.001, at most ``MAX_MODES`` components); components of weight ≤ ``MIN_WEIGHT`` are
dropped. A value ``v`` is then written as its mode ``k`` — drawn from the posterior
``ρ_k ∝ w_k N(v; μ_k, σ_k²)`` — one-hot (``β``), and its place in that mode, ``α = (v − μ_k) / (4 σ_k)`` clipped
to ``[−0.99, 0.99]``; the inverse reads ``k = argmax β`` and ``v = 4 σ_k α + μ_k``. A categorical column is one-hot.

``ModeSpecificNormalizer`` is the numeric half as a scikit-learn transformer (``fit`` / ``transform`` /
``inverse_transform`` on (N, Dn) arrays); ``TableModes`` is the whole table's fitted preprocessing for the models
(``genlab.preprocessing``): its ``transform`` turns the fields ``numeric`` / ``categorical`` into one float field
``x`` (N, D) of the spans ``[α, β]`` per numeric column (β one slot per kept mode, as the reference lays it out;
their counts are the spec's ``modes``) and a one-hot per categorical column, in the file's column order
(``Span``s), keeping ``categorical`` (codes) for the conditional sampler; ``inverse`` maps generated rows back to
data units, inside each numeric column's training range (``lower``, ``upper``: a synthesizer never writes a value
outside it). The fitted mixture is buffers (saved with the weights, never pickled).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor

from genlab.columns import NUMERIC, Column
from genlab.errors import ConfigError
from genlab.models.tabular.table_spec import TablePreprocessor

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData

MAX_MODES = 10  # components of each column's mixture (CTGAN's default)
MIN_WEIGHT = 0.005  # a component lighter than this is dropped
CLIP = 0.99  # |α| ≤ CLIP
SEED = 0  # the mixture's fit and the draw of each value's mode


# --- the numeric columns' formulas (torch; shared by the scikit-learn transformer and the model's preprocessing) ---
def mode_posterior(v: Tensor, weights: Tensor, means: Tensor, stds: Tensor) -> Tensor:
    """ρ (N, Dn, M): the posterior of each value's mode, ``∝ w_k N(v; μ_k, σ_k²)`` over the valid modes (weight
    0 elsewhere). ``v`` (N, Dn); ``weights``, ``means``, ``stds`` (Dn, M)."""
    z = (v[..., None] - means) / stds  # (N, Dn, M)
    log_p = (weights.clamp_min(1e-30).log() - 0.5 * z * z - stds.log()).masked_fill(weights <= 0, -math.inf)
    return log_p.softmax(-1)


def encode_numeric(v: Tensor, weights: Tensor, means: Tensor, stds: Tensor, *,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """(α (N, Dn), k (N, Dn)): each value's mode ``k`` drawn from ``mode_posterior`` and its place ``α`` in it."""
    rho = mode_posterior(v, weights, means, stds)  # (N, Dn, M)
    n, dn, m = rho.shape
    k = torch.multinomial(rho.reshape(n * dn, m).double(), 1, generator=generator).reshape(n, dn) if n * dn else \
        torch.zeros(n, dn, dtype=torch.long)
    mu, sigma = means.gather(1, k.T).T, stds.gather(1, k.T).T  # (N, Dn)
    return ((v - mu) / (4 * sigma)).clamp(-CLIP, CLIP), k


def decode_numeric(alpha: Tensor, k: Tensor, means: Tensor, stds: Tensor) -> Tensor:
    """v (N, Dn) = 4 σ_k α + μ_k, ``α`` clipped to [−1, 1]."""
    return 4 * stds.gather(1, k.T).T * alpha.clamp(-1, 1) + means.gather(1, k.T).T


def fit_mixtures(values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(weights, means, stds), each (Dn, MAX_MODES): one variational Gaussian mixture per column of ``values``
    (N, Dn), weights renormalized over the components heavier than ``MIN_WEIGHT`` (0 for the others)."""
    import warnings

    from sklearn.mixture import BayesianGaussianMixture

    dn = values.shape[1]
    weights, means, stds = torch.zeros(dn, MAX_MODES), torch.zeros(dn, MAX_MODES), torch.ones(dn, MAX_MODES)
    for j in range(dn):
        v = values[:, j].double().numpy().reshape(-1, 1)
        spread = float(v.std()) or 1.0
        if len(set(v.ravel().tolist())) < 2:  # a constant column: one mode at its value
            weights[j, 0], means[j, 0], stds[j, 0] = 1.0, float(v[0, 0]), 1.0
            continue
        gm = BayesianGaussianMixture(n_components=min(MAX_MODES, len(v)), weight_concentration_prior=0.001,
                                     weight_concentration_prior_type="dirichlet_process", max_iter=100, n_init=1,
                                     random_state=SEED)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning on small columns: the fit is still usable
            gm.fit(v)
        w = torch.tensor(gm.weights_, dtype=torch.float64)
        keep = w > MIN_WEIGHT
        c = len(w)
        weights[j, :c] = torch.where(keep, w, 0.0).float() / float(w[keep].sum())
        means[j, :c] = torch.tensor(gm.means_.ravel(), dtype=torch.float32)
        stds[j, :c] = torch.tensor(gm.covariances_.ravel(), dtype=torch.float64).sqrt().clamp_min(1e-3 * spread).float()
    return weights, means, stds


class ModeSpecificNormalizer:
    """CTGAN's mode-specific normalization of numeric columns as a scikit-learn transformer: ``fit(X)`` on
    (N, Dn) numbers, ``transform(X)`` → (N, Σ_j (1 + M)) ``[α_j, β_j]`` per column (β over all ``MAX_MODES``
    components, the dropped ones never chosen), ``inverse_transform`` back. Fitted attributes ``weights_``,
    ``means_``, ``stds_`` (Dn, M) arrays; no pickle needed to keep them (``TableModes`` saves them as buffers).
    A scikit-learn estimator (``get_params``, ``set_output``-free): usable in a ``Pipeline``."""

    def __init__(self, random_state: int = SEED) -> None:
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"random_state": self.random_state}

    def set_params(self, **params: Any) -> ModeSpecificNormalizer:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X, y=None) -> ModeSpecificNormalizer:
        w, m, s = fit_mixtures(torch.as_tensor(_array(X)))
        self.weights_, self.means_, self.stds_ = w.numpy(), m.numpy(), s.numpy()
        self.n_features_in_ = w.shape[0]
        return self

    def transform(self, X):
        v = torch.as_tensor(_array(X), dtype=torch.float32)
        alpha, k = encode_numeric(v, *self._fitted(), generator=torch.Generator().manual_seed(self.random_state))
        beta = torch.nn.functional.one_hot(k, MAX_MODES).float()  # (N, Dn, M)
        return torch.cat([alpha[..., None], beta], -1).reshape(len(v), -1).numpy()

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        z = torch.as_tensor(_array(Z), dtype=torch.float32).reshape(len(Z), -1, 1 + MAX_MODES)
        weights, means, stds = self._fitted()
        k = z[..., 1:].masked_fill(weights <= 0, -math.inf).argmax(-1)
        return decode_numeric(z[..., 0], k, means, stds).numpy()

    def _fitted(self) -> tuple[Tensor, Tensor, Tensor]:
        if not hasattr(self, "weights_"):
            raise ConfigError("ModeSpecificNormalizer is not fitted: call fit(X) on the training data first")
        return tuple(torch.as_tensor(a, dtype=torch.float32) for a in (self.weights_, self.means_, self.stds_))


def _array(X):
    import numpy as np

    a = np.asarray(X, dtype=float)
    if a.ndim != 2:
        raise ConfigError(f"ModeSpecificNormalizer takes a 2-D array (rows, numeric columns), got shape {a.shape}")
    return a


# --- the encoded row ------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Span:
    """A slice ``[start, start + width)`` of an encoded row: ``alpha`` (1 wide, tanh), ``modes`` (β, softmax) or
    ``onehot`` (a categorical column, softmax); ``column`` indexes the numeric or the categorical columns."""

    start: int
    width: int
    kind: Literal["alpha", "modes", "onehot"]
    column: int

    @property
    def end(self) -> int:
        return self.start + self.width


class TableModes(TablePreprocessor):
    """A table's mode-specific normalization (numeric) and one-hots (categorical), fitted on the training split."""

    reads = ("numeric", "categorical")
    trained_as = "ctgan --data penguins"

    def __init__(self, columns: tuple[Column, ...], counts: list[list[int]], modes: list[int] | None = None
                 ) -> None:
        super().__init__(columns, counts)
        dn = len(self.numeric)
        #: the kept components of each numeric column's mixture: its β's width (they come first in the buffers)
        self.modes = [int(m) for m in modes] if modes is not None else [MAX_MODES] * dn
        if len(self.modes) != dn or not all(1 <= m <= MAX_MODES for m in self.modes):
            raise ConfigError(f"preprocessing 'modes' must hold one count in 1..{MAX_MODES} per numeric column ({dn}), "
                              f"got {modes!r}: rebuild it with Model.for_data(train_split)")
        self.register_buffer("weights", torch.zeros(dn, MAX_MODES))  # (Dn, M) w_k; 0: a dropped mode
        self.register_buffer("means", torch.zeros(dn, MAX_MODES))  # (Dn, M) μ_k
        self.register_buffer("stds", torch.ones(dn, MAX_MODES))  # (Dn, M) σ_k
        self.register_buffer("lower", torch.zeros(dn))  # (Dn,) the training split's least value
        self.register_buffer("upper", torch.zeros(dn))  # (Dn,) ... and greatest
        spans, start = [], 0
        numeric_at = categorical_at = 0
        for c in columns:
            if c.type == NUMERIC:
                m = self.modes[numeric_at]
                spans += [Span(start, 1, "alpha", numeric_at), Span(start + 1, m, "modes", numeric_at)]
                start, numeric_at = start + 1 + m, numeric_at + 1
            else:
                spans.append(Span(start, len(c.categories), "onehot", categorical_at))
                start, categorical_at = start + len(c.categories), categorical_at + 1
        self.spans: tuple[Span, ...] = tuple(spans)
        self.width = start  # D, the encoded row's width

    def onehots(self) -> tuple[Span, ...]:
        """The categorical columns' spans, in their order (the conditional vector's layout)."""
        return tuple(s for s in self.spans if s.kind == "onehot")

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "modes": self.modes}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TableModes:
        return cls(*cls.parse_spec(spec), modes=spec.get("modes"))

    @classmethod
    def fit(cls, data: TensorData) -> TableModes:
        numeric = data.fields["numeric"]  # (N, Dn)
        w, m, s = fit_mixtures(numeric)
        first = (w <= 0).to(torch.int8).argsort(dim=1, stable=True)  # (Dn, M): the kept components first, in order
        w, m, s = (t.gather(1, first) for t in (w, m, s))
        modes = cls.empty_for(data, modes=(w > 0).sum(1).clamp_min(1).tolist())
        for buffer, value in (("weights", w), ("means", m), ("stds", s)):
            getattr(modes, buffer).copy_(value)
        if len(numeric):
            modes.lower.copy_(numeric.min(0).values)
            modes.upper.copy_(numeric.max(0).values)
        return modes

    # --- the transform ------------------------------------------------------------------------------------
    def transform(self, fields: dict) -> dict:
        """``numeric`` (N, Dn), ``categorical`` (N, Dc) → ``x`` (N, D) encoded and ``categorical`` kept; each
        value's mode drawn with a fixed seed (the same rows encode the same way every time)."""
        v, codes = fields["numeric"].float(), fields["categorical"]
        alpha, k = encode_numeric(v, self.weights, self.means, self.stds,
                                  generator=torch.Generator().manual_seed(SEED))
        parts = []
        for s in self.spans:
            if s.kind == "alpha":
                parts.append(alpha[:, s.column, None])
            elif s.kind == "modes":
                parts.append(torch.nn.functional.one_hot(k[:, s.column], s.width).float())
            else:
                parts.append(torch.nn.functional.one_hot(codes[:, s.column], s.width).float())
        x = torch.cat(parts, 1) if parts else torch.zeros(len(v), 0)
        return {"x": x, "categorical": codes}

    def inverse(self, fields: dict) -> dict:
        """Encoded rows ``x`` (N, D) → ``numeric`` (N, Dn) in data units, inside [lower, upper], and
        ``categorical`` (N, Dc) codes (the most probable mode and category of each span)."""
        x = fields["x"]
        n = len(x)
        alpha = torch.zeros(n, len(self.numeric), device=x.device)
        k = torch.zeros(n, len(self.numeric), dtype=torch.long, device=x.device)
        codes = torch.zeros(n, len(self.categorical), dtype=torch.long, device=x.device)
        for s in self.spans:
            part = x[:, s.start:s.end]
            if s.kind == "alpha":
                alpha[:, s.column] = part[:, 0]
            elif s.kind == "modes":
                k[:, s.column] = part.argmax(1)  # (only the kept modes have a slot)
            else:
                codes[:, s.column] = part.argmax(1)
        v = decode_numeric(alpha, k, self.means, self.stds)
        return {"numeric": torch.maximum(torch.minimum(v, self.upper), self.lower), "categorical": codes}
