"""D4: the variational bound of DDPM — decoder, Gaussian KLs, prior term, and the total checked
against a direct Monte Carlo estimate of E_q[log q(x_{1:T}|x_0) − log p_θ(x_{0:T})]."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal

from genlab.blocks.losses import discretized_gaussian_log_likelihood
from genlab.models.diffusion import DDPM
from genlab.models.gaussian import kl_normal, log_normal
from genlab.models.likelihood import bits_per_dim


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


BINS = torch.arange(256, dtype=torch.float64) / 127.5 - 1.0  # bin centres of 8-bit data in [-1, 1]


@pytest.mark.parametrize(
    ("mean", "scale"), [(0.0, 0.01), (0.37, 0.2), (-0.99, 0.05), (1.5, 1.0), (0.5, 1e-3)]
)
def test_discretized_gaussian_probabilities_sum_to_one_over_the_256_bins(mean, scale):
    logp = discretized_gaussian_log_likelihood(
        BINS, mean=torch.full_like(BINS, mean), log_scale=torch.full_like(BINS, math.log(scale))
    )
    assert float(logp.exp().sum()) == pytest.approx(1.0, abs=1e-9)


def test_discretized_gaussian_bin_mass_is_the_cdf_difference():
    mean, scale = torch.tensor(0.1, dtype=torch.float64), torch.tensor(0.03, dtype=torch.float64)
    normal = Normal(mean, scale)
    logp = discretized_gaussian_log_likelihood(
        BINS, mean=mean.expand_as(BINS), log_scale=scale.log().expand_as(BINS)
    )
    expected = normal.cdf(BINS + 1 / 255) - normal.cdf(BINS - 1 / 255)
    expected[0], expected[-1] = normal.cdf(BINS[0] + 1 / 255), 1 - normal.cdf(BINS[-1] - 1 / 255)
    mask = expected > 1e-10
    torch.testing.assert_close(logp[mask], expected[mask].log(), rtol=1e-7, atol=1e-9)


def _mlp_ddpm(T: int, **kw) -> DDPM:
    torch.manual_seed(0)
    return DDPM(data_shape=(2,), num_train_timesteps=T, hidden_dim=16, num_layers=1, **kw).double().eval()


@pytest.mark.parametrize("loss_type", ["simple", "hybrid"])  # hybrid: learned variance ≠ β̃_t
def test_denoising_kl_term_equals_its_monte_carlo_estimate(loss_type):
    # L_{t-1} = KL(q(x_{t-1}|x_t,x_0) ‖ p_θ(x_{t-1}|x_t)) in closed form vs E_q[log q − log p]
    model = _mlp_ddpm(50, beta_end=0.2, loss_type=loss_type)
    s = model.scheduler
    x0 = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    t = torch.tensor([20])
    x_t = s.add_noise(x0, torch.randn(1, 2, generator=_gen(1), dtype=torch.float64), t)
    with torch.no_grad():
        p, _ = s.p_mean_variance(model.net(x_t, t), x_t, t)
    q = s.q_posterior(x0, x_t, t)
    with torch.no_grad():
        closed = float(model.bound_term(model.net(x_t, t), x0, x_t, t))
    n = 200000
    z = q.mean + q.variance.sqrt() * torch.randn(n, 2, generator=_gen(2), dtype=torch.float64)
    log_ratio = log_normal(z, q.mean, q.log_variance) - log_normal(z, p.mean, p.log_variance)
    assert closed == pytest.approx(float(log_ratio.mean()), abs=4 * float(log_ratio.std()) / math.sqrt(n))
    assert closed == pytest.approx(float(kl_normal(q.mean, q.log_variance, p.mean, p.log_variance)))


@pytest.mark.parametrize("loss_type", ["simple", "hybrid"])
def test_bound_equals_direct_monte_carlo_of_the_trajectory_log_ratio(loss_type):
    # D4 with T = 4 in float64: nll_bpd (closed-form KLs) vs sampling x_{1:T} by the Markov forward chain
    T, n = 4, 20000
    model = _mlp_ddpm(T, beta_start=0.1, beta_end=0.6, loss_type=loss_type)
    s = model.scheduler
    x0 = torch.tensor([[0.3, -0.7]], dtype=torch.float64).repeat(n, 1)
    g = _gen(3)
    xs = [x0]
    log_q = torch.zeros(n, dtype=torch.float64)
    for t in range(T):  # x_t ~ N(√(1-β_t) x_{t-1}, β_t): the chain, not the closed form
        mean, var = (1 - s.betas[t]).sqrt() * xs[-1], s.betas[t]
        xs.append(mean + var.sqrt() * torch.randn(n, 2, generator=g, dtype=torch.float64))
        log_q += log_normal(xs[-1], mean, var.log().expand_as(mean))
    log_p = log_normal(xs[T], torch.zeros_like(x0), torch.zeros_like(x0))  # p(x_T) = N(0, I)
    with torch.no_grad():
        for t in range(T, 0, -1):  # p_θ(x_{t-1}|x_t), paper step t = code index t-1
            idx = torch.full((n,), t - 1)
            p, _ = s.p_mean_variance(model.net(xs[t], idx), xs[t], idx)
            log_p += log_normal(xs[t - 1], p.mean, p.log_variance)
    direct = bits_per_dim(log_q - log_p, 2)
    bound = model.nll_bpd(x0, generator=_gen(4))
    torch.testing.assert_close(bound.total, bound.prior + bound.diffusion + bound.reconstruction)
    se = float(direct.std()) / math.sqrt(n)
    assert float(bound.total.mean()) == pytest.approx(float(direct.mean()), abs=4 * se)


class _Oracle(nn.Module):
    """ε_θ(x_t, t) = the true noise, for a data set that is a single known batch x0."""

    def __init__(self, scheduler, x0):
        super().__init__()
        self.scheduler, self.x0 = scheduler, x0

    def forward(self, x_t, t, y=None):
        return self.scheduler.epsilon_from_x0(self.x0, x_t, t)


def test_oracle_denoiser_has_zero_denoising_terms_and_the_analytic_decoder_term():
    torch.manual_seed(0)
    model = DDPM(
        data_shape=(1, 8, 8), channels=8, channel_mults=(1,), attn_resolutions=(), norm_groups=4, num_heads=1
    ).double()
    x = torch.randint(0, 256, (2, 1, 8, 8), generator=_gen(5)).double() / 255
    x[0, 0, 0, :2] = torch.tensor([0.0, 1.0])  # both edge bins appear
    x0 = x * 2 - 1
    model.net = _Oracle(model.scheduler, x0)
    bound = model.nll_bpd(x, generator=_gen(6))
    assert torch.all(bound.diffusion.abs() < 1e-6)  # p_θ(x_{t-1}|x_t) = q(x_{t-1}|x_t, x_0) exactly
    # L_0: decoder N(x0, β̃_2) integrated over the bin of width 2/255 (edge bins: one-sided)
    sigma = math.sqrt(float(model.scheduler.posterior_variance[1]))
    std_normal = Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    inner = std_normal.cdf(torch.tensor(1 / 255 / sigma, dtype=torch.float64))
    per_dim = torch.where((x0 <= -1) | (x0 >= 1), -inner.log(), -(2 * inner - 1).log())
    torch.testing.assert_close(bound.reconstruction, bits_per_dim(per_dim.flatten(1).sum(1), 64))
    # L_T for T = 1000 with the linear schedule is tiny: ½(ᾱ_T x0² − ᾱ_T − log(1 − ᾱ_T)) per dim
    assert torch.all(bound.prior < 1e-4)
    abar = float(model.scheduler.alphas_cumprod[-1])
    prior = 0.5 * (abar * x0**2 - abar - math.log(1 - abar))
    torch.testing.assert_close(bound.prior, bits_per_dim(prior.flatten(1).sum(1), 64))


def test_untrained_model_bound_is_worse_than_the_oracle_bound():
    torch.manual_seed(0)
    model = DDPM(
        data_shape=(1, 8, 8),
        channels=8,
        channel_mults=(1,),
        attn_resolutions=(),
        norm_groups=4,
        num_heads=1,
        num_train_timesteps=100,
    )
    x = torch.randint(0, 256, (2, 1, 8, 8), generator=_gen(7)).float() / 255
    untrained = model.nll_bpd(x, generator=_gen(8))
    model.net = _Oracle(model.scheduler, x * 2 - 1)
    oracle = model.nll_bpd(x, generator=_gen(8))
    assert torch.all(torch.isfinite(untrained.total)) and torch.all(untrained.total > 0)
    assert torch.all(untrained.total > oracle.total + 1.0)
    torch.testing.assert_close(untrained.prior, oracle.prior)  # L_T has no parameters


def test_stratified_estimate_of_the_bound_is_unbiased():
    # terms=K draws one t per stratum and weights it: same expectation as all T − 1 terms
    model = _mlp_ddpm(30, beta_start=0.01, beta_end=0.3)
    n = 4000
    x0 = torch.tensor([[0.3, -0.7]], dtype=torch.float64).repeat(n, 1)
    full = model.nll_bpd(x0, generator=_gen(9)).diffusion
    few = model.nll_bpd(x0, generator=_gen(10), terms=4).diffusion
    se = (full.var() / n + few.var() / n).sqrt()
    assert float(few.mean()) == pytest.approx(float(full.mean()), abs=float(4 * se))
    assert float(few.std()) > float(full.std())  # fewer terms: same mean, more noise
