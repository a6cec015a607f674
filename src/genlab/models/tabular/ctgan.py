"""CTGAN: a conditional Wasserstein GAN for mixed-type tables (Xu et al. 2019, "Modeling Tabular Data using
Conditional GAN", arXiv:1907.00503; G10, G9).

- Rows are encoded by mode-specific normalization (``TableModes``: ``[α, β]`` per numeric column, a one-hot per
  categorical column).
- Generator: ``h_0 = z ⊕ c`` (``z ~ N(0, I)``, 128-d; ``c`` the conditional vector), residual layers
  ``h_i = h_{i−1} ⊕ ReLU(BN(FC(h_{i−1})))``, then per span ``α̂ = tanh(FC(h))`` and ``β̂, d̂ = gumbel-softmax(FC(h),
  τ = 0.2)``.
- Critic (PacGAN, Lin et al. 2018): ``pac`` rows (and their ``c``) concatenated into one input, ``FC → LeakyReLU(0.2)
  → Dropout(0.5)`` twice, then one score; trained on the WGAN-GP loss (``λ = 10``; ``critic_loss``,
  ``gradient_penalty``), the generator on ``−E D(G(z, c), c)`` plus the cross-entropy of its conditioned column's
  logits against the asked category (the conditional loss).
- Training-by-sampling: the conditions and the real rows come from ``ConditionSampler`` (log-frequency), built by
  ``at_start`` from the training split at every start.

Samples: conditions drawn by the training frequencies (or ``where="species=Adelie"``: every row conditioned on it,
by the conditional vector, not by rejection), each mode and category drawn from the generator's softmax (the
argmax of its Gumbel-softmax, as in training), decoded by ``TableModes.inverse`` (numbers inside the training
range).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.config import Config, require
from genlab.models.base import Adversarial, Generative, Model, ModelOutput, Player
from genlab.models.gan import losses
from genlab.models.inputs import check_count
from genlab.models.tabular.conditional import ConditionSampler
from genlab.models.tabular.modes import Span, TableModes
from genlab.models.tabular.render import TableCSV


@dataclasses.dataclass
class CTGANConfig(Config):
    #: the noise z's dimension
    embedding_dim: int = 128
    #: widths of the generator's residual layers
    generator_dims: tuple[int, ...] = (256, 256)
    #: widths of the critic's hidden layers
    discriminator_dims: tuple[int, ...] = (256, 256)
    #: rows packed into one critic input (PacGAN); a batch's rows past a multiple of it sit out that step
    pac: int = 10
    #: λ of the gradient penalty (WGAN-GP)
    gp_weight: float = 10.0
    #: temperature of the Gumbel-softmax outputs
    tau: float = 0.2
    #: the critic's dropout
    dropout: float = 0.5
    #: rows drawn per step by training-by-sampling (conditions, real rows, noise); 0: the loader's batch. The
    #: reference draws 500 per step even from a smaller table: 500 matches it there
    rows_per_step: int = 0
    #: the fitted ``TableModes``' spec (columns, category counts): written by ``CTGAN.for_data(train_split)``
    preprocessing: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("embedding_dim", "pac"):
            require(getattr(self, name) >= 1, f"{name} must be ≥ 1, got {getattr(self, name)}")
        for name in ("generator_dims", "discriminator_dims"):
            require(all(h >= 1 for h in getattr(self, name)), f"{name} must be positive widths, got "
                                                               f"{getattr(self, name)}")
        require(self.tau > 0, f"tau (the Gumbel-softmax temperature) must be > 0, got {self.tau}")
        require(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")
        require(self.gp_weight >= 0, f"gp_weight must be ≥ 0, got {self.gp_weight}")
        require(self.rows_per_step >= 0 and self.rows_per_step % self.pac == 0,
                f"rows_per_step must be 0 (the batch) or a multiple of pac ({self.pac}), got {self.rows_per_step}")


class Residual(nn.Module):
    """``h ⊕ ReLU(BN(FC(h)))``: the input kept beside the layer's output (width ``d_in + d_out``)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out)

    def forward(self, h: Tensor) -> Tensor:  # (B, d_in) → (B, d_in + d_out)
        return torch.cat([F.relu(self.bn(self.fc(h))), h], 1)


def activate(out: Tensor, spans: tuple[Span, ...], *, tau: float, generator: torch.Generator | None = None
             ) -> Tensor:
    """The generator's raw outputs (B, D) → a row: ``tanh`` on each α, Gumbel-softmax on each one-hot span,
    ``softmax((ℓ + g) / τ)`` with ``g = −log(−log u)``, ``u ~ U(0, 1)`` (Jang et al. 2016, arXiv:1611.01144) — its
    argmax is a draw from ``softmax(ℓ)``, so a sample's categories and modes are drawn, not the most probable."""
    parts = []
    for s in spans:
        logits = out[:, s.start:s.end]
        if s.kind == "alpha":
            parts.append(torch.tanh(logits))
            continue
        u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype).to(logits.device)
        gumbel = -(-u.clamp(1e-10, 1.0).log()).clamp_min(1e-20).log()
        parts.append(((logits + gumbel) / tau).softmax(1))
    return torch.cat(parts, 1)


@dataclasses.dataclass
class CTGANTerms(ModelOutput):
    d_real: Tensor | None = None  # E D(x, c)
    d_fake: Tensor | None = None  # E D(G(z, c), c)
    distance: Tensor | None = None  # E D(x) − E D(G(z)): the critic's Wasserstein estimate
    penalty: Tensor | None = None  # the gradient penalty
    conditional: Tensor | None = None  # the generator's cross-entropy on the conditioned column


class CTGAN(Model, Adversarial, Generative):
    """Conditional tabular GAN (see the module's docstring)."""

    config_class = CTGANConfig
    inputs = ("x", "categorical")
    optional_inputs = ()
    kinds = ("table",)
    preprocessor_class = TableModes
    monitor = None  # a critic's loss ranks no checkpoint
    sample_options = frozenset({"where"})
    parameter_groups = Adversarial.parameter_groups

    def __init__(self, config: CTGANConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        modes: TableModes = self.preprocessor
        cfg = self.config
        self.sampler = ConditionSampler(modes.onehots(), counts=modes.counts)  # at_start adds the training rows
        d, c = modes.width, self.sampler.width
        layers, width = [], cfg.embedding_dim + c
        for h in cfg.generator_dims:
            layers.append(Residual(width, h))
            width += h
        self.generator = nn.Sequential(*layers, nn.Linear(width, d))
        critic, width = [], (d + c) * cfg.pac
        for h in cfg.discriminator_dims:
            critic += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(cfg.dropout)]
            width = h
        self.discriminator = nn.Sequential(*critic, nn.Linear(width, 1))
        self.train_x: Tensor | None = None  # the encoded training rows (at_start), not saved

    # --- the game ---------------------------------------------------------------------------------------------
    def players(self) -> tuple[Player, Player]:
        return (Player("discriminator", self.discriminator, betas=(0.5, 0.9)),
                Player("generator", self.generator, betas=(0.5, 0.9)))

    @property
    def wasserstein(self) -> bool:
        return True

    def at_start(self, data) -> None:
        """The conditional sampler's index over the (encoded) training rows: rebuilt at every start."""
        self.sampler = ConditionSampler(self.preprocessor.onehots(), codes=data.fields["categorical"])
        self.train_x = data.fields["x"]

    def packed(self, rows: Tensor, c: Tensor) -> Tensor:
        """``pac`` rows (B, D) and their conditions ``c`` (B, C) per critic input: (B / pac, pac · (D + C))."""
        return torch.cat([rows, c], 1).reshape(len(rows) // self.config.pac, -1)

    def critic(self, packed: Tensor) -> Tensor:
        """D's scores (B / pac,) of packed inputs."""
        return self.discriminator(packed)[:, 0]

    def conditions(self, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """(c (n, C), j, k) for a training batch: log-frequency draws (empty when the table has no category)."""
        if self.sampler.empty:
            empty = torch.zeros(n, dtype=torch.long)
            return torch.zeros(n, 0, device=self.device), empty, empty
        j, k = self.sampler.draw(n)
        return self.sampler.vector(j, k).to(self.device), j, k

    def fake(self, c: Tensor) -> tuple[Tensor, Tensor]:
        """(activated rows (B, D), raw outputs (B, D)) of ``G(z, c)`` for fresh ``z``."""
        z = torch.randn(len(c), self.config.embedding_dim, device=self.device)
        raw = self.generator(torch.cat([z, c], 1))
        return activate(raw, self.preprocessor.spans, tau=self.config.tau), raw

    def _batch(self, x: Tensor) -> int:
        """The rows of this step: ``rows_per_step`` when set and the sampler holds the training rows, else ``len(x)``
        cut to a multiple of ``pac``."""
        if self.config.rows_per_step and self.train_x is not None and not self.sampler.empty:
            return self.config.rows_per_step
        n = len(x) - len(x) % self.config.pac
        if n == 0:
            from genlab.errors import ConfigError

            raise ConfigError(f"CTGAN packs {self.config.pac} rows per critic input: the batch size must be at least "
                              f"that (and best a multiple): pass --batch-size 500 or --set model.pac=...")
        return n

    def discriminator_loss(self, x: Tensor, categorical: Tensor) -> CTGANTerms:
        """WGAN-GP critic loss on real rows drawn for the conditions (training-by-sampling) and ``G(z, c)``."""
        n = self._batch(x)
        c, j, k = self.conditions(n)
        if self.sampler.empty or self.train_x is None:
            real = x[:n]  # no category to condition on (or validation before at_start): the loader's rows
        else:
            real = self.train_x[self.sampler.real_rows(j, k)].to(x.device)
        with torch.no_grad():
            fake, _ = self.fake(c)
        real, fake = self.packed(real, c), self.packed(fake, c)
        r, f = self.critic(real), self.critic(fake)
        loss, penalty = losses.critic_loss(r, f), None
        if torch.is_grad_enabled():  # (validation runs without gradients); on packed inputs, as PacGAN's critic sees
            penalty = losses.gradient_penalty(self.critic, real, fake)
            loss = loss + self.config.gp_weight * penalty
        return CTGANTerms(loss=loss, d_real=r.mean().detach(), d_fake=f.mean().detach(),
                          distance=(r.mean() - f.mean()).detach(), penalty=penalty)

    def generator_loss(self, x: Tensor, categorical: Tensor) -> CTGANTerms:
        """``−E D(G(z, c), c)`` plus the conditional loss: the cross-entropy of the generator's logits in the
        conditioned column's span against the asked category."""
        n = self._batch(x)
        c, j, k = self.conditions(n)
        fake, raw = self.fake(c)
        f = self.critic(self.packed(fake, c))
        conditional = torch.zeros((), device=x.device)
        if not self.sampler.empty:
            spans = self.preprocessor.onehots()
            for column in j.unique().tolist():
                at = (j == column).nonzero()[:, 0]
                s = spans[column]
                conditional = conditional + F.cross_entropy(raw[at, s.start:s.end], k[at].to(x.device),
                                                            reduction="sum")
            conditional = conditional / n
        return CTGANTerms(loss=losses.generator_loss_wasserstein(f) + conditional, d_fake=f.mean().detach(),
                          conditional=conditional.detach())

    def forward(self, x: Tensor, categorical: Tensor) -> CTGANTerms:
        """Validation terms: the critic's loss and view of real and generated rows."""
        return self.discriminator_loss(x, categorical)

    # --- samples ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, where: str | None = None
               ) -> dict[str, Tensor]:
        """``n`` rows in data units: ``numeric`` (n, Dn), ``categorical`` (n, Dc) codes; conditions drawn by the
        training frequencies, or ``where="column=value"`` (every row conditioned on that category)."""
        n = check_count(n)
        was = self.training
        self.eval()
        try:
            c, asked = self._sample_conditions(n, generator, where)
            z = torch.randn(n, self.config.embedding_dim, generator=generator).to(self.device)
            raw = self.generator(torch.cat([z, c], 1))
            rows = activate(raw, self.preprocessor.spans, tau=self.config.tau, generator=generator)
        finally:
            self.train(was)
        out = self.preprocessor.inverse({"x": rows})
        if asked is not None:  # the conditioned column holds what was asked (the generator mostly agrees already)
            out["categorical"][:, asked[0]] = asked[1]
        return out

    def _sample_conditions(self, n: int, generator: torch.Generator | None, where: str | None
                           ) -> tuple[Tensor, tuple[int, int] | None]:
        """(c (n, C), the (column, category) that ``where`` asks for, or None)."""
        if self.sampler.empty:
            if where:
                from genlab.errors import ConfigError

                raise ConfigError(f"--where {where}: this table has no categorical column to condition on")
            return torch.zeros(n, 0, device=self.device), None
        if not where:
            j, k = self.sampler.draw(n, generator=generator, log_frequency=False)
            return self.sampler.vector(j, k).to(self.device), None
        column, value = parse_where(where)
        cats = self.preprocessor.categorical
        j, k = self.sampler.where(column, value, [c.name for c in cats], [c.categories for c in cats], n)
        return self.sampler.vector(j, k).to(self.device), (int(j[0]), int(k[0]))

    def renderer(self) -> TableCSV:
        """Samples as a ``.csv`` in the data's columns: names, order, category names, the file's dtypes."""
        return TableCSV(columns=self.preprocessor.columns)


def parse_where(where: str) -> tuple[str, str]:
    """``"column=value"`` → (column, value); ``ConfigError`` otherwise."""
    column, sep, value = where.partition("=")
    if not sep or not column.strip() or not value.strip():
        from genlab.errors import ConfigError

        raise ConfigError(f"--where takes column=value (a categorical column and one of its categories), got "
                          f"{where!r}")
    return column.strip(), value.strip()
