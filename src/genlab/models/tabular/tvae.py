"""TVAE: a variational autoencoder for mixed-type tables (Xu et al. 2019, arXiv:1907.00503, §4.4 and appendix; V1,
V2, V3, V4, G10).

Rows are encoded by mode-specific normalization (``TableModes``). Encoder ``x → h`` (``FC → ReLU`` per width) →
``μ, log σ²`` of ``q(z|x)``; decoder ``z → h → FC`` gives per span: the mean ``tanh(r)`` of each ``α`` (a Gaussian
with a learned σ per column, put back into [0.01, 1] after each step: ``after_step``) and logits of each one-hot
(mode ``β`` or category). The loss per row is ``2 · Σ_spans (−log p(span | z)) + KL(q(z|x) ‖ N(0, I))`` — the
reconstruction weighed twice, as the paper's reference implementation does (``loss_factor``);
``−log p(α|z) = (α − tanh r)² / (2σ²) + log σ`` (up to a constant), ``−log p(one-hot|z)`` the cross-entropy.

Samples: ``z ~ N(0, I)``, ``α ~ N(tanh r, σ²)``, each one-hot span's most probable entry; decoded by
``TableModes.inverse`` (numbers inside the training range).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.config import Config, require
from genlab.models.base import Generative, Model, ModelOutput
from genlab.models.gaussian import kl_standard_normal, reparameterize
from genlab.models.inputs import check_count
from genlab.models.tabular.modes import TableModes
from genlab.models.tabular.render import TableCSV

SIGMA_RANGE = (0.01, 1.0)  # the decoder's σ of each α


@dataclasses.dataclass
class TVAEConfig(Config):
    #: the latent z's dimension
    embedding_dim: int = 128
    #: widths of the encoder's hidden layers
    compress_dims: tuple[int, ...] = (128, 128)
    #: widths of the decoder's hidden layers
    decompress_dims: tuple[int, ...] = (128, 128)
    #: the reconstruction term's weight (the reference implementation's 2)
    loss_factor: float = 2.0
    #: the fitted ``TableModes``' spec (columns, category counts): written by ``TVAE.for_data(train_split)``
    preprocessing: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.embedding_dim >= 1, f"embedding_dim must be ≥ 1, got {self.embedding_dim}")
        for name in ("compress_dims", "decompress_dims"):
            require(all(h >= 1 for h in getattr(self, name)), f"{name} must be positive widths, got "
                                                               f"{getattr(self, name)}")
        require(self.loss_factor > 0, f"loss_factor must be > 0, got {self.loss_factor}")


@dataclasses.dataclass
class TVAEOutput(ModelOutput):
    reconstruction: Tensor  # mean over rows of Σ_spans −log p(span | z) (before loss_factor)
    kl: Tensor  # mean over rows of KL(q(z|x) ‖ N(0, I))


def mlp(d_in: int, widths: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    """``FC → ReLU`` per width, and the output width."""
    layers = []
    for h in widths:
        layers += [nn.Linear(d_in, h), nn.ReLU()]
        d_in = h
    return nn.Sequential(*layers), d_in


class TVAE(Model, Generative):
    """Tabular VAE (see the module's docstring)."""

    config_class = TVAEConfig
    inputs = ("x", "categorical")
    optional_inputs = ()
    kinds = ("table",)
    preprocessor_class = TableModes

    def __init__(self, config: TVAEConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg, d = self.config, self.preprocessor.width
        self.encoder, h = mlp(d, cfg.compress_dims)
        self.mu, self.logvar = nn.Linear(h, cfg.embedding_dim), nn.Linear(h, cfg.embedding_dim)
        body, h = mlp(cfg.embedding_dim, cfg.decompress_dims)
        self.decoder = nn.Sequential(*body, nn.Linear(h, d))
        self.sigma = nn.Parameter(torch.full((d,), 0.1))  # (D,) σ of each α (only the α entries are read)

    def sigmas(self) -> Tensor:
        return self.sigma

    @torch.no_grad()
    def after_step(self) -> None:
        """σ back into ``SIGMA_RANGE`` after each step (as the reference implementation clamps it)."""
        self.sigma.clamp_(*SIGMA_RANGE)

    def forward(self, x: Tensor, categorical: Tensor | None = None) -> TVAEOutput:
        """The loss on encoded rows ``x`` (B, D) (``categorical`` is not read: its one-hots are in ``x``)."""
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)  # (B, Z)
        r = self.decoder(reparameterize(mu, logvar))  # (B, D)
        sigma = self.sigmas()
        nll = torch.zeros(len(x), device=x.device)  # (B,)
        for s in self.preprocessor.spans:
            if s.kind == "alpha":
                a, sd = x[:, s.start], sigma[s.start]
                nll = nll + (a - torch.tanh(r[:, s.start])) ** 2 / (2 * sd**2) + sd.log()
            else:
                nll = nll + F.cross_entropy(r[:, s.start:s.end], x[:, s.start:s.end].argmax(1), reduction="none")
        kl = kl_standard_normal(mu, logvar)  # (B,)
        reconstruction = nll.mean()
        return TVAEOutput(loss=self.config.loss_factor * reconstruction + kl.mean(), reconstruction=reconstruction,
                          kl=kl.mean())

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``n`` rows in data units: ``numeric`` (n, Dn), ``categorical`` (n, Dc) codes."""
        n = check_count(n)
        z = torch.randn(n, self.config.embedding_dim, generator=generator).to(self.device)
        r = self.decoder(z)
        noise = torch.randn(r.shape, generator=generator).to(self.device)
        rows = r.clone()
        for s in self.preprocessor.spans:
            if s.kind == "alpha":
                rows[:, s.start] = torch.tanh(r[:, s.start]) + self.sigmas()[s.start] * noise[:, s.start]
        return self.preprocessor.inverse({"x": rows})  # one-hot spans: their argmax

    def renderer(self) -> TableCSV:
        return TableCSV(columns=self.preprocessor.columns)
