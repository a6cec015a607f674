"""Approximate inference side by side on the same posteriors (X2): variational inference, the VAE's amortized
encoder, and MCMC (``genlab.models.inference``).

- ``compare_on_ppca``: probabilistic PCA, whose posterior ``p(z|x) = N(m, C)`` is exact (X1): per-example VI's
  ``q`` by its exact ``KL(q ‖ p)`` (V3) and against the closed-form optimum of a diagonal Gaussian (mean ``m``,
  variances ``1/diag(C⁻¹)``); the exact posterior itself as a check; HMC and MALA by their moment errors,
  acceptance and effective sample size.
- ``compare_on_vae``: a trained VAE: the encoder's ELBO, the per-example optimized ELBO started from the
  encoder's ``q``, the amortization gap (Cremer, Li & Duvenaud, "Inference Suboptimality in Variational
  Autoencoders", 2018, arXiv:1801.03558), the importance-sampled ``log p(x)`` (V8) with each ``q`` as the
  proposal, and HMC's diagnostics on the VAE's posterior.

Both return plain ``dict[str, float]`` (nats per example where a figure is a log density; seconds of wall time).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import torch
from torch import Tensor

from genlab.models.gaussian import log_standard_normal
from genlab.models.inference import (
    LogJoint,
    MCMCResult,
    effective_sample_size,
    fit_gaussian_vi,
    gaussian_elbo,
    hmc,
    importance_log_likelihood,
    mala,
)
from genlab.models.ppca import ProbabilisticPCA, kl_gaussians
from genlab.models.vae import VAE


def _mean(t: Tensor) -> float:
    return float(t.double().mean())


@torch.no_grad()
def elbo_estimate(log_joint: LogJoint, mu: Tensor, logvar: Tensor, *, samples: int = 100, chunk: int = 25,
                  generator: torch.Generator | None = None) -> Tensor:
    """V1: ``gaussian_elbo`` with ``samples`` draws per example, ``chunk`` at a time → ``(B,)`` float64."""
    total, done = torch.zeros(mu.shape[0], dtype=torch.float64, device=mu.device), 0
    while done < samples:
        s = min(chunk, samples - done)
        total += gaussian_elbo(log_joint, mu, logvar, samples=s, generator=generator).double() * s
        done += s
    return total / samples


def _chain_diagnostics(prefix: str, r: MCMCResult, seconds: float) -> dict[str, float]:
    ess = effective_sample_size(r.samples)  # (B, Z)
    return {f"{prefix}_accept": _mean(r.accept_rate), f"{prefix}_accept_min": float(r.accept_rate.min()),
            f"{prefix}_accept_max": float(r.accept_rate.max()), f"{prefix}_step_size": _mean(r.step_size),
            f"{prefix}_ess_min": float(ess.min(-1).values.double().mean()),  # worst dimension, mean over chains
            f"{prefix}_ess_median": float(ess.median(-1).values.double().mean()),
            f"{prefix}_draws": float(r.samples.shape[0]), f"{prefix}_seconds": seconds}


# --- probabilistic PCA: the exact posterior is known -----------------------------------------------------
@torch.no_grad()
def compare_on_ppca(ppca: ProbabilisticPCA, x: Tensor, *, vi_steps: int = 1000, vi_lr: float = 0.1,
                    vi_samples: int = 8, mcmc_steps: int = 500, leapfrog: int = 10, k: int = 1000,
                    seed: int = 0) -> dict[str, float]:
    """Every method's posterior against the exact ``p(z|x) = N(m, C)`` of a PPCA, on the examples ``x``.

    - ``exact_*``: the PPCA's own ``q = p(z|x)``: ``KL = 0`` and ``ELBO = log p(x)`` (checks of the figures);
    - ``vi_*``: ``fit_gaussian_vi`` from ``N(0, I)`` (``vi_steps`` Adam steps, ``vi_samples`` draws per step):
      ``vi_kl`` = exact ``KL(q ‖ p)`` (= ``log p(x) − ELBO(q)``), ``vi_kl_optimum`` = the KL of the best diagonal
      Gaussian (mean ``m``, variances ``1/diag(C⁻¹)``: the mean-field floor), ``vi_mean_error_sd`` = RMS of
      ``(μ − m)/√diag C``, ``vi_logvar_error`` = RMS of ``log σ² − log(1/diag C⁻¹)``; ``vi_is_log_px``: V8 with
      ``k`` draws from ``q``;
    - ``hmc_*`` / ``mala_*``: ``mcmc_steps`` kept draws per chain (as many discarded for burn-in) started at 0,
      ``hmc_mean_error_sd`` = RMS of ``(mean of draws − m)/√diag C`` next to its Monte Carlo size
      ``hmc_mean_error_sd_expected`` = ``√mean(1/ESS)``, ``hmc_cov_error`` = mean ``‖Ĉ − C‖_F / ‖C‖_F``,
      acceptance, ESS (worst and median dimension, mean over chains), step size.
    """
    g = torch.Generator().manual_seed(seed)
    x = x.flatten(1).to(ppca.W.dtype)
    B, L = x.shape[0], ppca.latent_dim
    m, C = ppca.posterior(x)  # (B, L), (L, L)
    sd = C.diagonal().sqrt()  # (L,)
    log_px = ppca.log_prob(x)  # (B,)

    def log_joint(z: Tensor) -> Tensor:
        return ppca.log_joint(x, z)

    out: dict[str, float] = {"n": float(B), "latent_dim": float(L), "log_px": _mean(log_px)}
    out["exact_kl"] = _mean(ppca.kl_to_posterior(x, m, C))
    out["exact_elbo"] = _mean(ppca.elbo(x, m, C))

    t = time.perf_counter()
    zeros = torch.zeros(B, L, dtype=x.dtype)
    vi = fit_gaussian_vi(log_joint, zeros, zeros, steps=vi_steps, lr=vi_lr, samples=vi_samples, generator=g)
    out["vi_seconds"] = time.perf_counter() - t
    q_cov = torch.diag_embed(vi.logvar.exp())  # (B, L, L)
    opt_var = 1 / torch.linalg.inv(C).diagonal()  # (L,): the diagonal optimum's variances
    out["vi_kl"] = _mean(ppca.kl_to_posterior(x, vi.mu, q_cov))
    out["vi_kl_optimum"] = _mean(kl_gaussians(m[:1], torch.diag(opt_var), m[:1], C))
    out["vi_elbo"] = _mean(ppca.elbo(x, vi.mu, q_cov))
    out["vi_mean_error_sd"] = float(((vi.mu - m) / sd).pow(2).mean().sqrt())
    out["vi_logvar_error"] = float((vi.logvar - opt_var.log()).pow(2).mean().sqrt())
    out["vi_is_log_px"] = _mean(importance_log_likelihood(log_joint, vi.mu, vi.logvar, k, generator=g))

    for name, sampler in (("hmc", hmc), ("mala", mala)):
        t = time.perf_counter()
        kwargs = {"leapfrog": leapfrog} if name == "hmc" else {}
        r = sampler(log_joint, zeros, steps=mcmc_steps, burn_in=mcmc_steps, step_size=0.1, generator=g, **kwargs)
        seconds = time.perf_counter() - t
        draws = r.samples  # (S, B, L)
        mean_hat = draws.mean(0)  # (B, L)
        d = draws - mean_hat
        cov_hat = torch.einsum("sbi,sbj->bij", d, d) / (draws.shape[0] - 1)  # (B, L, L)
        ess = effective_sample_size(draws)  # (B, L)
        out |= _chain_diagnostics(name, r, seconds)
        out[f"{name}_mean_error_sd"] = float(((mean_hat - m) / sd).pow(2).mean().sqrt())
        out[f"{name}_mean_error_sd_expected"] = float((1 / ess).mean().sqrt())
        out[f"{name}_cov_error"] = _mean(torch.linalg.matrix_norm(cov_hat - C) / torch.linalg.matrix_norm(C))
    return out


# --- a trained VAE: the amortization gap -----------------------------------------------------------------
def vae_log_joint(vae: VAE, x: Tensor) -> LogJoint:
    """``z`` ``(..., B, L)`` → ``log p_θ(x_b|z) + log N(z; 0, I)`` ``(..., B)``, for the batch ``x``
    ``(B, *data_shape)`` (a ``LogJoint``)."""
    x = x.to(next(vae.parameters()).dtype)

    def log_joint(z: Tensor) -> Tensor:
        lead, (B, L) = z.shape[:-2], z.shape[-2:]
        zf = z.reshape(-1, L)  # (n·B, L)
        xr = x.expand(*lead, *x.shape).reshape(-1, *x.shape[1:])  # (n·B, *data_shape)
        return (vae.log_px_given_z(xr, vae.decode(zf)) + log_standard_normal(zf)).view(*lead, B)

    return log_joint


@contextlib.contextmanager
def _frozen(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients while inference differentiates through the model; restored after."""
    flags, was_training = [p.requires_grad for p in model.parameters()], model.training
    model.eval().requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(f)
        model.train(was_training)


def compare_on_vae(vae: VAE, x: Tensor, *, vi_steps: int = 300, vi_lr: float = 0.02, vi_samples: int = 4,
                   elbo_samples: int = 100, k: int = 1000, hmc_examples: int = 100, mcmc_steps: int = 300,
                   leapfrog: int = 10, seed: int = 0) -> dict[str, float]:
    """Amortized vs per-example inference on a VAE's posteriors ``p_θ(z|x)``, for the examples ``x``.

    - ``encoder_elbo``: the encoder's ``q_φ(z|x)``; ``optimized_elbo``: ``fit_gaussian_vi`` started from it
      (``vi_steps`` Adam steps of lr ``vi_lr``, ``vi_samples`` draws per step); both estimated afresh with
      ``elbo_samples`` draws (the same ``ε`` for both); ``gap`` = optimized − encoder (nats per example; also
      ``gap_median``, ``gap_min``, ``gap_negative_share``), the amortization gap of Cremer et al. 2018;
    - ``is_log_px_encoder`` / ``is_log_px_optimized``: V8 with ``k`` draws from each ``q`` (a better proposal gives
      a tighter, i.e. larger, bound);
    - ``hmc_*``: HMC on the first ``hmc_examples`` posteriors, started at the encoder's mean with its σ as the
      diagonal mass scale: acceptance, ESS, step size; ``*_mean_error_sd`` = RMS of ``(μ_q − mean of draws)/sd of
      draws`` for the encoder's and the optimized ``q``; ``*_log_sd_ratio`` = mean ``log(σ_q / sd of draws)``
      (mean-field VI tends to under-cover: < 0).
    """
    g = torch.Generator().manual_seed(seed)
    out: dict[str, float] = {"n": float(len(x))}
    with _frozen(vae):
        x = x.to(next(vae.parameters()).dtype)
        log_joint = vae_log_joint(vae, x)
        t = time.perf_counter()
        with torch.no_grad():
            mu_e, logvar_e = vae.encode(x)  # (B, L) each
        out["encoder_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        vi = fit_gaussian_vi(log_joint, mu_e, logvar_e, steps=vi_steps, lr=vi_lr, samples=vi_samples, generator=g)
        out["vi_seconds"] = time.perf_counter() - t
        # common random numbers: both ELBOs see the same ε, so their difference has little Monte Carlo noise
        elbo_e = elbo_estimate(log_joint, mu_e, logvar_e, samples=elbo_samples,
                               generator=torch.Generator().manual_seed(seed + 1))  # (B,)
        elbo_o = elbo_estimate(log_joint, vi.mu, vi.logvar, samples=elbo_samples,
                               generator=torch.Generator().manual_seed(seed + 1))
        gap = elbo_o - elbo_e
        out |= {"encoder_elbo": _mean(elbo_e), "optimized_elbo": _mean(elbo_o), "gap": _mean(gap),
                "gap_median": float(gap.median()), "gap_min": float(gap.min()),
                "gap_negative_share": _mean((gap < 0).double())}
        for name, (mu, logvar) in (("encoder", (mu_e, logvar_e)), ("optimized", (vi.mu, vi.logvar))):
            t = time.perf_counter()
            out[f"is_log_px_{name}"] = _mean(importance_log_likelihood(log_joint, mu, logvar, k, chunk=100,
                                                                       generator=g))
            out[f"is_seconds_{name}"] = time.perf_counter() - t
        out["k"] = float(k)

        n = min(hmc_examples, len(x))
        t = time.perf_counter()
        r = hmc(vae_log_joint(vae, x[:n]), mu_e[:n], steps=mcmc_steps, burn_in=mcmc_steps, leapfrog=leapfrog,
                step_size=0.5, scale=(0.5 * logvar_e[:n]).exp(), generator=g)
        out |= _chain_diagnostics("hmc", r, time.perf_counter() - t)
        out["hmc_examples"] = float(n)
        mean_h, sd_h = r.samples.mean(0), r.samples.std(0)  # (n, L)
        for name, (mu, logvar) in (("encoder", (mu_e, logvar_e)), ("optimized", (vi.mu, vi.logvar))):
            out[f"{name}_mean_error_sd"] = float(((mu[:n] - mean_h) / sd_h).pow(2).mean().sqrt())
            out[f"{name}_log_sd_ratio"] = _mean(0.5 * logvar[:n] - sd_h.log())
    return {key: (v if math.isfinite(v) else float("nan")) for key, v in out.items()}
