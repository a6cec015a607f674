"""Approximate inference of a posterior ``p(z|x) ∝ p(x, z)`` (X2): variational inference and MCMC.

The VAE's encoder amortizes inference (one network maps every ``x`` to its ``q(z|x)``); the alternatives it
amortizes work example by example, given only the log joint ``log p(x, z)`` of a batch of ``x``:

- **variational inference** (V1, V4): per-example diagonal Gaussians ``q_b = N(μ_b, diag σ_b²)`` optimized by
  Adam on the reparameterized ELBO, all examples of the batch in parallel (independent parameters);
- **Hamiltonian Monte Carlo** (Neal, "MCMC using Hamiltonian dynamics", 2011, arXiv:1206.1901) with the
  step size tuned during a discarded burn-in by dual averaging (Hoffman & Gelman, "The No-U-Turn Sampler",
  2014, arXiv:1111.4246, §3.2.1), one chain per example; **MALA** (Metropolis-adjusted Langevin; Roberts &
  Tweedie 1996) is HMC with one leapfrog step;
- **effective sample size** of a chain by Geyer's initial monotone sequence estimator (Geyer, "Practical
  Markov chain Monte Carlo", Statistical Science, 1992).

Contract (``LogJoint``): a callable ``log_joint(z)`` with ``z`` ``(..., B, Z)`` → ``(..., B)``, the log joint
``log p(x_b, z)`` of example ``b`` of a fixed batch, differentiable in ``z``; leading axes are sample axes
(``ProbabilisticPCA.log_joint(x, ·)`` is one as it stands). Examples must not interact: the methods sum the
batch's terms to get every example's gradient at once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.gaussian import LOG_2PI

LogJoint = Callable[[Tensor], Tensor]  # z (..., B, Z) → log p(x_b, z) (..., B)


def _randn(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)


def _check_positive(**values: float) -> None:
    for name, v in values.items():
        if not v > 0:
            raise ConfigError(f"{name} must be > 0, got {v}")


# --- variational inference ---------------------------------------------------------------------
def gaussian_entropy(logvar: Tensor) -> Tensor:
    """``H[N(μ, diag σ²)] = ½ Σ_k (1 + log 2π + log σ_k²)`` → ``(B,)`` for ``logvar`` ``(B, Z)``."""
    return 0.5 * (1.0 + LOG_2PI + logvar).sum(-1)


def gaussian_elbo(log_joint: LogJoint, mu: Tensor, logvar: Tensor, *, samples: int = 1,
                  generator: torch.Generator | None = None) -> Tensor:
    """V1 with V4: ``ELBO(q) ≈ 1/S Σ_s log p(x, μ + σ ε_s) + H[q]`` (the entropy in closed form) → ``(B,)``.

    Differentiable in ``μ`` and ``log σ²`` (``(B, Z)`` each); ``S = samples`` draws per example.
    """
    eps = _randn((samples, *mu.shape), mu, generator)  # (S, B, Z)
    z = mu + torch.exp(0.5 * logvar) * eps  # (S, B, Z)
    return log_joint(z).mean(0) + gaussian_entropy(logvar)


@dataclasses.dataclass
class VIResult:
    """Per-example diagonal Gaussians ``q_b = N(mu_b, diag exp(logvar_b))`` and their ELBO per step."""

    mu: Tensor  # (B, Z)
    logvar: Tensor  # (B, Z)
    elbo_trace: Tensor  # (steps, B): the Monte Carlo ELBO of each step's q (before its update)


def fit_gaussian_vi(log_joint: LogJoint, mu0: Tensor, logvar0: Tensor, *, steps: int = 500, lr: float = 0.05,
                    samples: int = 1, generator: torch.Generator | None = None) -> VIResult:
    """X2, variational inference: ``max_{μ_b, σ_b} ELBO(q_b)`` for every example ``b`` of the batch.

    Adam (elementwise, so each example's ``(μ_b, log σ_b²)`` is optimized independently although the batch
    shares one optimizer) ascends the reparameterized ELBO of ``gaussian_elbo`` with ``samples`` draws per
    step, from ``(mu0, logvar0)`` ``(B, Z)`` (e.g. the encoder's ``q``: the optimized ``q`` then measures
    the amortization gap; Cremer, Li & Duvenaud, "Inference Suboptimality in Variational Autoencoders",
    2018, arXiv:1801.03558). The learning rate decays as a cosine to 0 over ``steps``, so the last
    iterate settles instead of jittering with the gradient noise. The model's parameters are not touched.
    """
    if mu0.shape != logvar0.shape or mu0.dim() != 2:
        raise ConfigError(f"mu0 and logvar0 must both be (B, Z), got {tuple(mu0.shape)} and {tuple(logvar0.shape)}")
    if steps < 1 or samples < 1:
        raise ConfigError(f"steps and samples must be ≥ 1, got steps={steps}, samples={samples}")
    _check_positive(lr=lr)
    mu = mu0.detach().clone().requires_grad_(True)
    logvar = logvar0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([mu, logvar], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    trace = []
    with torch.enable_grad():
        for _ in range(steps):
            elbo = gaussian_elbo(log_joint, mu, logvar, samples=samples, generator=generator)  # (B,)
            opt.zero_grad(set_to_none=True)
            (-elbo.sum()).backward()  # examples are independent: the sum gives each its own gradient
            opt.step()
            sched.step()
            trace.append(elbo.detach())
    return VIResult(mu.detach(), logvar.detach(), torch.stack(trace))


@torch.no_grad()
def gaussian_log_weights(log_joint: LogJoint, mu: Tensor, logvar: Tensor, k: int, *,
                         generator: torch.Generator | None = None) -> Tensor:
    """V5/V8 with the proposal ``q = N(μ, diag σ²)``: ``log p(x, z_j) − log q(z_j)``, ``z_j ~ q`` → ``(B, k)``."""
    eps = _randn((k, *mu.shape), mu, generator)  # (k, B, Z)
    z = mu + torch.exp(0.5 * logvar) * eps
    log_q = (-0.5 * (LOG_2PI + eps**2)).sum(-1) - 0.5 * logvar.sum(-1)  # (k, B), V4
    return (log_joint(z) - log_q).T


@torch.no_grad()
def importance_log_likelihood(log_joint: LogJoint, mu: Tensor, logvar: Tensor, k: int, *, chunk: int = 250,
                              generator: torch.Generator | None = None) -> Tensor:
    """V8: ``log p(x) ≈ log 1/k Σ_j p(x, z_j)/q(z_j)``, ``z_j ~ N(μ, diag σ²)``, in chunks of ``chunk``
    draws with a running log-sum-exp → ``(B,)`` float64. A lower bound in expectation, tighter for a ``q``
    closer to ``p(z|x)`` (Burda et al. 2015, arXiv:1509.00519)."""
    if k < 1 or chunk < 1:
        raise ConfigError(f"k and chunk must be ≥ 1, got k={k}, chunk={chunk}")
    acc = torch.full((mu.shape[0],), -math.inf, dtype=torch.float64, device=mu.device)
    for j in range(0, k, chunk):
        log_w = gaussian_log_weights(log_joint, mu, logvar, min(chunk, k - j), generator=generator)  # (B, kc)
        acc = torch.logaddexp(acc, torch.logsumexp(log_w.double(), dim=1))
    return acc - math.log(k)


# --- Hamiltonian Monte Carlo ---------------------------------------------------------------------
@dataclasses.dataclass
class MCMCResult:
    """One chain per example: the kept draws, their acceptance, the tuned step size."""

    samples: Tensor  # (steps, B, Z), after the discarded burn-in
    accept_rate: Tensor  # (B,): share of accepted proposals among the kept steps
    step_size: Tensor  # (B,): the step size after adaptation (in units of `scale`)


def _log_joint_and_grad(log_joint: LogJoint, z: Tensor) -> tuple[Tensor, Tensor]:
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        lp = log_joint(z)  # (B,)
        (g,) = torch.autograd.grad(lp.sum(), z)
    return lp.detach(), g


def hmc(log_joint: LogJoint, z0: Tensor, *, steps: int = 500, leapfrog: int = 10, step_size: float = 0.1,
        burn_in: int | None = None, adapt: bool = True, target_accept: float = 0.65, jitter: float = 0.2,
        scale: Tensor | None = None, generator: torch.Generator | None = None) -> MCMCResult:
    """X2, MCMC: Hamiltonian Monte Carlo (Neal 2011) on ``log_joint``, one independent chain per example.

    One iteration: momentum ``r ~ N(0, I)``; ``leapfrog`` steps of ``r ← r + ε/2 ∇log p``, ``u ← u + ε r``,
    ``r ← r + ε/2 ∇log p``; accept with probability ``min(1, exp(H − H'))``, ``H = −log p(u) + ½‖r‖²``.
    The chain runs in ``u = z / scale`` (``scale`` ``(B, Z)``, e.g. a ``q``'s σ; default 1): a diagonal
    mass matrix ``diag(1/scale²)``. Each iteration's ``ε`` is the chain's step size times ``U(1 − jitter,
    1 + jitter)`` (Neal 2011 §5.4.2.2: a fixed trajectory length can be periodic on Gaussian targets).

    ``burn_in`` iterations (default ``steps // 2``) come first and are discarded; with ``adapt`` each chain's
    step size is tuned there by dual averaging toward an acceptance probability of ``target_accept``
    (Hoffman & Gelman 2014, §3.2.1: ``γ = 0.05``, ``t0 = 10``, ``κ = 0.75``, ``μ = log 10 ε0``), then frozen
    at the averaged value. ``steps`` iterations are then kept → ``samples`` ``(steps, B, Z)``. The averaged
    step size is conservative: the kept iterations' acceptance lands about 0.1–0.15 above ``target_accept``
    (0.78–0.82 for the default 0.65 on correlated Gaussians), inside the 0.65–0.9 band where HMC is efficient
    (Neal 2011 §5.4.1; Beskos et al. 2013's optimum 0.651).
    """
    if z0.dim() != 2:
        raise ConfigError(f"z0 must be (B, Z), one chain per example, got {tuple(z0.shape)}")
    if steps < 1 or leapfrog < 1:
        raise ConfigError(f"steps and leapfrog must be ≥ 1, got steps={steps}, leapfrog={leapfrog}")
    _check_positive(step_size=step_size)
    if not 0 < target_accept < 1 or not 0 <= jitter < 1:
        raise ConfigError(f"target_accept must be in (0, 1) and jitter in [0, 1), got {target_accept}, {jitter}")
    burn_in = steps // 2 if burn_in is None else burn_in
    B = z0.shape[0]
    s = torch.ones_like(z0) if scale is None else scale.detach().expand_as(z0)

    def log_p(u: Tensor) -> Tensor:  # the target in u = z / s (the Jacobian is a constant)
        return log_joint(u * s)

    u = (z0.detach() / s).clone()
    lp, grad = _log_joint_and_grad(log_p, u)  # (B,), (B, Z)
    eps = torch.full((B,), float(step_size), dtype=z0.dtype, device=z0.device)
    # dual averaging state (Hoffman & Gelman 2014, Algorithm 5)
    mu_da, h_bar, log_eps_bar = torch.log(10 * eps), torch.zeros_like(eps), torch.zeros_like(eps)
    gamma, t0, kappa = 0.05, 10.0, 0.75
    kept, accepted = [], torch.zeros_like(eps)
    for it in range(burn_in + steps):
        jit = 1 + jitter * (2 * torch.rand((B,), generator=generator, dtype=z0.dtype).to(z0.device) - 1)
        e = (eps * jit)[:, None]  # (B, 1)
        r = _randn(tuple(u.shape), u, generator)  # (B, Z)
        h0 = -lp + 0.5 * r.pow(2).sum(-1)
        u_new, r_new, g_new = u, r + 0.5 * e * grad, grad
        for i in range(leapfrog):
            u_new = u_new + e * r_new
            lp_new, g_new = _log_joint_and_grad(log_p, u_new)
            r_new = r_new + (e if i < leapfrog - 1 else 0.5 * e) * g_new
        h1 = -lp_new + 0.5 * r_new.pow(2).sum(-1)
        alpha = torch.exp(torch.clamp(h0 - h1, max=0.0)).nan_to_num(0.0)  # (B,), NaN/inf energies → reject
        accept = _rand_like(alpha, generator) < alpha
        u = torch.where(accept[:, None], u_new, u)
        lp = torch.where(accept, lp_new, lp)
        grad = torch.where(accept[:, None], g_new, grad)
        if it < burn_in:
            if adapt:
                m = it + 1.0
                h_bar = (1 - 1 / (m + t0)) * h_bar + (target_accept - alpha) / (m + t0)
                log_eps = mu_da - math.sqrt(m) / gamma * h_bar
                log_eps_bar = m ** (-kappa) * log_eps + (1 - m ** (-kappa)) * log_eps_bar
                eps = log_eps.exp()
                if it == burn_in - 1:
                    eps = log_eps_bar.exp()
        else:
            accepted += accept.to(eps.dtype)
            kept.append(u * s)
    return MCMCResult(torch.stack(kept), accepted / steps, eps)


def _rand_like(t: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.rand(tuple(t.shape), generator=generator, dtype=t.dtype).to(t.device)


def mala(log_joint: LogJoint, z0: Tensor, *, steps: int = 500, step_size: float = 0.1, target_accept: float = 0.574,
         **kwargs) -> MCMCResult:
    """X2, MCMC: the Metropolis-adjusted Langevin algorithm, ``z' = z + ε²/2 ∇log p(z) + ε ξ`` with a
    Metropolis–Hastings correction: exactly HMC with one leapfrog step (Neal 2011 §5.2), its step size tuned
    toward an acceptance of 0.574 (Roberts & Rosenthal 1998's optimum). Other arguments as ``hmc``."""
    return hmc(log_joint, z0, steps=steps, leapfrog=1, step_size=step_size, target_accept=target_accept, **kwargs)


# --- effective sample size -----------------------------------------------------------------------
def autocorrelation(chains: Tensor) -> Tensor:
    """Autocorrelation ``ρ_t`` along the first axis (the biased estimator ``γ_t / γ_0``, by FFT) → same shape."""
    n = chains.shape[0]
    x = chains - chains.mean(0)
    f = torch.fft.rfft(x.double(), n=2 * n, dim=0)
    acov = torch.fft.irfft(f * f.conj(), n=2 * n, dim=0)[:n] / n  # (n, ...)
    return (acov / acov[:1].clamp_min(1e-300)).to(chains.dtype)


def effective_sample_size(chains: Tensor) -> Tensor:
    """ESS of each chain and dimension: ``chains`` ``(n, ...)`` (draws first, e.g. ``(n, B, Z)``) → ``(...)``.

    Geyer's (1992) initial monotone sequence estimator: ``ESS = n / τ``, ``τ = −1 + 2 Σ_{k<K} Γ_k`` with
    ``Γ_k = ρ_{2k} + ρ_{2k+1}``, summed while ``Γ_k > 0`` (the initial positive sequence) and with each ``Γ_k``
    replaced by ``min(Γ_0 … Γ_k)`` (monotone). For an AR(1) chain of coefficient ``φ``, ``τ = (1 + φ)/(1 − φ)``.
    An antithetic chain (``ρ_1 < 0``) can have ``ESS > n``; as in Stan, ``τ ≥ 1/log10 n`` caps it at ``n log10 n``.
    """
    n = chains.shape[0]
    if n < 4:
        raise ConfigError(f"effective_sample_size needs at least 4 draws per chain, got {n}")
    rho = autocorrelation(chains)
    m = n // 2
    pairs = rho[: 2 * m].reshape(m, 2, *rho.shape[1:]).sum(1)  # Γ_k, (m, ...)
    positive = torch.cumprod((pairs > 0).to(rho.dtype), dim=0)  # 1 up to the first Γ_k ≤ 0
    monotone = torch.cummin(pairs, dim=0).values
    tau = -1 + 2 * (positive * monotone).sum(0)
    return n / tau.clamp_min(1 / math.log10(n))
