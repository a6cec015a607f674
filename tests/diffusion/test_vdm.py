"""D5: the variational diffusion model — learned monotone schedule, continuous-time loss, samplers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genlab.models.diffusion import VDM, LearnedNoiseSchedule


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randomize(schedule: LearnedNoiseSchedule, seed: int) -> LearnedNoiseSchedule:
    g = _gen(seed)
    with torch.no_grad():
        for name, p in schedule.named_parameters():
            if not name.startswith("gamma_"):
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 2.0)
    return schedule


def _vdm2d(**kw) -> VDM:
    torch.manual_seed(0)
    return VDM(data_shape=(2,), hidden_dim=16, num_layers=1, schedule_hidden=32, **kw)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learned_schedule_is_increasing_with_fixed_endpoints_for_random_parameters(seed):
    schedule = _randomize(LearnedNoiseSchedule(gamma_min=-13.3, gamma_max=5.0, hidden=64), seed).double()
    t = torch.linspace(0, 1, 2001, dtype=torch.float64)
    with torch.no_grad():
        gamma = schedule(t)
    assert torch.all(gamma[1:] > gamma[:-1])
    assert float(gamma[0]) == pytest.approx(-13.3, abs=1e-6) and float(gamma[-1]) == pytest.approx(
        5.0, abs=1e-6
    )
    assert not torch.allclose(gamma, -13.3 + 18.3 * t, atol=0.1)  # random parameters bend it


def test_learned_schedule_starts_linear_from_gamma_min_to_gamma_max():
    schedule = LearnedNoiseSchedule(gamma_min=-10.0, gamma_max=4.0, hidden=16).double()
    t = torch.rand(50, dtype=torch.float64)
    torch.testing.assert_close(schedule(t), -10.0 + 14.0 * t, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("schedule", ["learned", "fixed_linear"])
def test_diffusion_loss_weight_is_the_autograd_derivative_of_gamma(schedule):
    # with ε̂ = 0 the continuous-time loss is ½ γ'(t) ‖ε‖²; γ' must equal autograd's dγ/dt
    model = _vdm2d(noise_schedule=schedule).double()
    if schedule == "learned":
        _randomize(model.gamma, 3)
    model.net = _Zero()
    t = torch.tensor([0.0, 0.05, 0.3, 0.6, 0.95, 1.0], dtype=torch.float64, requires_grad=True)
    (autograd_slope,) = torch.autograd.grad(model.gamma(t).sum(), t)
    eps = torch.randn(6, 2, generator=_gen(4), dtype=torch.float64)
    loss = model.diffusion_loss(torch.zeros(6, 2, dtype=torch.float64), t=t.detach(), noise=eps)
    torch.testing.assert_close(loss, 0.5 * autograd_slope * eps.pow(2).sum(1), rtol=1e-10, atol=0)
    gamma, _ = model.gamma_and_slope(t.detach())
    torch.testing.assert_close(gamma, model.gamma(t.detach()), rtol=1e-12, atol=1e-12)


def test_vdm_bound_works_under_inference_mode():
    # Lightning validates under torch.inference_mode, where autograd cannot be used for γ'
    model = _vdm2d()
    x = torch.randn(8, 2, generator=_gen(5))
    with torch.inference_mode():
        out = model(x, generator=_gen(6))
    assert torch.isfinite(out.loss)
    torch.testing.assert_close(out.loss, model(x, generator=_gen(6)).loss.detach())


class _Zero(nn.Module):
    def forward(self, z, t, y=None):
        return torch.zeros_like(z)


def _integrated_diffusion_loss(model: VDM, f: torch.Tensor, eps: torch.Tensor, n_t: int = 2000) -> float:
    # ∫_0^1 L(t) dt by the midpoint rule, with the same ε at every t (common random numbers)
    t = (torch.arange(n_t, dtype=torch.float64) + 0.5) / n_t  # (n_t,)
    B = f.shape[0]
    tt = t.repeat_interleave(B)
    with torch.no_grad():
        loss = model.diffusion_loss(f.repeat(n_t, 1), t=tt, noise=eps.repeat(n_t, 1))
    return float(loss.mean())


def test_continuous_time_loss_depends_on_the_schedule_only_through_its_endpoints():
    # Kingma et al. §5.1: L_∞ = ½ ∫_{γ_0}^{γ_1} E‖ε − ε̂(z_γ, γ)‖² dγ, whatever the path in between
    model = _vdm2d().double()
    f = torch.randn(16, 2, generator=_gen(5), dtype=torch.float64)
    eps = torch.randn(16, 2, generator=_gen(6), dtype=torch.float64)
    values = []
    for seed in (7, 8):
        _randomize(model.gamma, seed)
        values.append(_integrated_diffusion_loss(model, f, eps))
    assert values[0] == pytest.approx(values[1], rel=1e-4)
    with torch.no_grad():  # moving an endpoint changes it
        model.gamma.gamma_0.fill_(-8.0)
    assert abs(_integrated_diffusion_loss(model, f, eps) - values[1]) > 1e-2 * abs(values[1])


def test_discrete_time_loss_approaches_the_continuous_one_as_T_grows():
    model = _vdm2d().double()
    _randomize(model.gamma, 9)
    f = torch.randn(8, 2, generator=_gen(10), dtype=torch.float64)
    eps = torch.randn(8, 2, generator=_gen(11), dtype=torch.float64)
    continuous = _integrated_diffusion_loss(model, f, eps, n_t=4000)
    model.config.timesteps = 2000
    grid = torch.arange(1, 2001, dtype=torch.float64) / 2000  # the discrete model's t values
    with torch.no_grad():
        discrete = float(
            model.diffusion_loss(
                f.repeat(2000, 1), t=grid.repeat_interleave(8), noise=eps.repeat(2000, 1)
            ).mean()
        )
    assert discrete == pytest.approx(continuous, rel=0.01)


def test_vdm_loss_is_the_sum_of_its_terms_in_bits_per_dim_and_decreases_on_a_toy_batch():
    model = _vdm2d()
    x = torch.randn(64, 2, generator=_gen(12)) * 0.5 + torch.tensor([1.0, -1.0])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        out = model(x, generator=_gen(13))  # fixed t and noise
        assert torch.isfinite(out.loss)
        torch.testing.assert_close(out.loss, out.diffusion + out.prior + out.reconstruction)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < losses[0] - 0.5
    assert model.gamma.gamma_0.grad is not None and model.gamma.gamma_span_raw.grad is not None


def test_prior_and_reconstruction_terms_match_their_closed_forms():
    model = _vdm2d(noise_schedule="fixed_linear").double()
    f = torch.randn(4, 2, generator=_gen(14), dtype=torch.float64)
    g0, g1 = -13.3, 5.0
    a1, s1 = math.sqrt(1 / (1 + math.exp(g1))), 1 / (1 + math.exp(-g1))  # α_1, σ_1²
    prior = 0.5 * ((a1 * f) ** 2 + s1 - 1 - math.log(s1)).sum(1)
    torch.testing.assert_close(model.prior_loss(f), prior)
    eps0 = torch.randn(4, 2, generator=_gen(15), dtype=torch.float64)
    recon = (0.5 * (math.log(2 * math.pi) + g0) + 0.5 * eps0**2).sum(1)  # −log N(f; f + e^{γ0/2} ε, e^{γ0})
    torch.testing.assert_close(model.reconstruction_loss(f, noise=eps0), recon)


@pytest.mark.parametrize("gamma_0", [-13.3, -5.0, 2.0])
def test_image_decoder_is_the_normalized_categorical_over_the_256_bins(gamma_0):
    torch.manual_seed(0)
    model = VDM(
        data_shape=(1, 1, 1), channels=8, channel_mults=(1,), attn_resolutions=(), norm_groups=4, num_heads=1
    ).double()
    centres = (2.0 * torch.arange(256, dtype=torch.float64) + 1) / 256 - 1  # f for x = 0/255 … 255/255
    torch.testing.assert_close(
        model.encode((torch.arange(256, dtype=torch.float64) / 255).reshape(-1, 1, 1, 1)).flatten(), centres
    )
    g0 = torch.tensor([gamma_0], dtype=torch.float64)
    for z in (-1.3, -0.2, 0.0131, 0.9):  # z_0/α_0, inside and outside [−1, 1]
        z0 = torch.full((256, 1, 1, 1), z, dtype=torch.float64)
        with torch.no_grad():
            logp = model.decoder_log_prob(centres.reshape(-1, 1, 1, 1), z0, g0).flatten()  # every value k
        # the full 256-way log-softmax, computed directly
        expected = torch.log_softmax(-0.5 * (z - centres) ** 2 / math.exp(gamma_0), 0)
        torch.testing.assert_close(logp, expected, rtol=1e-9, atol=1e-9)
        assert float(logp.exp().sum()) == pytest.approx(1.0, abs=1e-9)


class _PointMassOracle(nn.Module):
    """ε̂(z_t, γ_t) = the true noise for data that is one known point x (f in model space)."""

    def __init__(self, cfg, f: torch.Tensor):
        super().__init__()
        self.cfg, self.f = cfg, f
        self.anchor = nn.Parameter(torch.zeros((), dtype=f.dtype))  # so that model.device works

    def forward(self, z, time_input, y=None):
        cfg = self.cfg
        gamma = (time_input / 1000.0 * (cfg.gamma_max - cfg.gamma_min) + cfg.gamma_min)[:, None]
        return (z - torch.sigmoid(-gamma).sqrt() * self.f) / torch.sigmoid(gamma).sqrt()


@pytest.mark.parametrize(("sampler", "eta"), [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 1.0)])
def test_vdm_samplers_with_exact_denoiser_return_the_point_mass(sampler, eta):
    # γ_0 = −30 so that z_0/α_0 = x + e^{γ_0/2} ε is x up to 3e-7
    model = _vdm2d(noise_schedule="fixed_linear", gamma_min=-30.0).double()
    f = torch.tensor([[0.4, -1.2]], dtype=torch.float64)
    model.net = _PointMassOracle(model.config, f)
    x = model.sample(8, generator=_gen(17), sampler=sampler, eta=eta, steps=30)
    torch.testing.assert_close(x, f.expand(8, 2), rtol=0, atol=1e-6)


def test_schedule_is_evaluated_in_float32_under_bf16_autocast():
    model = _vdm2d()
    _randomize(model.gamma, 18)
    t = torch.rand(16, generator=_gen(19))
    exact, exact_slope = model.gamma_and_slope(t)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gamma, slope = model.gamma_and_slope(t)
        gamma_at = model.gamma_at(t)
    assert gamma.dtype == slope.dtype == gamma_at.dtype == torch.float32
    torch.testing.assert_close(gamma, exact)
    torch.testing.assert_close(slope, exact_slope)
