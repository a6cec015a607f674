"""The ELBO identities (V1), the KL (V3), the Monte Carlo ELBO (V5), the generative process (V7) and
the importance-weighted bound (V8), checked exactly on probabilistic PCA, where log p(x) and p(z|x)
are known in closed form (Tipping & Bishop 1999)."""

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from genlab.models.ppca import ProbabilisticPCA, kl_gaussians

D, L, B = 5, 2, 6


@pytest.fixture
def model():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(D, L, generator=g, dtype=torch.float64)
    b = torch.randn(D, generator=g, dtype=torch.float64)
    return ProbabilisticPCA(W, b, sigma2=0.3)


@pytest.fixture
def x(model):
    return model.sample(B, generator=torch.Generator().manual_seed(1))


def _random_q(seed=2):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(B, L, generator=g, dtype=torch.float64)
    A = torch.randn(B, L, L, generator=g, dtype=torch.float64)
    return mean, A @ A.transpose(1, 2) + 0.1 * torch.eye(L, dtype=torch.float64)


def test_general_gaussian_kl_equals_torch_distributions():
    m1, S1 = _random_q(3)
    m2, S2 = _random_q(4)
    ref = kl_divergence(MultivariateNormal(m1, S1), MultivariateNormal(m2, S2))
    torch.testing.assert_close(kl_gaussians(m1, S1, m2, S2), ref)


def test_bayes_rule_log_p_x_is_log_joint_minus_log_posterior_at_any_z(model, x):
    post_mean, post_cov = model.posterior(x)
    z = torch.randn(B, L, dtype=torch.float64)
    log_post = MultivariateNormal(post_mean, post_cov).log_prob(z)
    torch.testing.assert_close(model.log_joint(x, z) - log_post, model.log_prob(x))


def test_elbo_is_at_most_log_p_x_for_any_q(model, x):
    for seed in range(5):
        assert torch.all(model.elbo(x, *_random_q(seed)) <= model.log_prob(x))


def test_elbo_gap_is_the_kl_from_q_to_the_exact_posterior(model, x):
    for seed in range(5):
        q = _random_q(seed)
        gap = model.log_prob(x) - model.elbo(x, *q)
        torch.testing.assert_close(gap, model.kl_to_posterior(x, *q))
        assert torch.all(gap > 0)


def test_elbo_equals_log_p_x_when_q_is_the_exact_posterior(model, x):
    post_mean, post_cov = model.posterior(x)
    torch.testing.assert_close(model.elbo(x, post_mean, post_cov), model.log_prob(x))


def test_monte_carlo_elbo_is_unbiased(model, x):
    q = _random_q()
    n = 200_000
    log_w = model.log_importance_weights(x, n, *q, generator=torch.Generator().manual_seed(0))  # (B, n)
    standard_error = log_w.std(1) / math.sqrt(n)
    assert torch.all((log_w.mean(1) - model.elbo(x, *q)).abs() < 4 * standard_error)


def test_importance_weighted_bound_tightens_with_k_towards_log_p_x(model, x):
    q = _random_q()
    log_w = model.log_importance_weights(x, 100_000, *q, generator=torch.Generator().manual_seed(0))
    bounds = [(torch.logsumexp(log_w.view(B, -1, k), 2) - math.log(k)).mean(1) for k in (1, 10, 100, 10_000)]
    gaps = [(model.log_prob(x) - lk).mean().item() for lk in bounds]
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3] > -0.02
    assert gaps[3] < 0.1 * gaps[0]


def test_importance_weights_are_exactly_log_p_x_under_the_exact_posterior(model, x):
    post_mean, post_cov = model.posterior(x)
    log_w = model.log_importance_weights(x, 7, post_mean, post_cov.expand(B, L, L))
    torch.testing.assert_close(log_w, model.log_prob(x)[:, None].expand(B, 7))  # zero variance, any k


def test_generative_process_has_the_marginal_moments(model):
    s = model.sample(400_000, generator=torch.Generator().manual_seed(0))
    marginal = model.marginal()
    torch.testing.assert_close(s.mean(0), marginal.mean, atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(s.T), marginal.covariance_matrix, atol=0.03, rtol=0)


def test_maximum_likelihood_fit_noise_is_the_mean_discarded_eigenvalue():
    from genlab.models.pca import PCA

    W = 2 * torch.randn(D, L, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    true = ProbabilisticPCA(W, torch.zeros(D, dtype=torch.float64), 0.2)
    data = true.sample(20_000, generator=torch.Generator().manual_seed(0))
    fit = ProbabilisticPCA.fit(data, L)
    lam = PCA().fit(data).explained_variance_ * (len(data) - 1) / len(data)
    assert fit.sigma2 == pytest.approx(lam[L:].mean().item())
    assert abs(fit.sigma2 - 0.2) < 0.02
    ll = fit.log_prob(data).mean()
    perturbed = ProbabilisticPCA(fit.W * 1.1, fit.b, fit.sigma2)
    assert ll > perturbed.log_prob(data).mean() and ll > true.log_prob(data).mean() - 1e-3
