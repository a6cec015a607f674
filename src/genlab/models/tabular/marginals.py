"""``TableMarginals``: independent marginals of a mixed-type table — the baseline a synthetic table must beat (G10).

    p(row) = ∏_numeric N(z_j; μ_j, σ_j²) / s_j  ·  ∏_categorical π_j[c_j],     π_j = softmax(ℓ_j)

Numeric column j is modelled in standardized units z_j = (v_j − m_j) / s_j (``TableScaler``: m, s fitted on the
training split) by a Gaussian with parameters μ_j and log σ_j; the 1/s_j (log-determinant of the standardization)
puts the density back in data units. Categorical column j has a logit vector ℓ_j over its K_j categories. Columns
are independent: no correlation between them is learned. The loss is the mean NLL per row in nats, data units
(``nll_numeric`` + ``nll_categorical``); gradient descent on it reaches the maximum-likelihood fit, μ = the
training mean of z (0), σ = its std (1), π_j = the training frequencies of the categories.

``sample(n)`` draws each column independently: numbers in data units (inverse-scaled), categories as codes. A
category absent from the training split (its MLE probability is 0) is never drawn, so samples hold only training
categories; its learned probability still enters the likelihood, which stays finite on rows that hold it.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn

from genlab.config import Config
from genlab.errors import ShapeError, check_shape
from genlab.models.base import Generative, Model, ModelOutput
from genlab.models.gaussian import standard_normal
from genlab.models.inputs import check_count, check_data
from genlab.models.tabular.render import TableCSV
from genlab.models.tabular.scaler import TableScaler

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@dataclasses.dataclass
class TableMarginalsConfig(Config):
    #: the fitted ``TableScaler``'s spec (the column spec and the training counts of the categories): written by
    #: ``TableMarginals.for_data(data)`` (what ``genlab train`` calls), read back from ``config.json``
    preprocessing: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TableOutput(ModelOutput):
    nll_numeric: Tensor  # mean over rows of −Σ_j log p(v_j), nats (data units)
    nll_categorical: Tensor  # mean over rows of −Σ_j log π_j[c_j], nats


class TableMarginals(Model, Generative):
    """A Gaussian per numeric column and a categorical distribution per categorical column, all independent."""

    config_class = TableMarginalsConfig
    inputs = ("numeric", "categorical")
    optional_inputs = ()
    kinds = ("table",)
    preprocessor_class = TableScaler

    def __init__(self, config: TableMarginalsConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)  # builds self.preprocessor (a TableScaler) from config.preprocessing
        scaler: TableScaler = self.preprocessor
        sizes = torch.tensor([len(c.categories) for c in scaler.categorical], dtype=torch.long)  # (Dc,) K_j
        k_max = int(sizes.max()) if len(sizes) else 0
        counts = torch.zeros(len(sizes), k_max, dtype=torch.long)  # (Dc, K_max) training counts
        for j, k in enumerate(scaler.counts):
            counts[j, :len(k)] = torch.tensor(k, dtype=torch.long)
        dn = len(scaler.numeric)
        self.mu = nn.Parameter(torch.zeros(dn))  # (Dn,) standardized units
        self.log_sigma = nn.Parameter(torch.zeros(dn))  # (Dn,)
        self.logits = nn.Parameter(torch.zeros(len(sizes), k_max))  # (Dc, K_max); past K_j: padding, masked
        # (from the config, not saved with the weights)
        self.register_buffer("valid", torch.arange(k_max) < sizes[:, None], persistent=False)  # (Dc, K_max) k < K_j
        self.register_buffer("seen", counts > 0, persistent=False)  # (Dc, K_max) in the training split

    # --- the distribution ---------------------------------------------------------------------------
    def log_probs(self) -> Tensor:
        """log π (Dc, K_max): each categorical column's log-probabilities (−inf past its K_j categories)."""
        return self.logits.masked_fill(~self.valid, -math.inf).log_softmax(-1)

    def probabilities(self) -> list[Tensor]:
        """π_j (K_j,) of each categorical column, in the order of its categories."""
        p = self.log_probs().exp().detach()
        return [p[j, :len(c.categories)] for j, c in enumerate(self.preprocessor.categorical)]

    def forward(self, numeric: Tensor, categorical: Tensor) -> TableOutput:
        """The mean NLL per row (nats, data units) of standardized ``numeric`` (B, Dn) and category codes
        ``categorical`` (B, Dc)."""
        z = check_data(self, numeric, what="numeric", shape=(len(self.mu),),
                       hint="pass the table's numeric columns as TableScaler standardizes them (model.prepare)")
        codes = self._check_codes(categorical, len(z))
        sigma = self.log_sigma.exp()
        nll_z = 0.5 * ((z - self.mu) / sigma) ** 2 + self.log_sigma + HALF_LOG_2PI  # (B, Dn), standardized units
        nll_numeric = (nll_z + self.preprocessor.std.log()).sum(1)  # (B,) data units: + log s_j
        log_pi = self.log_probs()  # (Dc, K_max)
        nll_categorical = -log_pi[torch.arange(len(log_pi), device=codes.device), codes].sum(1)  # (B,)
        return TableOutput(loss=(nll_numeric + nll_categorical).mean(), nll_numeric=nll_numeric.mean(),
                           nll_categorical=nll_categorical.mean())

    def _check_codes(self, categorical: Tensor, n: int) -> Tensor:
        """``categorical`` as (n, Dc) int64 codes, each within its column's categories; ``ShapeError`` otherwise."""
        columns = self.preprocessor.categorical
        if not isinstance(categorical, Tensor) or categorical.is_floating_point() or categorical.is_complex():
            raise ShapeError(f"{type(self).__name__} takes categorical as integer category codes (B, {len(columns)}), "
                             f"got {getattr(categorical, 'dtype', type(categorical).__name__)}: pass codes.long()")
        check_shape(categorical, (n, len(columns)), "categorical", "one code per categorical column and numeric row")
        codes = categorical.long()
        if codes.numel():
            sizes = self.valid.sum(1)  # (Dc,) K_j
            bad = ((codes < 0) | (codes >= sizes)).any(0)  # (Dc,)
            if bad.any():
                j = int(bad.nonzero()[0])
                raise ShapeError(f"categorical column {columns[j].name!r} has codes 0..{int(sizes[j]) - 1} "
                                 f"({len(columns[j].categories)} categories), got {codes[:, j].tolist()[:8]}...: "
                                 f"encode it with the training data's categories")
        return codes

    # --- samples ------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``n`` rows: ``numeric`` (n, Dn) in data units, ``categorical`` (n, Dc) int64 codes, each column drawn
        independently (a category absent from the training split never)."""
        n = check_count(n)
        z = self.mu + self.log_sigma.exp() * standard_normal((n, len(self.mu)), like=self.mu, generator=generator)
        numeric = self.preprocessor.inverse({"numeric": z})["numeric"]  # (n, Dn) data units
        if not len(self.logits):
            return {"numeric": numeric, "categorical": torch.zeros(n, 0, dtype=torch.long, device=z.device)}
        p = self.log_probs().masked_fill(~self.seen, -math.inf).softmax(-1)  # (Dc, K_max), training categories
        where = self.mu.device if generator is None else generator.device
        codes = torch.multinomial(p.to(where), n, replacement=True, generator=generator).T  # (n, Dc)
        return {"numeric": numeric, "categorical": codes.to(z.device)}

    def renderer(self) -> TableCSV:
        """Samples as a ``.csv`` in the data's columns: names, order, category names, data units."""
        return TableCSV(columns=self.preprocessor.columns)
