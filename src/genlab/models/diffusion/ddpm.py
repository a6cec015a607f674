"""DDPM: a denoising network trained on the diffusion bound (D1–D4), sampled with DDPM or DDIM.

Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", 2020, arXiv:2006.11239; learned
variances and the hybrid loss from Nichol & Dhariwal, "Improved DDPM", 2021, arXiv:2102.09672.

Data convention: images are given in ``[0, 1]`` (8-bit values ``k/255``) and scaled to ``[−1, 1]``
inside the model (``x ↦ 2x − 1``); ``sample`` returns images in ``[0, 1]``. Vector data (``(D,)``
shapes, e.g. 2-D toys) is used as given (standardize it first).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Literal, NamedTuple

import torch
from torch import Tensor

from genlab.blocks.losses import discretized_gaussian_log_likelihood
from genlab.blocks.modes import eval_mode
from genlab.config import require
from genlab.errors import ConfigError
from genlab.models.base import Conditional, DiffusionBound, Model, ModelOutput
from genlab.models.diffusion.ddpm_scheduler import GaussianParams
from genlab.models.diffusion.denoiser import DenoiserConfig, build_denoiser, denoiser_data_defaults
from genlab.models.diffusion.embeddings import drop_labels
from genlab.models.diffusion.noise_schedule import NoiseSchedule, ScheduleConfig, randn_like
from genlab.models.diffusion.samplers import Sampler, make_sampler
from genlab.models.diffusion.sampling import batch_labels, guided_output, sample_labels, sample_loop
from genlab.models.gaussian import kl_normal, log_normal, standard_normal
from genlab.models.inputs import check_count, check_data
from genlab.models.likelihood import LOG2, bits_per_dim


@dataclasses.dataclass
class DDPMConfig(ScheduleConfig, DenoiserConfig):
    """DDPM options: the network fields of ``DenoiserConfig``, the noise process of ``ScheduleConfig``
    (``DDPM.schedule_config`` resolves ``clip_sample=None``) and the loss."""

    loss_type: Literal["simple", "vlb", "hybrid"] = "simple"  # vlb/hybrid learn the variance too
    hybrid_lambda: float = 1e-3  # λ of L_hybrid = L_simple + λ L_vlb (Nichol & Dhariwal §3.1)
    clip_sample: bool | None = None  # clip x̂_0 while sampling; None: yes for images, and for vectors with data_range
    #: vectors: max |x_i| over the training data (set from it); x̂_0 is clipped to [−r, r] with r = data_range while
    #: sampling, so no sample leaves the data's range (the deterministic DDIM sampler sent 2 % of ring8 samples to
    #: |x| ≈ 100: x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t magnifies ε̂'s error 156× at t = T); None: not clipped
    data_range: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.num_train_timesteps >= 2, f"num_train_timesteps must be >= 2, got {self.num_train_timesteps}"
        )
        require(self.hybrid_lambda >= 0, f"hybrid_lambda must be >= 0, got {self.hybrid_lambda}")
        require(self.data_range is None or self.data_range > 0, f"data_range must be > 0, got {self.data_range}")


@dataclasses.dataclass
class DiffusionOutput(ModelOutput):
    """``loss`` to minimize; ``mse`` = ``L_simple``; ``vlb`` = bound estimate in bits/dim (vlb, hybrid)."""

    mse: Tensor
    vlb: Tensor | None = None


class BoundTerms(NamedTuple):
    """D4 in bits/dim per example (B,): ``total = prior + diffusion + reconstruction``.

    ``prior`` = ``L_T`` = KL(q(x_T|x_0) ‖ p(x_T)); ``diffusion`` = ``Σ_{t>1} L_{t−1}``;
    ``reconstruction`` = ``L_0`` = −log p_θ(x_0|x_1).
    """

    total: Tensor
    prior: Tensor
    diffusion: Tensor
    reconstruction: Tensor

    @classmethod
    def from_nats(cls, prior: Tensor, diffusion: Tensor, reconstruction: Tensor, num_dims: int) -> BoundTerms:
        """The terms given in nats per example (B,), converted to bits/dim and summed."""
        parts = [bits_per_dim(v, num_dims) for v in (prior, diffusion, reconstruction)]
        return cls(parts[0] + parts[1] + parts[2], *parts)

    def elbo(self, num_dims: int) -> Tensor:
        """The evidence lower bound in nats per example (B,): ``−total · D ln 2``."""
        return -self.total * (num_dims * LOG2)


class DDPM(Model, Conditional, DiffusionBound):
    """D1–D4: ``ε_θ`` (U-Net or MLP) trained with ``L_simple`` (or the bound), sampled by DDPM/DDIM.

    Ho et al. 2020, arXiv:2006.11239, Algorithms 1–2. ``forward(x, y)`` draws ``t ~ U{1..T}`` and
    ``ε ~ N(0, I)`` and returns ``L_simple = E‖target − net(x_t, t)‖²`` (Eq. (14); the target is ``ε``,
    ``x_0`` or ``v`` for ``prediction_type``). With ``loss_type="hybrid"``/``"vlb"`` the network also
    outputs the variance (Nichol & Dhariwal 2021). ``nll_bpd`` evaluates the whole bound (D4).
    ``sample(sampler=...)`` takes a name of ``SAMPLERS`` (``"ddpm"``, ``"ddim"``) or a ``Sampler``.
    """

    config_class: ClassVar[type[DDPMConfig]] = DDPMConfig
    @staticmethod
    def data_defaults(data) -> dict:
        """Shape, classes (unconditional on mixture toys: ``denoiser_data_defaults``) and, for vectors, the data's
        range (``data_range``)."""
        out = denoiser_data_defaults(data)
        return out if data.x.dim() != 2 else {**out, "data_range": float(data.x.abs().max())}

    sample_options = frozenset({"sampler", "steps", "eta", "y", "guidance_scale", "progress"})
    #: what the trainer's per-epoch sample grid passes to ``sample`` (the full T-step sampler is slow):
    #: DDIM with its default min(50, T) steps
    preview_sample_kwargs: ClassVar[dict] = {"sampler": "ddim"}
    #: stratified denoising terms of ``nll_bpd`` when none are given (all ``T − 1``: ``terms=T − 1``)
    bound_terms_default: ClassVar[int | None] = 50

    def __init__(self, config: DDPMConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg: DDPMConfig = self.config
        self.data_kind = "image" if cfg.is_image else "vector"
        self.learned_variance = cfg.loss_type != "simple"
        self.net = build_denoiser(cfg, out_multiplier=2 if self.learned_variance else 1)
        self.variance_type = "learned_range" if self.learned_variance else "fixed_small"
        self.scheduler = self.make_scheduler("ddpm")

    # ---- the scheduler, rebuilt from the config (it has no state to save) -------------------------
    @property
    def schedule_config(self) -> ScheduleConfig:
        """The training schedule (D1) of this model's config; ``clip_sample=None`` clips images to [−1, 1] and
        vectors to their ``data_range`` (when known: models saved before it keep unclipped vectors)."""
        cfg: DDPMConfig = self.config
        vector_range = not cfg.is_image and cfg.data_range is not None
        clip = cfg.clip_sample if cfg.clip_sample is not None else (cfg.is_image or vector_range)
        return ScheduleConfig.of(cfg, clip_sample=clip,
                                 clip_sample_range=cfg.data_range if vector_range else cfg.clip_sample_range)

    def make_scheduler(self, sampler: str | Sampler = "ddpm") -> NoiseSchedule:
        """A fresh scheduler of ``sampler`` (a name of ``SAMPLERS`` or a ``Sampler``) on the training schedule."""
        return make_sampler(sampler).scheduler(self.schedule_config, variance_type=self.variance_type)

    # ---- data space ---------------------------------------------------------------------------------
    def to_model_space(self, x: Tensor) -> Tensor:
        """Images in ``[0, 1]`` → ``[−1, 1]`` (vectors unchanged), after checking ``x`` (``check_data``)."""
        return self._scale(self._inputs(x))

    def _inputs(self, x: Tensor) -> Tensor:
        """``x`` checked by ``check_data``: a float batch of ``data_shape`` in the parameters' dtype (integer
        images are refused: ``x.float() / 255``), images in [0, 1]."""
        image = self.data_kind == "image"
        hint = "pass images in [0, 1] shaped like the training data" if image else \
            "pass vectors shaped like the training data"
        return check_data(self, x, hint=hint, unit_interval=image)

    def _scale(self, x: Tensor) -> Tensor:
        return x * 2.0 - 1.0 if self.data_kind == "image" else x

    def from_model_space(self, x: Tensor) -> Tensor:
        """Model space → data space: ``[−1, 1]`` → ``[0, 1]`` (clamped) for images."""
        return ((x + 1.0) / 2.0).clamp(0.0, 1.0) if self.data_kind == "image" else x

    @property
    def num_dims(self) -> int:
        return math.prod(self.config.data_shape)

    # ---- training -----------------------------------------------------------------------------------
    def forward(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> DiffusionOutput:
        """Algorithm 1 of Ho et al.: one Monte Carlo estimate of the loss on a batch ``x`` (B, ...)."""
        cfg: DDPMConfig = self.config
        x0 = self.to_model_space(x)  # (B, ...)
        B = x0.shape[0]
        y = batch_labels(self, y, B, num_classes=self.config.num_classes)
        gen_device = generator.device if generator is not None else x0.device
        t = torch.randint(0, cfg.num_train_timesteps, (B,), generator=generator, device=gen_device).to(
            x0.device
        )
        noise = randn_like(x0, generator)
        x_t = self.scheduler.add_noise(x0, noise, t)  # D1, Eq. (4)
        if self.conditioned and y is not None and self.training:
            y = drop_labels(y, cfg.p_uncond, generator=generator)
        out = self.net(x_t, t, y if self.conditioned else None)  # (B, C or 2C, ...)
        pred, v = self.scheduler.split_model_output(out, x_t)
        target = self.scheduler.training_target(x0, noise, t)
        mse = (pred - target).pow(2).mean()  # L_simple, Eq. (14)
        if not self.learned_variance:
            return DiffusionOutput(loss=mse, mse=mse)
        # L_vlb with a stop-gradient on the mean for the hybrid loss (Nichol & Dhariwal §3.1)
        frozen = out if cfg.loss_type == "vlb" else torch.cat([pred.detach(), v], dim=1)
        vlb = (
            bits_per_dim(self.bound_term(frozen, x0, x_t, t), self.num_dims).mean() * cfg.num_train_timesteps
        )
        loss = vlb if cfg.loss_type == "vlb" else mse + cfg.hybrid_lambda * vlb
        return DiffusionOutput(loss=loss, mse=mse, vlb=vlb)

    # ---- D4: the variational bound ------------------------------------------------------------------
    def bound_term(self, model_output: Tensor, x0: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """D4 term of step ``t`` in nats (B,): ``L_{t−1}`` for ``t ≥ 1`` (0-based), ``L_0`` at ``t = 0``.

        ``L_{t−1} = KL(q(x_{t−1}|x_t, x_0) ‖ p_θ(x_{t−1}|x_t))`` (Ho et al. Eq. (5)), Gaussian KL in
        closed form; ``L_0 = −log p_θ(x_0|x_1)`` with the discretized decoder (Eq. (13)) for images or
        a Gaussian density for vectors.
        """
        p, _ = self.scheduler.p_mean_variance(model_output, x_t, t)
        q = self.scheduler.q_posterior(x0, x_t, t)
        kl = kl_normal(q.mean, q.log_variance, p.mean, p.log_variance)  # (B,)
        return torch.where(t == 0, self.decoder_nll(x0, p), kl)

    def decoder_nll(self, x0: Tensor, p: GaussianParams) -> Tensor:
        """``L_0 = −log p_θ(x_0|x_1)`` in nats (B,): discretized Gaussian (images) or Gaussian density."""
        if self.data_kind == "image":
            ll = discretized_gaussian_log_likelihood(x0, mean=p.mean, log_scale=0.5 * p.log_variance)
            return -ll.flatten(1).sum(1)
        return -log_normal(x0, p.mean, p.log_variance)

    def prior_kl(self, x0: Tensor) -> Tensor:
        """``L_T = KL(q(x_T|x_0) ‖ N(0, I))`` in nats (B,) (Ho et al. Eq. (5))."""
        mean, var = self.scheduler.q_mean_variance(x0, self.config.num_train_timesteps - 1)
        logvar = var.log().expand_as(x0)
        return kl_normal(mean, logvar, torch.zeros_like(x0), torch.zeros_like(x0))

    @torch.no_grad()
    def nll_bpd(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        terms: int | None = None,
        progress: bool = False,
    ) -> BoundTerms:
        """D4: the variational bound on ``−log p(x)`` in bits/dim per example (B,).

        ``L = L_T + Σ_{t=2..T} L_{t−1} + L_0`` (Ho et al. Eq. (5)); each ``L_{t−1}`` is a closed-form
        KL at one sample ``x_t ~ q(x_t|x_0)``, so the result is an unbiased estimate of the bound.
        ``terms=K`` splits ``t = 2..T`` into ``K`` equal strata, draws one ``t`` per stratum and
        example, and weights it by the stratum size: still unbiased, ``K + 1`` network calls;
        ``K ≥ T − 1`` evaluates every denoising term once (``T`` network calls per batch);
        ``terms=None``: ``bound_terms_default`` (50). Images are quantized to 256 levels first (bits/dim
        on the 8-bit scale).
        """
        terms = self.bound_terms_default if terms is None else terms
        if terms < 1:
            raise ConfigError(
                f"terms must be a positive number of denoising terms (T − 1 for all of them), got {terms}"
            )
        x = self._inputs(x)
        with eval_mode(self):
            if self.data_kind == "image":
                x = torch.round(x * 255.0) / 255.0
            x0 = self._scale(x)
            B, T = x0.shape[0], self.config.num_train_timesteps
            y = batch_labels(self, y, B, num_classes=self.config.num_classes)
            # denoising terms: code timesteps 1..T−1 (paper t = 2..T), all or K strata
            edges = torch.linspace(1, T, terms + 1).round().long().tolist()
            strata = [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]
            if progress:
                from tqdm.auto import tqdm

                strata = tqdm(strata, desc="bound", leave=False)
            diffusion = torch.zeros(B, dtype=x0.dtype, device=x0.device)
            for lo, hi in strata:  # t ~ U{lo, …, hi − 1} per example, weight hi − lo
                gen_device = generator.device if generator is not None else x0.device
                u = torch.rand(B, generator=generator, device=gen_device)
                t = (lo + (u * (hi - lo)).long().clamp(max=hi - lo - 1)).to(x0.device)
                diffusion = diffusion + (hi - lo) * self._term_at(x0, t, y, generator)
            reconstruction = self._term_at(
                x0, torch.zeros(B, dtype=torch.long, device=x0.device), y, generator
            )
            prior = self.prior_kl(x0)
        return BoundTerms.from_nats(prior, diffusion, reconstruction, self.num_dims)

    def elbo(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        terms: int | None = None,
    ) -> Tensor:
        """D4: the evidence lower bound ``≤ log p(x)`` in nats per example (B,): ``−nll_bpd · D ln 2``."""
        return self.nll_bpd(x, y, generator=generator, terms=terms).elbo(self.num_dims)

    def _term_at(self, x0: Tensor, t: Tensor, y: Tensor | None, generator: torch.Generator | None) -> Tensor:
        x_t = self.scheduler.add_noise(x0, randn_like(x0, generator), t)  # x_t ~ q(x_t|x_0)
        return self.bound_term(self.net(x_t, t, y), x0, x_t, t)

    # ---- D2: sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        sampler: str | Sampler = "ddpm",
        steps: int | None = None,
        eta: float | None = None,
        y: Tensor | int | None = None,
        guidance_scale: float = 0.0,
        progress: bool = False,
    ) -> Tensor:
        """Draw ``n`` samples in the data range (images in ``[0, 1]``), D2, in the parameters' dtype.

        ``sampler="ddpm"``: ancestral sampling (Algorithm 2), ``steps`` default ``T`` (fewer respaces
        the chain); ``"ddim"``: Song et al. 2020, ``steps`` default ``min(50, T)``, ``eta`` 0
        deterministic (see ``samplers``; a ``Sampler`` object may be passed instead of a name).
        Conditional models: ``y`` an int, a ``(n,)`` tensor, or ``None`` (cycle through the classes);
        ``guidance_scale`` ``w``: ``ε = (1 + w) ε(x, y) − w ε(x, ∅)`` (``w = −1``: unconditional).
        """
        cfg: DDPMConfig = self.config
        n = check_count(n)
        sampler = make_sampler(sampler, steps=steps, eta=eta)
        scheduler = sampler.scheduler(self.schedule_config, variance_type=self.variance_type)
        scheduler.set_timesteps(sampler.num_steps(cfg.num_train_timesteps))
        labels = sample_labels(self, y, n, num_classes=cfg.num_classes)
        weight = next(self.net.parameters())
        x_T = standard_normal((n, *cfg.data_shape), like=weight, generator=generator)  # D2: x_T ~ N(0, I)
        C = cfg.data_shape[0]

        def denoise(x_t: Tensor, t: Tensor) -> Tensor:
            return guided_output(self.net, x_t, t, y=labels, guidance_scale=guidance_scale, num_channels=C)

        with eval_mode(self):
            x0 = sample_loop(denoise, scheduler, x_T, generator=generator, progress=progress, **sampler.step_kwargs())
        return self.from_model_space(x0)
