"""X2, approximate inference: per-example variational inference, HMC/MALA and the effective sample size
(``genlab.models.inference``), and the side-by-side comparisons (``genlab.evaluation.inference``)."""

import math

import pytest
import torch

from genlab.errors import ConfigError
from genlab.evaluation.inference import compare_on_ppca, compare_on_vae, elbo_estimate, vae_log_joint
from genlab.models.inference import (
    effective_sample_size,
    fit_gaussian_vi,
    hmc,
    importance_log_likelihood,
    mala,
)
from genlab.models.ppca import ProbabilisticPCA, kl_gaussians
from genlab.models.vae import VAE, VAEConfig


def _correlated_ppca(seed=0):
    """D = 12, L = 3, columns of W correlated: a posterior with clearly non-zero correlations."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.tensor([[1.0, 0.9, 0.0], [0.0, 0.45, 0.3], [0.0, 0.0, 1.0]], dtype=torch.float64)
    W = torch.randn(12, 3, generator=g, dtype=torch.float64) @ mix
    ppca = ProbabilisticPCA(W, torch.randn(12, generator=g, dtype=torch.float64), 0.5)
    return ppca, ppca.sample(6, generator=g)


def _gaussian_log_joint(mean, cov):
    precision = torch.linalg.inv(cov)

    def log_joint(z):  # (..., B, 2) → (..., B)
        d = z - mean
        return -0.5 * torch.einsum("...i,ij,...j->...", d, precision, d)

    return log_joint


def test_vi_on_a_ppca_posterior_reaches_the_diagonal_gaussian_optimum():
    # the best N(μ, diag σ²) for p = N(m, C): μ = m, σ_k² = 1/Λ_kk with Λ = C⁻¹ (mean-field, Bishop 2006 §10.1.2)
    ppca, x = _correlated_ppca()
    m, C = ppca.posterior(x)
    Lam = torch.linalg.inv(C)
    assert (C - torch.diag(C.diagonal())).abs().max() > 0.2 * C.diagonal().min()  # truly correlated
    zeros = torch.zeros_like(m)
    vi = fit_gaussian_vi(lambda z: ppca.log_joint(x, z), zeros, zeros, steps=1000, lr=0.1, samples=8,
                         generator=torch.Generator().manual_seed(0))
    sd = C.diagonal().sqrt()
    assert ((vi.mu - m) / sd).abs().max() < 0.15
    torch.testing.assert_close(vi.logvar.exp(), (1 / Lam.diagonal()).expand_as(m), rtol=0.12, atol=0)
    kl = ppca.kl_to_posterior(x, vi.mu, torch.diag_embed(vi.logvar.exp()))  # exact KL(q ‖ p(z|x)), V3
    kl_opt = kl_gaussians(m[:1], torch.diag(1 / Lam.diagonal()), m[:1], C)  # the mean-field floor
    assert kl_opt.item() > 0.05  # the restriction to a diagonal costs something here
    assert (kl - kl_opt).abs().max() < 0.03
    assert vi.elbo_trace.shape == (1000, len(x)) and (vi.elbo_trace[-50:].mean(0) > vi.elbo_trace[:10].mean(0)).all()


def test_vi_on_a_diagonal_posterior_matches_it_with_kl_near_zero():
    # a posterior that is itself diagonal: VI's q converges to it, KL(q ‖ p) → 0
    mean, var = torch.tensor([[1.0, -2.0]]), torch.tensor([0.3, 2.0])

    def log_joint(z):
        return -0.5 * ((z - mean) ** 2 / var).sum(-1)

    vi = fit_gaussian_vi(log_joint, torch.zeros(1, 2), torch.zeros(1, 2), steps=800, lr=0.1, samples=8,
                         generator=torch.Generator().manual_seed(1))
    kl = kl_gaussians(vi.mu, torch.diag(vi.logvar.exp()[0]), mean, torch.diag(var))
    assert kl.item() < 0.01


def test_hmc_reproduces_a_correlated_gaussians_moments_and_acceptance_is_in_the_target_band():
    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.9], [0.9, 1.0]], dtype=torch.float64)
    r = hmc(_gaussian_log_joint(mean, cov), torch.zeros(20, 2, dtype=torch.float64), steps=300, leapfrog=8,
            step_size=0.5, generator=torch.Generator().manual_seed(0))
    assert r.samples.shape == (300, 20, 2) and r.accept_rate.shape == (20,)
    assert 0.65 <= r.accept_rate.mean().item() <= 0.9
    draws = r.samples.reshape(-1, 2)
    ess = effective_sample_size(r.samples).sum(0)  # (2,): all chains
    assert ((draws.mean(0) - mean).abs() < 4 * cov.diagonal().sqrt() / ess.sqrt()).all()  # within 4 MC errors
    torch.testing.assert_close(torch.cov(draws.T), cov, atol=0.1, rtol=0)


def test_mala_samples_the_same_gaussian_with_its_own_acceptance_target():
    mean = torch.tensor([0.5, 0.0], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.5], [0.5, 2.0]], dtype=torch.float64)
    r = mala(_gaussian_log_joint(mean, cov), torch.zeros(20, 2, dtype=torch.float64), steps=800,
             generator=torch.Generator().manual_seed(2))
    assert 0.45 <= r.accept_rate.mean().item() <= 0.8
    draws = r.samples.reshape(-1, 2)
    torch.testing.assert_close(draws.mean(0), mean, atol=0.15, rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), cov, atol=0.25, rtol=0)


def test_hmc_refuses_a_chain_shape_it_cannot_run():
    with pytest.raises(ConfigError, match="one chain per example"):
        hmc(lambda z: -z.pow(2).sum(-1), torch.zeros(3), steps=5)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_effective_sample_size_of_an_ar1_chain_is_n_one_minus_phi_over_one_plus_phi(phi):
    g = torch.Generator().manual_seed(3)
    n, chains = 4000, 40
    eps = torch.randn(n, chains, generator=g, dtype=torch.float64)
    x = torch.empty_like(eps)
    x[0] = eps[0]
    for t in range(1, n):  # stationary AR(1) with unit variance
        x[t] = phi * x[t - 1] + math.sqrt(1 - phi**2) * eps[t]
    ess = effective_sample_size(x)  # (chains,)
    expected = n * (1 - phi) / (1 + phi)
    assert abs(ess.mean().item() / expected - 1) < 0.1


def _briefly_trained_vae():
    """A VAE(784 → 2) trained for 150 Adam steps on four noisy binary prototypes (seeded, a second or two)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    protos = (torch.rand(4, 784, generator=g) < 0.3).float()
    flip = torch.rand(256, 784, generator=g) < 0.05
    data = (protos[torch.arange(256) % 4] + flip.float()) % 2  # (256, 784)
    vae = VAE(VAEConfig(data_shape=(784,), latent_dim=2, hidden=(64,)))
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    for step in range(150):
        batch = data[(step * 64) % 256:][:64]
        loss = vae(batch, generator=g).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return vae, data[:8]


def test_amortization_gap_is_nonnegative_on_every_example_and_importance_sampling_tops_each_elbo():
    vae, x = _briefly_trained_vae()
    before = [p.detach().clone() for p in vae.parameters()]
    r = compare_on_vae(vae, x, vi_steps=150, vi_lr=0.05, elbo_samples=200, k=500, hmc_examples=4, mcmc_steps=60,
                       leapfrog=5)
    assert all(torch.equal(a, p) for a, p in zip(before, vae.parameters(), strict=True))  # the model is untouched
    assert all(p.requires_grad for p in vae.parameters()) and vae.training
    assert r["gap_min"] >= 0 and r["gap_negative_share"] == 0 and r["gap"] > 0  # amortization gap ≥ 0
    assert r["optimized_elbo"] >= r["encoder_elbo"]
    assert r["is_log_px_optimized"] >= r["optimized_elbo"]  # V8: the k-sample bound is above the ELBO
    assert r["is_log_px_encoder"] >= r["encoder_elbo"]
    assert 0 < r["hmc_accept"] <= 1 and r["hmc_ess_min"] > 0


def test_importance_sampling_with_the_optimized_proposal_is_at_least_the_elbo_per_example():
    vae, x = _briefly_trained_vae()
    vae.eval().requires_grad_(False)
    log_joint = vae_log_joint(vae, x)
    mu, logvar = vae.encode(x)
    vi = fit_gaussian_vi(log_joint, mu, logvar, steps=150, lr=0.05, samples=4,
                         generator=torch.Generator().manual_seed(0))
    elbo = elbo_estimate(log_joint, vi.mu, vi.logvar, samples=200, generator=torch.Generator().manual_seed(1))
    is_ll = importance_log_likelihood(log_joint, vi.mu, vi.logvar, 500, generator=torch.Generator().manual_seed(2))
    assert (is_ll >= elbo - 0.05).all()


def test_compare_on_ppca_reports_the_exact_checks_and_mcmc_errors_of_monte_carlo_size():
    ppca, x = _correlated_ppca(1)
    r = compare_on_ppca(ppca, x, vi_steps=400, mcmc_steps=200, leapfrog=8, k=200)
    assert abs(r["exact_kl"]) < 1e-8 and abs(r["exact_elbo"] - r["log_px"]) < 1e-8
    assert r["vi_kl"] >= r["vi_kl_optimum"] - 1e-3 and r["vi_elbo"] <= r["log_px"]
    assert r["vi_elbo"] <= r["vi_is_log_px"] <= r["log_px"] + 0.05
    for name in ("hmc", "mala"):
        assert r[f"{name}_mean_error_sd"] < 3 * r[f"{name}_mean_error_sd_expected"]
        assert r[f"{name}_cov_error"] < 0.5
    assert all(isinstance(v, float) for v in r.values())
