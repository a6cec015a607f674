"""Markov hierarchical VAE with T stochastic layers (V9).

    p(x, z_{1:T}) = p(z_T) Π_{t=2..T} p_θ(z_{t−1}|z_t) · p_θ(x|z_1),   p(z_T) = N(0, I)
    q_φ(z_{1:T}|x) = q_φ(z_1|x) Π_{t=2..T} q_φ(z_t|z_{t−1})
    ELBO = E_q[log p(x, z_{1:T}) − log q(z_{1:T}|x)]
         = E_q[log p_θ(x|z_1)] − Σ_t E_q[KL_t],
    KL_t = log q(z_t|z_{t−1}) − log p(z_t|z_{t+1})  (t < T: Monte Carlo, one sample; the prior of z_t
           depends on z_{t+1}, which is drawn after z_t, so there is no closed form)
    KL_T = KL(q(z_T|z_{T−1}) ‖ N(0, I))            (closed form given z_{T−1}, V3)

Every conditional is a diagonal Gaussian whose (μ, log σ²) an MLP outputs. Layer 1 is the VAE's
encoder and decoder; the layers above are small MLPs.

``inference="ladder"`` (Sønderby et al. 2016, Eqs. (17)–(19)) keeps the generative model and the
networks and changes q: a deterministic bottom-up pass gives each layer an estimate
``(μ̂_t, σ̂_t²)`` (``μ̂_1, σ̂_1`` from the encoder, ``μ̂_{t+1}, σ̂_{t+1}`` from ``q_up`` applied to ``μ̂_t``);
then q runs top-down, as p does: ``q(z_T|x) = N(μ̂_T, σ̂_T²)`` and, for t < T,

    q(z_t|z_{t+1}, x) = N(μ_q, σ_q²),  σ_q² = 1/(σ̂_t⁻² + σ_{p,t}⁻²),  μ_q = σ_q² (μ̂_t σ̂_t⁻² + μ_{p,t} σ_{p,t}⁻²)

with ``(μ_{p,t}, σ_{p,t}²)`` the prior ``p(z_t|z_{t+1})``: the inference path shares the generative one,
and every KL_t has a closed form given ``z_{t+1}``. Upper layers tend to collapse (``KL_t → 0``,
their units inactive); two remedies are options: KL warm-up (V6, ``warmup_steps``) and free bits per
layer (``free_bits``: the loss uses ``max(λ, E_B KL_t)``; Kingma et al., "Improved Variational
Inference with Inverse Autoregressive Flow", 2016, arXiv:1606.04934).

``prior="vamp"`` replaces ``p(z_T) = N(0, I)`` by the VampPrior (Tomczak & Welling 2018, Eq. (9)): the
mixture ``(1/K) Σ_k N(z_T; μ̂_T(u_k), σ̂_T²(u_k))`` of the top layer's bottom-up estimate at ``K`` learned
pseudo-inputs ``u_k`` — exactly ``(1/K) Σ_k q(z_T|u_k)`` for the ladder, whose ``q(z_T|x)`` is that
estimate; for the Markov chain it is the same deterministic path (``q_up`` on the means). ``KL_T`` is then
the one-sample ``log q(z_T|·) − log p(z_T)``.
Burda, Grosse & Salakhutdinov, 2015, arXiv:1509.00519 (two stochastic layers; active units);
Sønderby et al., "Ladder Variational Autoencoders", 2016, arXiv:1602.02282;
Tomczak & Welling, "VAE with a VampPrior", 2018, arXiv:1705.07120.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.config import require
from genlab.models.base import ModelOutput
from genlab.models.beta_vae import BetaVAEConfig, KLWarmup
from genlab.models.gaussian import (
    kl_normal,
    kl_standard_normal,
    log_normal,
    log_normal_mixture,
    log_standard_normal,
    reparameterize,
    standard_normal,
)
from genlab.models.inputs import check_count
from genlab.models.networks import mlp
from genlab.models.vae import VAE
from genlab.models.vamp_prior import PseudoInputs


@dataclasses.dataclass
class HVAEConfig(BetaVAEConfig):
    latent_dim: int = 32  # dim z_1 (the layer next to x)
    upper_latent_dims: tuple[int, ...] = (16,)  # dims of z_2 … z_T (T = 1 + len)
    upper_hidden: tuple[int, ...] = (128,)  # MLP widths of q(z_t|z_{t−1}) and p(z_{t−1}|z_t)
    free_bits: float = 0.0  # λ: nats per layer below which the KL is not penalized (0: off)
    inference: Literal["markov", "ladder"] = "markov"  # q bottom-up (V9) or top-down (Sønderby et al. 2016)
    prior: Literal["standard", "vamp"] = "standard"  # p(z_T): N(0, I) or the VampPrior (Tomczak & Welling 2018)
    pseudo_inputs: int = 500  # K, the VampPrior's number of pseudo-inputs (prior="vamp")
    k: int = 1  # chains per example in the training bound: 1 the ELBO, k > 1 the IWAE bound L_k (V8)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.upper_latent_dims) >= 1 and all(d >= 1 for d in self.upper_latent_dims),
                f"upper_latent_dims needs at least one positive size (T ≥ 2), got {self.upper_latent_dims}")
        require(all(w >= 1 for w in self.upper_hidden),
                f"upper_hidden widths must be ≥ 1, got {self.upper_hidden}")
        require(self.free_bits >= 0, f"free_bits must be ≥ 0, got {self.free_bits}")
        require(self.pseudo_inputs >= 1, f"pseudo_inputs must be ≥ 1, got {self.pseudo_inputs}")
        require(self.k >= 1, f"k must be ≥ 1, got {self.k}")
        require(self.k == 1 or (self.free_bits == 0 and self.warmup_steps == 0 and self.beta == 1),
                f"k = {self.k} trains the importance-weighted bound, which has no KL weight: set free_bits=0, "
                "warmup_steps=0 and beta=1 (e.g. fine-tune a model trained with them, init_from=RUN/model)")

    @property
    def latent_dims(self) -> tuple[int, ...]:
        """``(dim z_1, …, dim z_T)``."""
        return (self.latent_dim, *self.upper_latent_dims)


@dataclasses.dataclass
class HVAEOutput(ModelOutput):
    """``loss = reconstruction + kl_weight · Σ_t max(free_bits, kl_t)``; ``elbo = −(reconstruction + kl)``."""

    reconstruction: Tensor  # −E_q log p_θ(x|z_1), mean over the batch (nats)
    kl: Tensor  # Σ_t KL_t, mean over the batch (nats)
    elbo: Tensor  # mean ELBO (nats)
    kl_weight: Tensor  # β_t of this step (V6)
    kl_layers: Tensor  # (T,): KL_t per layer, mean over the batch
    x_hat: Tensor  # decoder output for z_1, (B, *data_shape)
    iwae: Tensor | None = None  # k > 1: the mean L_k the loss is minus of (nats)

    def scalars(self) -> dict[str, Tensor]:
        """The 0-d terms plus ``kl_1 … kl_T`` (to watch upper layers collapse)."""
        return {**super().scalars(), **{f"kl_{t + 1}": v for t, v in enumerate(self.kl_layers)}}


@dataclasses.dataclass
class _Chain:
    """One draw ``z_{1:T} ~ q(·|x)`` and the per-example log terms of the ELBO."""

    z: list[Tensor]  # z_1 … z_T, each (B, dim z_t)
    q_mean: list[Tensor]  # the means of q(z_t|z_{t−1}) (q(z_1|x) for t = 1)
    x_hat: Tensor  # p_θ(x|z_1) parameters, (B, *data_shape)
    log_px: Tensor  # log p_θ(x|z_1), (B,)
    kl: list[Tensor]  # KL_1 … KL_T as defined in the module docstring, each (B,)


class HVAE(VAE):
    """V9: Markov hierarchical VAE; ``q(z_1|x)`` and ``p(x|z_1)`` are the VAE's networks."""

    config_class = HVAEConfig

    def __init__(self, config: HVAEConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        d = c.latent_dims
        # q_up[t−1]: z_{t} → (μ, log σ²) of z_{t+1};  p_down[t−1]: z_{t+1} → (μ, log σ²) of z_t
        self.q_up = nn.ModuleList(mlp([d[t], *c.upper_hidden, 2 * d[t + 1]], c.activation)
                                  for t in range(len(d) - 1))
        self.p_down = nn.ModuleList(mlp([d[t + 1], *reversed(c.upper_hidden), 2 * d[t]], c.activation)
                                    for t in range(len(d) - 1))
        self.kl_warmup = KLWarmup(c.warmup_steps)
        self.pseudo = PseudoInputs(c.pseudo_inputs, c.data_shape) if c.prior == "vamp" else None  # u_1 … u_K

    # --- the top prior p(z_T) -----------------------------------------------------------------
    def _bottom_up(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        """The deterministic estimates ``(μ̂_t, log σ̂_t²)``, t = 1 … T: the encoder, then ``q_up`` on each mean."""
        estimates = [self._encode(x)]  # (B, d_1) each
        for net in self.q_up:
            estimates.append(net(estimates[-1][0]).chunk(2, dim=-1))  # (B, d_{t+1}) each
        return estimates

    def _prior_components(self) -> tuple[Tensor, Tensor]:
        """The VampPrior's components ``(μ̂_T(u_k), log σ̂_T²(u_k))``, each ``(K, d_T)``."""
        return self._bottom_up(self.pseudo())[-1]

    def _log_prior_top(self, z: Tensor) -> Tensor:
        """``log p(z_T)`` → ``(N,)``: standard normal, or the VampPrior's mixture."""
        if self.pseudo is None:
            return log_standard_normal(z)
        return log_normal_mixture(z, *self._prior_components())

    def _sample_top(self, n: int, *, generator: torch.Generator | None) -> Tensor:
        """``n`` draws of ``z_T ~ p(z_T)`` → ``(n, d_T)``; the VampPrior picks a component uniformly, then
        draws from it."""
        like = next(self.parameters())
        if self.pseudo is None:
            return standard_normal((n, self.config.latent_dims[-1]), like=like, generator=generator)
        mu, logvar = self._prior_components()  # (K, d_T) each
        where = like.device if generator is None else generator.device
        k = torch.randint(len(mu), (n,), generator=generator, device=where).to(like.device)  # (n,)
        return reparameterize(mu[k], logvar[k], generator=generator)

    def _kl_top(self, z: Tensor, mu: Tensor, logvar: Tensor, closed_form: bool) -> Tensor:
        """``KL_T`` per example: V3 in closed form where asked and the prior is ``N(0, I)``, else the one-sample
        ``log q(z_T|·) − log p(z_T)``."""
        if closed_form and self.pseudo is None:
            return kl_standard_normal(mu, logvar)
        return log_normal(z, mu, logvar) - self._log_prior_top(z)

    # --- the chain --------------------------------------------------------------------------
    def _chain(self, x: Tensor, *, generator: torch.Generator | None, closed_form_top: bool,
               k: int = 1) -> _Chain:
        """``k`` chains per example (rows ``b·k … b·k + k − 1`` belong to example ``b``); the encoder
        ``q(z_1|x)`` runs once per example, not once per chain. ``x`` is checked here (``check_data``)."""
        if self.config.inference == "ladder":
            return self._ladder_chain(x, generator=generator, closed_form=closed_form_top, k=k)
        x, k = self._inputs(x), check_count(k, what="k")
        mu, logvar = self._encode(x)  # q(z_1|x), (B, d_1)
        if k > 1:
            mu, logvar = mu.repeat_interleave(k, 0), logvar.repeat_interleave(k, 0)  # (B·k, d_1)
            x = x.repeat_interleave(k, 0)  # (B·k, *data_shape)
        zs, means, log_q = [], [mu], []
        for t in range(len(self.q_up) + 1):
            if t > 0:
                mu, logvar = self.q_up[t - 1](zs[-1]).chunk(2, dim=-1)  # q(z_t|z_{t−1})
                means.append(mu)
            z = reparameterize(mu, logvar, generator=generator)
            zs.append(z)
            log_q.append(log_normal(z, mu, logvar))
        kl = []
        for t, net in enumerate(self.p_down):  # layers 1 … T−1: log q(z_t|·) − log p(z_t|z_{t+1})
            mu_p, logvar_p = net(zs[t + 1]).chunk(2, dim=-1)
            kl.append(log_q[t] - log_normal(zs[t], mu_p, logvar_p))
        kl.append(self._kl_top(zs[-1], mu, logvar, closed_form_top))  # layer T, given z_{T−1}
        x_hat = self.decode(zs[0])  # (B, *data_shape)
        return _Chain(z=zs, q_mean=means, x_hat=x_hat, log_px=self.log_px_given_z(x, x_hat), kl=kl)

    def _ladder_chain(self, x: Tensor, *, generator: torch.Generator | None, closed_form: bool, k: int) -> _Chain:
        """The ladder's q (module docstring): the bottom-up estimates, then z_T … z_1 drawn top-down. With
        ``closed_form`` each KL_t is ``KL(q(z_t|z_{t+1}, x) ‖ p(z_t|z_{t+1}))`` in closed form; otherwise the
        one-sample ``log q − log p`` (what importance weights need)."""
        x, k = self._inputs(x), check_count(k, what="k")
        estimates = self._bottom_up(x)  # (μ̂_t, log σ̂_t²), each (B, d_t)
        if k > 1:
            estimates = [(m.repeat_interleave(k, 0), v.repeat_interleave(k, 0)) for m, v in estimates]
            x = x.repeat_interleave(k, 0)  # (B·k, *data_shape)
        mu, logvar = estimates[-1]  # q(z_T|x)
        z = reparameterize(mu, logvar, generator=generator)
        zs, means = [z], [mu]
        kl = [self._kl_top(z, mu, logvar, closed_form)]
        for t in reversed(range(len(self.p_down))):  # layers T−1 … 1 (0-based t)
            mu_p, logvar_p = self.p_down[t](zs[0]).chunk(2, dim=-1)  # p(z_t|z_{t+1})
            mu_hat, logvar_hat = estimates[t]
            w = torch.sigmoid(logvar_p - logvar_hat)  # σ̂⁻² / (σ̂⁻² + σ_p⁻²): the estimate's share
            mu_q, logvar_q = w * mu_hat + (1 - w) * mu_p, -torch.logaddexp(-logvar_hat, -logvar_p)
            z = reparameterize(mu_q, logvar_q, generator=generator)
            zs.insert(0, z)
            means.insert(0, mu_q)
            kl.insert(0, kl_normal(mu_q, logvar_q, mu_p, logvar_p) if closed_form
                      else log_normal(z, mu_q, logvar_q) - log_normal(z, mu_p, logvar_p))
        x_hat = self.decode(zs[0])  # (B, *data_shape)
        return _Chain(z=zs, q_mean=means, x_hat=x_hat, log_px=self.log_px_given_z(x, x_hat), kl=kl)

    # --- objectives -------------------------------------------------------------------------
    def forward(self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
                ) -> HVAEOutput:
        """``loss = −E_q log p(x|z_1) + β_t Σ_t max(λ, E_B KL_t)`` with one chain sample per example; with
        ``k > 1``, ``loss = −mean_B L_k`` over ``k`` chains (Burda et al. Eq. (8); ``elbo`` is then the mean
        ``log w``)."""
        c = self.config
        if c.k > 1:
            return self._iwae_forward(x, generator=generator)
        ch = self._chain(x, generator=generator, closed_form_top=True)
        rec = -ch.log_px.mean()
        kl_layers = torch.stack([k.mean() for k in ch.kl])  # (T,)
        penalized = kl_layers.clamp(min=c.free_bits) if c.free_bits > 0 else kl_layers
        w = self.kl_warmup.weight(c.beta)
        kl = kl_layers.sum()
        return HVAEOutput(loss=rec + w * penalized.sum(), reconstruction=rec, kl=kl, elbo=-(rec + kl),
                          kl_weight=rec.new_tensor(w), kl_layers=kl_layers.detach(), x_hat=ch.x_hat)

    def _iwae_forward(self, x: Tensor, *, generator: torch.Generator | None) -> HVAEOutput:
        from genlab.models.likelihood import iwae_bound  # V8, log-sum-exp over the k chains

        k = self.config.k
        ch = self._chain(x, generator=generator, closed_form_top=False, k=k)
        log_w = (ch.log_px - torch.stack(ch.kl).sum(0)).view(-1, k)  # (B, k)
        iwae = iwae_bound(log_w).mean()
        rec = -ch.log_px.mean()
        kl_layers = torch.stack([kl.mean() for kl in ch.kl]).detach()  # (T,): one-sample estimates
        x_hat = ch.x_hat.view(-1, k, *ch.x_hat.shape[1:])[:, 0]  # (B, *data_shape): each example's first chain
        return HVAEOutput(loss=-iwae, reconstruction=rec, kl=kl_layers.sum(), elbo=log_w.mean(),
                          kl_weight=rec.new_tensor(1.0), kl_layers=kl_layers, x_hat=x_hat, iwae=iwae)

    @torch.no_grad()
    def elbo(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """V9: per-example ELBO (nats), one chain sample, ``(B,)``."""
        ch = self._chain(x, generator=generator, closed_form_top=True)
        return ch.log_px - torch.stack(ch.kl).sum(0)

    def log_importance_weights(self, x: Tensor, k: int, *, generator: torch.Generator | None = None
                               ) -> Tensor:
        """V8: ``log p(x, z_{1:T}) − log q(z_{1:T}|x)`` for ``k`` chains per example → ``(B, k)``."""
        ch = self._chain(x, generator=generator, closed_form_top=False, k=k)
        return (ch.log_px - torch.stack(ch.kl).sum(0)).view(len(x), k)

    # --- generation and diagnostics ---------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, mean: bool = True) -> Tensor:
        """V9/V7: ``z_T ~ p(z_T)`` (``N(0, I)``, or a uniformly chosen VampPrior component),
        ``z_{t−1} ~ p_θ(z_{t−1}|z_t)``, ``x ~ p_θ(x|z_1)`` (the mean by default)."""
        z = self._sample_top(check_count(n), generator=generator)  # (n, d_T)
        for net in reversed(self.p_down):
            mu, logvar = net(z).chunk(2, dim=-1)
            z = reparameterize(mu, logvar, generator=generator)
        return self._to_data(self.decode(z), mean=mean, generator=generator)

    @torch.no_grad()
    def active_units(self, x: Tensor, threshold: float = 0.01, *, n_samples: int = 20,
                     generator: torch.Generator | None = None) -> list[int]:
        """Active units per layer (Burda et al. 2015, §5.2): unit ``u`` is active if
        ``Cov_x(E_{q(z|x)}[z_u]) > threshold``. Where q's mean of a layer depends on a sampled layer
        (``t ≥ 2`` bottom-up; ``t < T`` in the ladder) the inner expectation is its mean over ``n_samples``
        chains. Returns ``[A_1, …, A_T]``."""
        ch = self._chain(x, generator=generator, closed_form_top=True, k=n_samples)
        return [count_active_units(m.view(len(x), n_samples, -1).mean(1), threshold) for m in ch.q_mean]


def count_active_units(posterior_means: Tensor, threshold: float = 0.01) -> int:
    """Number of units whose posterior mean ``E_q[z_u|x]`` ``(N, L)`` varies across ``x`` by more than
    ``threshold`` (variance over the ``N`` examples; Burda et al. 2015)."""
    return int((posterior_means.var(0, unbiased=False) > threshold).sum())
