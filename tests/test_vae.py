import pytest
import torch
from model_template import check_save_load_identical, check_step_changes_weights, overfit
from torch.distributions import Normal, kl_divergence

from genlab.errors import ConfigError, ShapeError
from genlab.models.gaussian import kl_normal, kl_standard_normal, log_normal, reparameterize
from genlab.models.vae import VAE, VAEConfig


def _mlp(**kw):
    return VAE(VAEConfig(**{"data_shape": (1, 8, 8), "hidden": (32,), "latent_dim": 4, **kw}))


def _batch(n=16):
    return torch.bernoulli(torch.full((n, 1, 8, 8), 0.3))


def test_closed_form_kl_equals_torch_distributions():
    mu, logvar = torch.randn(5, 7, dtype=torch.float64), torch.randn(5, 7, dtype=torch.float64)
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl_standard_normal(mu, logvar), ref)
    mu2, logvar2 = torch.randn(5, 7, dtype=torch.float64), torch.randn(5, 7, dtype=torch.float64)
    ref2 = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(mu2, (0.5 * logvar2).exp())).sum(-1)
    torch.testing.assert_close(kl_normal(mu, logvar, mu2, logvar2), ref2)


def test_closed_form_kl_equals_monte_carlo_estimate():
    mu, logvar = torch.tensor([[0.5, -1.0, 0.2]]), torch.tensor([[-0.3, 0.4, -1.2]])
    z = reparameterize(mu.expand(200_000, 3), logvar.expand(200_000, 3))
    mc = (log_normal(z, mu, logvar) - log_normal(z, torch.zeros(3), torch.zeros(3))).mean()
    assert abs(mc.item() - kl_standard_normal(mu, logvar).item()) < 0.02


def test_reparameterized_samples_have_the_encoder_moments_and_carry_gradients():
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, 2 * torch.log(torch.tensor(3.0)).item()], requires_grad=True)
    z = reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2))
    torch.testing.assert_close(z.mean(0), mu.detach(), atol=0.05, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 3.0]), atol=0.05, rtol=0)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_loss_is_reconstruction_plus_beta_kl_and_elbo_is_minus_both():
    x = _batch()
    for beta in (1.0, 4.0):
        out = _mlp(beta=beta)(x)
        torch.testing.assert_close(out.loss, out.reconstruction + beta * out.kl)
        torch.testing.assert_close(out.elbo, -(out.reconstruction + out.kl))


def test_bernoulli_reconstruction_is_binary_cross_entropy_from_logits():
    m = _mlp()
    x = _batch(4)
    logits = torch.randn(4, 1, 8, 8)
    ref = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum((1, 2, 3))
    torch.testing.assert_close(-m.log_px_given_z(x, logits), ref, rtol=1e-4, atol=1e-4)


def test_importance_weights_average_to_the_elbo_and_iwae_bound_tightens_with_k():
    torch.manual_seed(0)
    m = _mlp()
    x = _batch(8)
    with torch.no_grad():
        lw = m.log_importance_weights(x, 4000)  # (B, k)
        elbo = torch.stack([m.elbo(x) for _ in range(200)]).mean(0)
    torch.testing.assert_close(lw.mean(1), elbo, atol=0.3, rtol=0)
    # IWAE bound with k samples, averaged over disjoint groups of k: increases with k (Burda et al.)
    ll = [(torch.logsumexp(lw.view(8, -1, k), 2) - torch.log(torch.tensor(float(k)))).mean() for k in (1, 10, 1000)]
    assert ll[0] < ll[1] < ll[2]


def test_sample_and_reconstruct_return_data_shaped_probabilities():
    m = _mlp()
    s = m.sample(5, generator=torch.Generator().manual_seed(1))
    assert s.shape == (5, 1, 8, 8) and s.min() >= 0 and s.max() <= 1
    s2 = m.sample(5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(s, s2)
    assert m.reconstruct(_batch(3)).shape == (3, 1, 8, 8)


def test_wrong_input_shape_says_what_to_do():
    with pytest.raises(ShapeError, match=r"expected inputs of shape \(B, 1, 8, 8\), got \(2, 64\)"):
        _mlp()(torch.zeros(2, 64))


def test_conv_architecture_needs_sizes_divisible_by_four():
    with pytest.raises(ConfigError, match="divisible by 4"):
        VAEConfig(data_shape=(1, 10, 10), architecture="conv")


def test_glu_layers_gate_one_half_by_the_sigmoid_of_the_other():
    torch.manual_seed(0)
    m = _mlp(activation="glu", hidden=(32, 16))
    first = m.encoder[1][0]  # Linear(64, 2·32): the value half, then the gate half
    assert first.out_features == 64
    x = _batch(5)
    a, b = first(x.flatten(1)).chunk(2, dim=-1)  # (5, 32) each
    assert torch.allclose(m.encoder[1][1](first(x.flatten(1))), a * torch.sigmoid(b))
    assert m.encode(x)[0].shape == (5, 4)


def test_glu_is_for_mlp_layers_only():
    with pytest.raises(ConfigError, match="architecture='mlp'"):
        VAEConfig(data_shape=(1, 8, 8), architecture="conv", activation="glu")


@pytest.mark.parametrize("kw", [{}, {"architecture": "conv", "hidden": (32,), "channels": (4, 8)},
                                {"likelihood": "gaussian"}, {"likelihood": "gaussian", "gaussian_std": 0.5},
                                {"activation": "glu"}])
def test_template_save_load_and_step(kw, tmp_path):
    m = _mlp(**kw)
    x = _batch()
    out = m(x)
    assert out.x_hat.shape == x.shape and out.z.shape == (16, 4)
    check_save_load_identical(m, x, tmp_path)
    check_step_changes_weights(m, x)


def test_overfits_one_batch():
    torch.manual_seed(0)
    m = _mlp(beta=0.0)
    first, last = overfit(m, _batch(8), steps=300)
    assert last < 0.3 * first
