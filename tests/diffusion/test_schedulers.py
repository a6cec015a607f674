"""Schedulers without a network: D1 (forward process), D3 (posterior), D2 (DDPM/DDIM steps)."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.errors import ConfigError, GenlabError
from genlab.models.diffusion import (
    SAMPLERS,
    DDIMSampler,
    DDIMScheduler,
    DDPMSampler,
    DDPMScheduler,
    ScheduleConfig,
    cosine_beta_schedule,
    linear_beta_schedule,
    make_sampler,
    sample_loop,
    spaced_timesteps,
)

PREDICTIONS = ["epsilon", "sample", "v_prediction"]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- D1: schedules and the forward process ----------------------------------------------------------
def test_linear_schedule_pinned_endpoints_and_alpha_bar():
    s = DDPMScheduler()
    assert s.betas.dtype == torch.float64 and s.betas.shape == (1000,)
    assert float(s.betas[0]) == pytest.approx(1e-4, rel=1e-12)
    assert float(s.betas[-1]) == pytest.approx(0.02, rel=1e-12)
    assert float(s.alphas_cumprod[-1]) == pytest.approx(4.0358e-05, rel=1e-4)  # ᾱ_T
    assert float(s.alphas_cumprod[0]) == pytest.approx(1 - 1e-4, rel=1e-12)
    assert float(s.posterior_variance[1]) == pytest.approx(5.45319e-05, rel=1e-5)  # β̃_2
    assert float(s.posterior_variance[0]) == 0.0  # β̃_1 = 0: x_0 is known given x_1 and x_0


def test_cosine_schedule_pinned_values():
    betas = cosine_beta_schedule(1000)
    alpha_bar = torch.cumprod(1 - betas, 0)
    assert float(betas[-1]) == pytest.approx(0.999)  # clipped, Nichol & Dhariwal Eq. (17)
    assert float(alpha_bar[499]) == pytest.approx(0.493844, rel=1e-5)  # ≈ cos²(π/4 · …)
    # away from the clipped end ᾱ_t is exactly f(t)/f(0)
    s = 0.008
    f = lambda t: math.cos((t / 1000 + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    assert float(alpha_bar[249]) == pytest.approx(f(250) / f(0), rel=1e-12)
    assert torch.all(betas > 0) and torch.all(betas <= 0.999)


def test_linear_schedule_rejects_bad_endpoints():
    with pytest.raises(ConfigError, match="beta_start"):
        linear_beta_schedule(10, beta_start=0.5, beta_end=0.1)
    with pytest.raises(ConfigError, match="beta_schedule"):
        DDPMScheduler(beta_schedule="quadratic")


def test_closed_form_q_xt_x0_equals_iterated_one_step_kernels_exactly():
    # track x_t = m_t x_0 + noise of variance v_t through q(x_t|x_{t-1}) = N(√(1-β_t) x_{t-1}, β_t)
    for schedule in ("linear", "cosine"):
        s = DDPMScheduler(beta_schedule=schedule)
        m, v = 1.0, 0.0
        means, variances = [], []
        for beta in s.betas.tolist():
            m, v = math.sqrt(1 - beta) * m, (1 - beta) * v + beta
            means.append(m)
            variances.append(v)
        torch.testing.assert_close(
            torch.tensor(means, dtype=torch.float64), s.sqrt_alphas_cumprod, rtol=1e-12, atol=1e-15
        )
        torch.testing.assert_close(
            torch.tensor(variances, dtype=torch.float64), 1 - s.alphas_cumprod, rtol=1e-12, atol=1e-15
        )


def test_closed_form_samples_match_iterated_markov_chain_statistically():
    s = DDPMScheduler(num_train_timesteps=200)
    g = _gen(1)
    n, x0 = 20000, 0.7
    x = torch.full((n, 1), x0, dtype=torch.float64)
    for t in range(200):  # x_t = √(1-β_t) x_{t-1} + √β_t ε
        x = torch.sqrt(1 - s.betas[t]) * x + torch.sqrt(s.betas[t]) * torch.randn(
            x.shape, generator=g, dtype=x.dtype
        )
        if t in (49, 199):
            closed = s.add_noise(torch.full_like(x, x0), torch.randn(x.shape, generator=g, dtype=x.dtype), t)
            mean, var = float(s.sqrt_alphas_cumprod[t]) * x0, float(1 - s.alphas_cumprod[t])
            for sample in (x, closed):
                assert abs(float(sample.mean()) - mean) < 5 * math.sqrt(var / n)
                assert abs(float(sample.var()) - var) < 5 * var * math.sqrt(2 / n)


@pytest.mark.parametrize("prediction_type", PREDICTIONS)
def test_predict_x0_and_epsilon_invert_add_noise(prediction_type):
    s = DDPMScheduler(prediction_type=prediction_type)
    g = _gen(2)
    x0 = torch.randn(16, 3, 4, 4, generator=g, dtype=torch.float64)
    eps = torch.randn(16, 3, 4, 4, generator=g, dtype=torch.float64)
    t = torch.randint(0, 1000, (16,), generator=g)
    x_t = s.add_noise(x0, eps, t)
    out = s.training_target(x0, eps, t)  # what a perfect network outputs
    torch.testing.assert_close(s.predict_x0(out, x_t, t), x0, rtol=0, atol=1e-9)
    torch.testing.assert_close(s.predict_epsilon(out, x_t, t), eps, rtol=0, atol=1e-9)


@pytest.mark.parametrize("source", PREDICTIONS)
@pytest.mark.parametrize("target", PREDICTIONS)
def test_prediction_types_convert_into_each_other(source, target):
    a, b = DDPMScheduler(prediction_type=source), DDPMScheduler(prediction_type=target)
    g = _gen(3)
    x0, eps = (
        torch.randn(8, 2, generator=g, dtype=torch.float64),
        torch.randn(8, 2, generator=g, dtype=torch.float64),
    )
    t = torch.randint(0, 1000, (8,), generator=g)
    x_t = a.add_noise(x0, eps, t)
    out_a = a.training_target(x0, eps, t)
    out_b = b.training_target(a.predict_x0(out_a, x_t, t), a.predict_epsilon(out_a, x_t, t), t)
    torch.testing.assert_close(out_b, b.training_target(x0, eps, t), rtol=0, atol=1e-9)


def test_velocity_is_the_rotation_of_noise_and_data():
    s = DDPMScheduler()
    g = _gen(4)
    x0, eps = (
        torch.randn(8, 2, generator=g, dtype=torch.float64),
        torch.randn(8, 2, generator=g, dtype=torch.float64),
    )
    t = torch.randint(0, 1000, (8,), generator=g)
    a, b = s.sqrt_alphas_cumprod[t][:, None], s.sqrt_one_minus_alphas_cumprod[t][:, None]
    v = s.get_velocity(x0, eps, t)
    torch.testing.assert_close(v, a * eps - b * x0)
    x_t = s.add_noise(x0, eps, t)
    # (x_t, v) is (x_0, ε) rotated by φ with cos φ = √ᾱ: norms are preserved
    torch.testing.assert_close(x_t.pow(2) + v.pow(2), x0.pow(2) + eps.pow(2))


# ---- D3: the posterior --------------------------------------------------------------------------------
def test_q_posterior_equals_ho_eq_6_7():
    s = DDPMScheduler(beta_schedule="cosine")
    g = _gen(5)
    x0, x_t = (
        torch.randn(1000, 2, generator=g, dtype=torch.float64),
        torch.randn(1000, 2, generator=g, dtype=torch.float64),
    )
    t = torch.arange(1000)
    beta = s.betas[:, None]
    abar = torch.cumprod(1 - s.betas, 0)[:, None]
    abar_prev = torch.cat([torch.ones(1, 1, dtype=torch.float64), abar[:-1]])
    mean = (abar_prev.sqrt() * beta / (1 - abar)) * x0 + (
        (1 - beta).sqrt() * (1 - abar_prev) / (1 - abar)
    ) * x_t
    var = (1 - abar_prev) / (1 - abar) * beta
    post = s.q_posterior(x0, x_t, t)
    torch.testing.assert_close(post.mean, mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(post.variance, var.expand_as(x0), rtol=1e-12, atol=1e-15)


def test_q_posterior_equals_normalized_product_of_gaussians():
    # q(x_{t-1}|x_t, x_0) ∝ N(x_t; √α_t x_{t-1}, β_t) · N(x_{t-1}; √ᾱ_{t-1} x_0, 1 - ᾱ_{t-1}), for t ≥ 2
    s = DDPMScheduler()
    g = _gen(6)
    t = torch.arange(1, 1000)
    x0, x_t = (
        torch.randn(999, 1, generator=g, dtype=torch.float64),
        torch.randn(999, 1, generator=g, dtype=torch.float64),
    )
    alpha, beta = (1 - s.betas[t])[:, None], s.betas[t][:, None]
    abar_prev = torch.cumprod(1 - s.betas, 0)[t - 1][:, None]
    precision = alpha / beta + 1 / (1 - abar_prev)
    mean = (alpha.sqrt() * x_t / beta + abar_prev.sqrt() * x0 / (1 - abar_prev)) / precision
    post = s.q_posterior(x0, x_t, t)
    torch.testing.assert_close(post.variance, (1 / precision).expand_as(x0), rtol=1e-10, atol=0)
    torch.testing.assert_close(post.mean, mean, rtol=1e-10, atol=1e-12)


def test_q_posterior_at_first_step_is_a_point_mass_at_x0():
    s = DDPMScheduler()
    x0, x1 = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    post = s.q_posterior(x0, x1, 0)
    torch.testing.assert_close(post.mean, x0)
    assert torch.all(post.variance == 0)


# ---- timesteps ------------------------------------------------------------------------------------------
def test_spaced_timesteps_leading_trailing_linspace():
    lead = spaced_timesteps(1000, 50, spacing="leading")
    trail = spaced_timesteps(1000, 50, spacing="trailing")
    lin = spaced_timesteps(1000, 50, spacing="linspace")
    for ts in (lead, trail, lin):
        assert ts.shape == (50,) and torch.all(ts[:-1] > ts[1:]) and ts.min() >= 0 and ts.max() <= 999
    assert lead.tolist() == list(range(980, -1, -20))
    assert trail[0] == 999 and trail.tolist() == list(range(999, 0, -20))
    assert lin[0] == 999 and lin[-1] == 0
    for spacing in ("leading", "trailing", "linspace"):
        assert spaced_timesteps(10, 10, spacing=spacing).tolist() == list(range(9, -1, -1))


def test_set_timesteps_rejects_more_steps_than_training():
    with pytest.raises(ConfigError, match="steps <= 100"):
        DDIMScheduler(num_train_timesteps=100).set_timesteps(200)


def test_step_rejects_a_timestep_that_was_not_set():
    s = DDIMScheduler()
    s.set_timesteps(10)
    with pytest.raises(GenlabError, match="set_timesteps"):
        s.step(torch.zeros(1, 2), 500, torch.zeros(1, 2))


# ---- D2: DDPM and DDIM steps ---------------------------------------------------------------------------
def test_ddim_eta1_full_schedule_variance_equals_ddpm_posterior_variance():
    for schedule in ("linear", "cosine"):
        ddpm = DDPMScheduler(beta_schedule=schedule)
        ddim = DDIMScheduler.from_scheduler(ddpm)
        var = torch.tensor([ddim.variance(t, eta=1.0) for t in range(1000)], dtype=torch.float64)
        torch.testing.assert_close(var, ddpm.posterior_variance, rtol=1e-9, atol=1e-15)
        assert ddim.variance(500, eta=0.0) == 0.0


@pytest.mark.parametrize("prediction_type", PREDICTIONS)
def test_ddim_eta1_full_schedule_step_equals_ddpm_step(prediction_type):
    ddpm = DDPMScheduler(prediction_type=prediction_type, clip_sample=True)
    ddim = DDIMScheduler.from_scheduler(ddpm)
    g = _gen(7)
    for t in (999, 500, 10, 1, 0):
        x_t = torch.randn(8, 1, 3, 3, generator=g, dtype=torch.float64)
        out = torch.randn(8, 1, 3, 3, generator=g, dtype=torch.float64)
        a = ddpm.step(out, t, x_t, generator=_gen(t))
        b = ddim.step(out, t, x_t, eta=1.0, generator=_gen(t))
        torch.testing.assert_close(a.prev_sample, b.prev_sample, rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(a.pred_original_sample, b.pred_original_sample)


def _linear_model(x, t):  # a fixed stand-in for a network
    return 0.5 * x + 0.001 * t.to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))


def test_ddim_eta0_is_deterministic_and_eta1_is_not():
    s = DDIMScheduler()
    s.set_timesteps(20)
    x_T = torch.randn(4, 2, generator=_gen(8), dtype=torch.float64)
    a = sample_loop(_linear_model, s, x_T, generator=_gen(1), eta=0.0)
    b = sample_loop(_linear_model, s, x_T, generator=_gen(2), eta=0.0)
    assert torch.equal(a, b)
    c = sample_loop(_linear_model, s, x_T, generator=_gen(1), eta=1.0)
    d = sample_loop(_linear_model, s, x_T, generator=_gen(2), eta=1.0)
    assert not torch.allclose(c, d)


def _point_mass_oracle(scheduler, x0):
    def denoise(x_t, t):  # ε exactly: x_t = √ᾱ x0 + √(1-ᾱ) ε
        return scheduler.training_target(x0, scheduler.epsilon_from_x0(x0, x_t, t), t)

    return denoise


@pytest.mark.parametrize("prediction_type", PREDICTIONS)
def test_samplers_with_exact_denoiser_return_the_point_mass(prediction_type):
    x0 = torch.tensor([[0.3, -0.8]], dtype=torch.float64).repeat(16, 1)
    x_T = torch.randn(16, 2, generator=_gen(9), dtype=torch.float64)
    ddpm = DDPMScheduler(prediction_type=prediction_type)
    cases = [
        (ddpm, 1000, {}),
        (ddpm, 50, {}),
        (DDIMScheduler.from_scheduler(ddpm), 20, {"eta": 0.0}),
        (DDIMScheduler.from_scheduler(ddpm), 20, {"eta": 1.0}),
    ]
    for scheduler, steps, kwargs in cases:
        scheduler.set_timesteps(steps)
        out = sample_loop(_point_mass_oracle(scheduler, x0), scheduler, x_T, generator=_gen(10), **kwargs)
        torch.testing.assert_close(out, x0, rtol=0, atol=1e-8)


def _gaussian_oracle(m, sd):
    """ε̂ = E[ε|x_t] for data N(m, sd²) in 1-D: the Bayes-optimal network, in closed form."""
    abar_all = DDPMScheduler().alphas_cumprod

    def denoise(x_t, t):
        abar = abar_all[t].to(x_t.dtype)[:, None]
        x0_mean = m + abar.sqrt() * sd**2 / (abar * sd**2 + 1 - abar) * (x_t - abar.sqrt() * m)
        return (x_t - abar.sqrt() * x0_mean) / (1 - abar).sqrt()

    return denoise


def test_ddpm_with_exact_gaussian_denoiser_reproduces_the_data_distribution():
    m, sd, n = 0.3, 0.5, 4000
    x_T = torch.randn(n, 1, generator=_gen(11), dtype=torch.float64)
    x = sample_loop(_gaussian_oracle(m, sd), DDPMScheduler(), x_T, generator=_gen(12))
    assert abs(float(x.mean()) - m) < 4 * sd / math.sqrt(n)
    assert float(x.var()) == pytest.approx(sd**2, rel=4 * math.sqrt(2 / n))


def _ddim_gain(abar_t, abar_s, sd):
    # x_s = (√ᾱ_s √ᾱ_t sd² + √(1-ᾱ_s)√(1-ᾱ_t)) / v_t · x_t for data N(0, sd²), v_t = ᾱ_t sd² + 1 - ᾱ_t
    v_t = abar_t * sd**2 + 1 - abar_t
    return (math.sqrt(abar_s * abar_t) * sd**2 + math.sqrt((1 - abar_s) * (1 - abar_t))) / v_t


@pytest.mark.parametrize("steps", [10, 50])
def test_ddim_eta0_with_exact_gaussian_denoiser_is_the_predicted_linear_map(steps):
    # for N(0, sd²) data every DDIM step is a known gain; their product maps x_T to x_0 exactly
    sd = 0.5
    s = DDIMScheduler()
    s.set_timesteps(steps)
    abar = [float(a) for a in s.alphas_cumprod]
    ts = s.timesteps.tolist()
    gain = math.prod(
        _ddim_gain(abar[t], abar[p] if p >= 0 else 1.0, sd) for t, p in zip(ts, ts[1:] + [-1], strict=True)
    )
    x_T = torch.tensor([[1.0], [-2.0]], dtype=torch.float64)
    x = sample_loop(_gaussian_oracle(0.0, sd), s, x_T, eta=0.0)
    torch.testing.assert_close(x, gain * x_T, rtol=1e-10, atol=0)
    # with all T steps the deterministic map carries N(0, 1) onto N(0, sd²) (the probability-flow ODE)
    s.set_timesteps(1000)
    x = sample_loop(_gaussian_oracle(0.0, sd), s, x_T, eta=0.0)
    torch.testing.assert_close(x, sd * x_T, rtol=0.01, atol=0)


def test_respaced_ddpm_with_exact_gaussian_denoiser_has_the_predicted_variance():
    # respaced chain (Nichol & Dhariwal §4) on N(0, sd²) data: x_s = A x_t + σ z, so Var_s = A² Var_t + σ²
    sd, n = 0.5, 10000
    s = DDPMScheduler()
    s.set_timesteps(100)
    ts = s.timesteps.tolist()
    var = 1.0
    for t, p in zip(ts, ts[1:] + [-1], strict=True):
        abar_t, abar_s = float(s.alphas_cumprod[t]), (float(s.alphas_cumprod[p]) if p >= 0 else 1.0)
        beta = 1 - abar_t / abar_s
        coef_x0 = math.sqrt(abar_s) * beta / (1 - abar_t)
        coef_xt = math.sqrt(1 - beta) * (1 - abar_s) / (1 - abar_t)
        gain = coef_x0 * math.sqrt(abar_t) * sd**2 / (abar_t * sd**2 + 1 - abar_t) + coef_xt
        var = gain**2 * var + (beta * (1 - abar_s) / (1 - abar_t) if p >= 0 else 0.0)
    x_T = torch.randn(n, 1, generator=_gen(13), dtype=torch.float64)
    x = sample_loop(_gaussian_oracle(0.0, sd), s, x_T, generator=_gen(14))
    assert float(x.var()) == pytest.approx(var, rel=4 * math.sqrt(2 / n))
    assert var < 0.97 * sd**2  # fixed_small with few steps under-disperses; the test sees the difference


def test_learned_range_variance_interpolates_between_beta_tilde_and_beta():
    s = DDPMScheduler(variance_type="learned_range")
    x_t, t = torch.zeros(2, 1, dtype=torch.float64), torch.tensor([10, 10])
    for v, expected in ((1.0, s.betas[10]), (-1.0, s.posterior_variance[10])):
        out = torch.cat(
            [torch.zeros(2, 1, dtype=torch.float64), torch.full((2, 1), v, dtype=torch.float64)], 1
        )
        p, _ = s.p_mean_variance(out, x_t, t)
        torch.testing.assert_close(p.variance, torch.full_like(x_t, float(expected)))


def test_ddim_built_from_a_ddpm_scheduler_shares_its_training_schedule():
    ddpm = DDPMScheduler(num_train_timesteps=50, beta_schedule="cosine", prediction_type="v_prediction")
    for ddim in (DDIMScheduler.from_scheduler(ddpm), DDIMScheduler.from_config(ddpm.config)):
        assert torch.equal(ddim.alphas_cumprod, ddpm.alphas_cumprod)
        assert ddim.prediction_type == "v_prediction" and ddim.num_train_timesteps == 50


# ---- one schedule config, samplers as objects --------------------------------------------------------
def test_one_schedule_config_builds_both_schedulers_and_is_validated_once():
    cfg = ScheduleConfig(num_train_timesteps=40, beta_schedule="cosine", prediction_type="v_prediction")
    ddpm, ddim = DDPMScheduler(cfg, variance_type="learned_range"), DDIMScheduler(cfg)
    assert ddpm.config == ddim.config == cfg and ddpm.variance_type == "learned_range"
    assert torch.equal(ddpm.alphas_cumprod, ddim.alphas_cumprod)
    assert DDIMScheduler(cfg, clip_sample=True).config == cfg.replace(clip_sample=True)  # keyword overrides
    with pytest.raises(ConfigError, match="prediction_type"):
        ScheduleConfig(prediction_type="noise")
    with pytest.raises(ConfigError, match="num_train_timesteps"):
        ScheduleConfig(num_train_timesteps=0)


def test_schedule_config_of_a_model_config_reads_the_fields_of_the_same_name():
    from genlab.models.diffusion import DDPMConfig

    model_cfg = DDPMConfig(data_shape=(2,), num_train_timesteps=30, beta_end=0.05, clip_sample=True)
    cfg = ScheduleConfig.of(model_cfg)
    assert (cfg.num_train_timesteps, cfg.beta_end, cfg.clip_sample) == (30, 0.05, True)
    assert ScheduleConfig.of(model_cfg, clip_sample=False).clip_sample is False


def test_samplers_table_resolves_names_once_and_validates_their_options():
    assert set(SAMPLERS) == {"ddpm", "ddim"}
    ddim = make_sampler("ddim", steps=7, eta=0.5)
    assert isinstance(ddim, DDIMSampler) and ddim.step_kwargs() == {"eta": 0.5} and ddim.num_steps(100) == 7
    assert make_sampler(ddim) is ddim and make_sampler(ddim, steps=3).steps == 3
    ddpm = make_sampler("ddpm")
    assert isinstance(ddpm, DDPMSampler) and ddpm.step_eta == 1.0 and ddpm.num_steps(100) == 100
    assert DDIMSampler().num_steps(1000) == 50 and DDIMSampler().num_steps(20) == 20  # min(50, T)
    assert isinstance(ddpm.scheduler(ScheduleConfig()), DDPMScheduler)
    assert isinstance(ddim.scheduler(ScheduleConfig()), DDIMScheduler)
    for kwargs, message in (
        (dict(sampler="euler"), r"unknown sampler 'euler'.*'ddpm'.*'ddim'"),
        (dict(sampler="ddim", steps=0), "steps must be ≥ 1"),
        (dict(sampler="ddim", eta=-1.0), "eta must be ≥ 0"),
        (dict(sampler="ddpm", eta=0.5), "eta is an option of the DDIM sampler"),
    ):
        with pytest.raises(ConfigError, match=message):
            make_sampler(**kwargs)


def test_ddim_clipped_epsilon_recomputes_the_direction_from_the_clipped_x0_or_keeps_the_networks():
    x_t = torch.full((2, 3), 2.0, dtype=torch.float64)
    eps = torch.full((2, 3), -1.5, dtype=torch.float64)  # x̂_0 far outside [−1, 1]: clipping bites
    out = {}
    for consistent in (True, False):
        s = DDIMScheduler(clip_sample=True, clipped_epsilon=consistent)
        s.set_timesteps(10)
        t = int(s.timesteps[3])
        x0 = s.predict_x0(eps, x_t, t).clamp(-1, 1)
        kept = s.epsilon_from_x0(x0, x_t, t) if consistent else eps
        prev = s.alpha_cumprod_at(s.previous_timestep(t))
        expected = math.sqrt(prev) * x0 + math.sqrt(1 - prev) * kept  # Eq. (12) at η = 0
        out[consistent] = s.step(eps, t, x_t, eta=0.0).prev_sample
        torch.testing.assert_close(out[consistent], expected)
    assert not torch.allclose(out[True], out[False])
    unclipped = [DDIMScheduler(clip_sample=False, clipped_epsilon=flag) for flag in (True, False)]
    for s in unclipped:  # without clipping the flag changes nothing
        s.set_timesteps(10)
    t = int(unclipped[0].timesteps[3])
    torch.testing.assert_close(unclipped[0].step(eps, t, x_t).prev_sample, unclipped[1].step(eps, t, x_t).prev_sample)
