"""``GaussianCopula``: a mixed-type table as a Gaussian copula over its columns' own marginals — the closed-form
baseline of the synthetic tables (G10; Sklar's theorem; the model of SDV's ``GaussianCopula``).

Each column ``j`` is mapped to a normal score ``s_j = Φ⁻¹(u_j)``:

- numeric: ``u_j`` its value's mid-rank in the training split, ``(rank − ½) / N`` (the empirical CDF);
- categorical: categories in code order cut [0, 1] into intervals of their training frequencies; ``u_j`` is drawn
  uniformly inside its category's interval (seeded).

The scores' correlation matrix ``R`` (D × D, D = all columns) is the copula. Sampling draws ``s ~ N(0, R)`` and
maps ``u = Φ(s)`` back through each column's inverse: numeric by interpolating ``quantiles`` of the training values
(``Q`` levels, so numbers stay inside the training range), categorical by the interval ``u`` falls in (only
categories seen in training). Fitted in one pass (``FitSystem``); ``forward``'s loss is the copula's negative log
density of the rows' normal scores, ``½ sᵀ(R⁻¹ − I)s + ½ log|R|`` per row (nats; the marginals are exact, so this
is the part of the likelihood the dependence model carries).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from genlab.config import Config, require
from genlab.models.base import ClosedForm, Generative, Model, ModelOutput
from genlab.models.inputs import check_count
from genlab.models.tabular.render import TableCSV
from genlab.models.tabular.scaler import TableScaler

EPS = 1e-6  # u kept inside (EPS, 1 − EPS); R's ridge
SEED = 0  # the draw of u inside a category's interval


@dataclasses.dataclass
class GaussianCopulaConfig(Config):
    #: levels of each numeric column's stored quantile function (its inverse CDF)
    quantiles: int = 1000
    #: the fitted ``TableScaler``'s spec (columns, category counts): written by ``for_data(train_split)``
    preprocessing: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.quantiles >= 2, f"quantiles must be ≥ 2, got {self.quantiles}")


@dataclasses.dataclass
class CopulaOutput(ModelOutput):
    pass


class GaussianCopula(Model, ClosedForm, Generative):
    """Gaussian copula with empirical marginals (see the module's docstring)."""

    config_class = GaussianCopulaConfig
    inputs = ("numeric", "categorical")
    optional_inputs = ()
    kinds = ("table",)
    preprocessor_class = TableScaler

    def __init__(self, config: GaussianCopulaConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        scaler: TableScaler = self.preprocessor
        dn, sizes = len(scaler.numeric), [len(c.categories) for c in scaler.categorical]
        d = dn + len(sizes)
        self.register_buffer("levels", torch.linspace(0, 1, self.config.quantiles))  # (Q,) p
        self.register_buffer("quantile", torch.zeros(dn, self.config.quantiles))  # (Dn, Q) standardized units
        edges = torch.zeros(len(sizes), max(sizes, default=0) + 1)  # (Dc, K_max + 1) cumulative frequencies
        for j, counts in enumerate(scaler.counts):
            c = torch.tensor(counts, dtype=torch.float64).cumsum(0)
            edges[j, 1:len(counts) + 1] = (c / c[-1]).float()
            edges[j, len(counts) + 1:] = 1.0
        self.register_buffer("edges", edges, persistent=False)  # from the config's counts
        self.register_buffer("correlation", torch.eye(d))  # (D, D) R
        self.register_buffer("fitted", torch.zeros((), dtype=torch.uint8))

    # --- the marginals ------------------------------------------------------------------------------------
    def scores(self, numeric: Tensor, categorical: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """s (N, D): the normal scores of the rows' columns, numeric first, then categorical."""
        normal = torch.distributions.Normal(0.0, 1.0)
        columns = numeric.T.contiguous()  # (Dn, N)
        u_num = torch.stack([_cdf(columns[j], self.quantile[j], self.levels) for j in range(len(columns))], 1) \
            if len(columns) else numeric.new_zeros(len(numeric), 0)
        lo = self.edges.gather(1, categorical.T).T  # (N, Dc) the interval's start
        hi = self.edges.gather(1, categorical.T + 1).T
        u_cat = lo + (hi - lo) * torch.rand(lo.shape, generator=generator)
        u = torch.cat([u_num, u_cat], 1).clamp(EPS, 1 - EPS)
        return normal.icdf(u)

    def fit(self, data) -> None:
        """Quantile functions of the numeric columns and the correlation of the normal scores (closed form)."""
        numeric, categorical = data.fields["numeric"].float(), data.fields["categorical"]
        if numeric.shape[1]:
            self.quantile.copy_(torch.quantile(numeric.T, self.levels, dim=1).T)
        n = len(numeric)
        ranks = numeric.argsort(0).argsort(0).float()  # (N, Dn)
        u_num = (ranks + 0.5) / n
        s = torch.cat([torch.distributions.Normal(0.0, 1.0).icdf(u_num.clamp(EPS, 1 - EPS)),
                       self.scores(numeric[:, :0], categorical, generator=torch.Generator().manual_seed(SEED))], 1)
        r = torch.corrcoef(s.T.double()) if s.shape[1] > 1 else torch.ones(1, 1, dtype=torch.float64)
        r = torch.nan_to_num(r, nan=0.0).fill_diagonal_(1.0) + EPS * torch.eye(len(r), dtype=torch.float64)
        self.correlation.copy_((r / r.diagonal().sqrt()[:, None] / r.diagonal().sqrt()[None]).float())
        self.fitted.fill_(1)

    def forward(self, numeric: Tensor, categorical: Tensor) -> CopulaOutput:
        """The copula's mean negative log density per row, ``½ sᵀ(R⁻¹ − I)s + ½ log|R|`` (nats)."""
        s = self.scores(numeric, categorical, generator=torch.Generator().manual_seed(SEED)).double()
        r = self.correlation.double()
        quad = ((s @ torch.linalg.inv(r)) * s).sum(1) - (s * s).sum(1)
        return CopulaOutput(loss=(0.5 * quad + 0.5 * torch.linalg.slogdet(r).logabsdet).mean().float())

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``n`` rows in data units: ``s ~ N(0, R)``, each column through its inverse marginal."""
        n = check_count(n)
        if not bool(self.fitted):
            from genlab.errors import ConfigError

            raise ConfigError("this GaussianCopula is not fitted: train it first: genlab train copula --data "
                              "penguins (or model.fit(train_split))")
        chol = torch.linalg.cholesky(self.correlation.double())
        s = (torch.randn(n, len(chol), generator=generator, dtype=torch.float64) @ chol.T).float()
        u = torch.distributions.Normal(0.0, 1.0).cdf(s)
        dn = self.quantile.shape[0]
        z = torch.stack([_interp(u[:, j], self.levels, self.quantile[j]) for j in range(dn)], 1) if dn else \
            u.new_zeros(n, 0)
        codes = (u[:, dn:, None] >= self.edges[None, :, 1:]).sum(-1)  # (n, Dc) the interval u falls in
        sizes = torch.tensor([len(c) for c in self.preprocessor.counts], dtype=torch.long)
        codes = torch.minimum(codes, sizes - 1)
        return self.preprocessor.inverse({"numeric": z, "categorical": codes})

    def renderer(self) -> TableCSV:
        return TableCSV(columns=self.preprocessor.columns)


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing; x clamped to its range)."""
    x = x.clamp(xp[0], xp[-1])
    i = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    w = torch.where(x1 > x0, (x - x0) / (x1 - x0).clamp_min(1e-12), torch.zeros_like(x))
    return f0 + w * (f1 - f0)


def _cdf(v: Tensor, quantile: Tensor, levels: Tensor) -> Tensor:
    """The empirical CDF at ``v`` read from the stored quantile function (inverse interpolation; ties: mid-level)."""
    lo = torch.searchsorted(quantile, v, right=False)
    hi = torch.searchsorted(quantile, v, right=True)
    q = len(levels) - 1
    inside = (hi > lo)  # v equals stored quantiles: the middle of their levels
    mid = (levels[lo.clamp_max(q)] + levels[(hi - 1).clamp(0, q)]) / 2
    return torch.where(inside, mid, _interp(v, quantile, levels))
