"""Variational diffusion model (D5): continuous-time ELBO with a learned noise schedule.

Kingma, Salimans, Poole & Ho, "Variational Diffusion Models", 2021, arXiv:2107.00630.

``q(z_t|x) = N(α_t x, σ_t² I)`` with ``σ_t² = sigmoid(γ(t))``, ``α_t² = 1 − σ_t²`` and
``SNR(t) = exp(−γ(t))`` (§3.1–3.2). The loss is ``−ELBO = L_diffusion + L_prior + L_reconstruction``
(§3.5), reported in bits/dim. Data convention: images in ``[0, 1]`` are read as 8-bit values
``k = round(255 x)`` and encoded as the bin centres ``(2k + 1)/256 − 1`` of ``[−1, 1]`` (the
paper's code); the decoder is a 256-way categorical. Vector data is used as given with a Gaussian
decoder.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.blocks.modes import eval_mode
from genlab.config import require
from genlab.errors import ConfigError
from genlab.models.base import Conditional, DiffusionBound, Model, ModelOutput
from genlab.models.diffusion.ddpm import BoundTerms
from genlab.models.diffusion.denoiser import DenoiserConfig, build_denoiser, denoiser_data_defaults
from genlab.models.diffusion.embeddings import drop_labels
from genlab.models.diffusion.noise_schedule import randn_like
from genlab.models.diffusion.samplers import Sampler, make_sampler
from genlab.models.diffusion.sampling import batch_labels, guided_output, sample_labels, sample_loop
from genlab.models.diffusion.vdm_schedule import FixedLinearSchedule, LearnedNoiseSchedule
from genlab.models.diffusion.vdm_scheduler import VDMScheduler
from genlab.models.gaussian import LOG_2PI, kl_normal, standard_normal
from genlab.models.inputs import check_count, check_data

_LOW_PRECISION = (torch.float16, torch.bfloat16)


@dataclasses.dataclass
class VDMConfig(DenoiserConfig):
    """VDM options: the network fields of ``DenoiserConfig`` plus the noise schedule and the loss."""

    noise_schedule: Literal["learned", "fixed_linear"] = "learned"  # learned monotone γ(t) or linear
    gamma_min: float = -13.3  # γ(0) at initialization (Kingma et al. §6: −13.3)
    gamma_max: float = 5.0  # γ(1) at initialization (5.0)
    schedule_hidden: int = 1024  # width of the monotone MLP of the learned schedule
    timesteps: int = 0  # 0: continuous-time loss (T → ∞, §5); T > 0: discrete-time loss (§4)
    antithetic_time_sampling: bool = True  # low-discrepancy t: (u + i/B) mod 1
    sample_steps: int = 250  # default number of sampling steps
    num_bins: int = 256  # categories of the image decoder (8-bit data)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.gamma_min < self.gamma_max,
            f"need gamma_min < gamma_max, got {self.gamma_min} and {self.gamma_max} (paper: -13.3, 5.0)",
        )
        require(
            self.timesteps >= 0,
            f"timesteps must be 0 (continuous time) or a positive T, got {self.timesteps}",
        )
        require(self.sample_steps >= 1, f"sample_steps must be >= 1, got {self.sample_steps}")


@dataclasses.dataclass
class VDMOutput(ModelOutput):
    """``loss`` = ``bpd`` = −ELBO in bits/dim = ``diffusion + prior + reconstruction`` (batch means)."""

    bpd: Tensor
    diffusion: Tensor
    prior: Tensor
    reconstruction: Tensor


class VDM(Model, Conditional, DiffusionBound):
    """D5: variational diffusion model, ``−ELBO = L_∞ + KL(q(z_1|x) ‖ N(0, I)) − E log p(x|z_0)``.

    Kingma et al. 2021, arXiv:2107.00630. Diffusion loss in continuous time (§5, ε-form)
    ``L_∞ = ½ E_{t~U(0,1), ε}[γ'(t) ‖ε − ε̂_θ(z_t; γ_t)‖²]`` (``γ'`` in closed form), or for
    ``timesteps = T`` the discrete loss ``½ T E[(exp(γ_t − γ_s) − 1) ‖ε − ε̂‖²]``, ``s = t − 1/T`` (§4).
    The network is conditioned on ``γ_t`` (not ``t``), which makes ``L_∞`` depend on the schedule only
    through its endpoints (§5.1). The schedule is trained on the ELBO itself (the variance-minimizing
    gradient of §5.3 is not implemented).
    """

    config_class: ClassVar[type[VDMConfig]] = VDMConfig
    data_defaults = staticmethod(denoiser_data_defaults)  # shape, classes; unconditional on mixture toys
    sample_options = frozenset({"sampler", "steps", "eta", "y", "guidance_scale", "progress"})
    #: what the trainer's per-epoch sample grid passes to ``sample``
    preview_sample_kwargs: ClassVar[dict] = {"sampler": "ddim", "steps": 50}
    #: draws of ``(t, ε)`` per example in ``nll_bpd`` when none are given
    bound_terms_default: ClassVar[int | None] = 1

    def __init__(self, config: VDMConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        cfg: VDMConfig = self.config
        self.data_kind = "image" if cfg.is_image else "vector"
        self.net = build_denoiser(cfg)
        if cfg.noise_schedule == "learned":
            self.gamma = LearnedNoiseSchedule(
                gamma_min=cfg.gamma_min, gamma_max=cfg.gamma_max, hidden=cfg.schedule_hidden
            )
        else:
            self.gamma = FixedLinearSchedule(gamma_min=cfg.gamma_min, gamma_max=cfg.gamma_max)

    @property
    def num_dims(self) -> int:
        return math.prod(self.config.data_shape)

    # ---- data and time ------------------------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """Data → ``f`` in model space: images ``k/255`` → bin centres ``(2k + 1)/256 − 1``; vectors as is.

        ``x`` is checked by ``check_data``: a float batch of ``data_shape`` (converted to the parameters'
        dtype; integer images are refused: ``x.float() / 255``), images in [0, 1]."""
        image = self.data_kind == "image"
        hint = "pass images in [0, 1] shaped like the training data" if image else \
            "pass vectors shaped like the training data"
        x = check_data(self, x, hint=hint, unit_interval=image)
        if self.data_kind == "vector":
            return x
        k = self._bin_index(x)
        return (2.0 * k + 1.0) / self.config.num_bins - 1.0

    def _bin_index(self, x: Tensor) -> Tensor:
        levels = self.config.num_bins - 1
        return torch.round(x.clamp(0.0, 1.0) * levels)  # (B, ...) in {0, …, 255}, float

    def time_input(self, gamma: Tensor) -> Tensor:
        """What the network sees as time: ``γ`` rescaled from ``[γ_min, γ_max]`` to ``[0, 1000]``."""
        cfg: VDMConfig = self.config
        return (gamma - cfg.gamma_min) / (cfg.gamma_max - cfg.gamma_min) * 1000.0

    def gamma_and_slope(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """``γ(t)`` and ``γ'(t)`` (B,): the loss weight of the continuous-time diffusion loss."""
        with torch.autocast(device_type=t.device.type, enabled=False):  # γ ≈ −13 needs float32
            return self.gamma.gamma_and_slope(t.float() if t.dtype in _LOW_PRECISION else t)

    def gamma_at(self, t: Tensor) -> Tensor:
        """``γ(t)`` (B,), computed outside autocast (bf16 cannot resolve ``γ`` near −13)."""
        with torch.autocast(device_type=t.device.type, enabled=False):
            return self.gamma(t.float() if t.dtype in _LOW_PRECISION else t)

    def sample_times(self, B: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``t ∈ (0, 1]`` (B,): antithetic ``(u + i/B) mod 1`` (§6 / App. of Kingma et al.) or i.i.d.; then
        rounded up to the grid ``{1/T, …, 1}`` for a discrete-time model."""
        cfg: VDMConfig = self.config
        device = generator.device if generator is not None else self.device
        dtype = next(self.net.parameters()).dtype  # float64 models draw float64 times
        if cfg.antithetic_time_sampling:
            u = torch.rand((), generator=generator, device=device, dtype=dtype)
            t = torch.remainder(u + torch.arange(B, device=device, dtype=dtype) / B, 1.0)
        else:
            t = torch.rand(B, generator=generator, device=device, dtype=dtype)
        t = t.to(self.device)
        if cfg.timesteps > 0:
            t = (torch.ceil(t * cfg.timesteps) / cfg.timesteps).clamp(min=1.0 / cfg.timesteps)
        return t

    # ---- the three terms of −ELBO, in nats per example ----------------------------------------------
    def diffusion_loss(self, f: Tensor, *, t: Tensor, noise: Tensor, y: Tensor | None = None) -> Tensor:
        """``L_diffusion`` in nats (B,) at times ``t`` (B,) and noise ``ε``, Kingma et al. §4–§5.

        ``z_t = α_t f + σ_t ε``, ``ε̂ = net(z_t, γ_t)``; continuous: ``½ γ'(t) ‖ε − ε̂‖²``;
        discrete (``timesteps = T``): ``½ T expm1(γ_t − γ_{t−1/T}) ‖ε − ε̂‖²``.
        """
        cfg: VDMConfig = self.config
        gamma_t, slope = self.gamma_and_slope(t)  # (B,), (B,)
        g = gamma_t.reshape(-1, *([1] * (f.dim() - 1)))  # (B, 1, ...)
        z_t = torch.sqrt(torch.sigmoid(-g)) * f + torch.sqrt(torch.sigmoid(g)) * noise  # q(z_t|x), §3.1
        eps_hat = self.net(z_t, self.time_input(gamma_t), y)
        sq_err = (noise - eps_hat).pow(2).flatten(1).sum(1)  # (B,)
        if cfg.timesteps == 0:
            return 0.5 * slope * sq_err
        gamma_s = self.gamma_at(t - 1.0 / cfg.timesteps)
        return 0.5 * cfg.timesteps * torch.expm1(gamma_t - gamma_s) * sq_err

    def prior_loss(self, f: Tensor) -> Tensor:
        """``L_prior = KL(q(z_1|x) ‖ N(0, I))`` in nats (B,), ``q(z_1|x) = N(α_1 f, σ_1²)``."""
        gamma_1 = self.gamma_at(torch.ones(1, dtype=f.dtype, device=f.device))  # (1,)
        mean = torch.sqrt(torch.sigmoid(-gamma_1)) * f
        logvar = F.logsigmoid(gamma_1).expand_as(f)  # log σ_1²
        return kl_normal(mean, logvar, torch.zeros_like(f), torch.zeros_like(f))

    def reconstruction_loss(self, f: Tensor, *, noise: Tensor) -> Tensor:
        """``L_reconstruction = −log p(x|z_0)`` in nats (B,) at ``z_0 = α_0 f + σ_0 ε`` (§3.3)."""
        gamma_0 = self.gamma_at(torch.zeros(1, dtype=f.dtype, device=f.device))  # (1,)
        z0_rescaled = f + torch.exp(0.5 * gamma_0) * noise  # z_0/α_0, since σ_0/α_0 = exp(γ_0/2)
        return -self.decoder_log_prob(f, z0_rescaled, gamma_0).flatten(1).sum(1)

    def decoder_log_prob(self, f: Tensor, z0_rescaled: Tensor, gamma_0: Tensor) -> Tensor:
        """``log p(x|z_0)`` element-wise for data ``f`` (model space) given ``z_0/α_0``.

        Images: the factorized categorical of Kingma et al. (their code), ``p(x = k|z_0) ∝
        exp(−½ (z_0/α_0 − f_k)²/exp(γ_0))`` over the bin centres ``f_k``; vectors:
        ``N(x; z_0/α_0, exp(γ_0))``.
        """
        if self.data_kind == "vector":
            return -0.5 * (LOG_2PI + gamma_0 + (z0_rescaled - f).pow(2) * torch.exp(-gamma_0))
        # the normalizer sums only the bins within 10 standard deviations of z_0/α_0: the rest weigh
        # < e^−50 relative (exact in float64), and at γ_0 = −13 that is 5 bins instead of 256
        K, delta = self.config.num_bins, 2.0 / self.config.num_bins  # bin width in [−1, 1]
        scale = torch.exp(0.5 * gamma_0)  # (1,) σ_0/α_0
        w = min(K - 1, math.ceil(10.0 * float(scale.detach().max()) / delta) + 1)
        nearest = ((z0_rescaled + 1.0) / delta - 0.5).round().clamp(0, K - 1)  # (B, ...) nearest bin
        idx = nearest[..., None] + torch.arange(-w, w + 1, dtype=f.dtype, device=f.device)  # (B, ..., 2w+1)
        logits = -0.5 * ((z0_rescaled[..., None] - ((2.0 * idx + 1.0) / K - 1.0)) / scale).pow(2)
        logits = logits.masked_fill((idx < 0) | (idx > K - 1), float("-inf"))
        target = -0.5 * ((z0_rescaled - f) / scale).pow(2)  # logit of the data's own bin (centre f)
        return target - torch.logsumexp(logits, dim=-1)

    def bound(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> BoundTerms:
        """D5: ``−ELBO`` per example in bits/dim (one Monte Carlo draw of ``t``, ``ε``, ``ε_0``)."""
        f = self.encode(x)
        y = batch_labels(self, y, f.shape[0], num_classes=self.config.num_classes)
        return self._bound(f, y, generator=generator)

    def _bound(self, f: Tensor, y: Tensor | None, *, generator: torch.Generator | None) -> BoundTerms:
        """``bound`` of encoded data ``f`` (model space) and checked labels."""
        t = self.sample_times(f.shape[0], generator=generator)
        diffusion = self.diffusion_loss(f, t=t, noise=randn_like(f, generator), y=y)
        prior = self.prior_loss(f)
        reconstruction = self.reconstruction_loss(f, noise=randn_like(f, generator))
        return BoundTerms.from_nats(prior, diffusion, reconstruction, self.num_dims)

    # ---- training and evaluation --------------------------------------------------------------------
    def forward(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> VDMOutput:
        """One Monte Carlo estimate of ``−ELBO`` in bits/dim on a batch; ``loss`` is its mean."""
        cfg: VDMConfig = self.config
        f = self.encode(x)
        y = batch_labels(self, y, f.shape[0], num_classes=self.config.num_classes)
        if self.conditioned and y is not None and self.training:
            y = drop_labels(y, cfg.p_uncond, generator=generator)
        terms = self._bound(f, y, generator=generator)
        bpd = terms.total.mean()
        return VDMOutput(
            loss=bpd,
            bpd=bpd,
            diffusion=terms.diffusion.mean(),
            prior=terms.prior.mean(),
            reconstruction=terms.reconstruction.mean(),
        )

    @torch.no_grad()
    def nll_bpd(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        terms: int | None = None,
    ) -> BoundTerms:
        """D5: ``−ELBO`` in bits/dim per example, averaged over ``terms`` Monte Carlo terms, each one draw
        of ``(t, ε)`` (and of the reconstruction noise); ``None``: ``bound_terms_default`` (1)."""
        terms = self.bound_terms_default if terms is None else terms
        if terms < 1:
            raise ConfigError(f"terms must be a positive number of draws of (t, ε), got {terms}")
        with eval_mode(self):
            f = self.encode(x)  # checked once for all draws
            y = batch_labels(self, y, f.shape[0], num_classes=self.config.num_classes)
            draws = [self._bound(f, y, generator=generator) for _ in range(terms)]
        return BoundTerms(*(torch.stack(parts).mean(0) for parts in zip(*draws, strict=True)))

    def elbo(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        terms: int | None = None,
    ) -> Tensor:
        """D5: the evidence lower bound ``≤ log p(x)`` in nats per example (B,): ``−nll_bpd · D ln 2``."""
        return self.nll_bpd(x, y, generator=generator, terms=terms).elbo(self.num_dims)

    # ---- sampling -----------------------------------------------------------------------------------
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
        """Draw ``n`` samples (images in ``[0, 1]``) with ``steps`` steps of the discretized reverse model.

        ``sampler="ddpm"``: ancestral sampling ``p(z_s|z_t) = q(z_s|z_t, x = x̂_θ(z_t))`` (§3.3);
        ``"ddim"``: the DDIM update (Song et al. 2020, Eq. (12)) on the same grid, ``eta`` 0
        deterministic (``VDMScheduler``; both default to ``sample_steps`` steps). ``y``/``guidance_scale``
        as in ``DDPM.sample``. Drawn in the dtype of the parameters.
        """
        cfg: VDMConfig = self.config
        n = check_count(n)
        sampler = make_sampler(sampler, steps=steps, eta=eta)
        scheduler = VDMScheduler(self.gamma_at, sampler.steps or cfg.sample_steps)
        labels = sample_labels(self, y, n, num_classes=cfg.num_classes)
        z_1 = standard_normal((n, *cfg.data_shape), like=next(self.net.parameters()), generator=generator)

        def denoise(z_t: Tensor, i: Tensor) -> Tensor:  # ε̂ = net(z_t, γ_t), with classifier-free guidance
            gamma_t = scheduler.gammas(int(i[0]), z_t)[0]
            time = self.time_input(gamma_t).expand(z_t.shape[0])
            return guided_output(self.net, z_t, time, y=labels, guidance_scale=guidance_scale)

        with eval_mode(self):
            z_0 = sample_loop(denoise, scheduler, z_1, generator=generator, progress=progress, eta=sampler.step_eta)
            gamma_0 = self.gamma_at(torch.zeros(1, dtype=z_0.dtype, device=z_0.device))
            x = z_0 / torch.sqrt(torch.sigmoid(-gamma_0))  # z_0/α_0
        if self.data_kind == "vector":
            return x
        # the mode of the categorical decoder p(x|z_0): the nearest bin centre
        k = torch.round(((x + 1.0) * cfg.num_bins - 1.0) / 2.0).clamp(0, cfg.num_bins - 1)
        return k / (cfg.num_bins - 1)
