"""Autoencoders AE1–AE5 and sampling through a code prior (X1)."""

import copy

import pytest
import torch
import torch.nn.functional as F
from model_template import check_save_load_identical, check_step_changes_weights, overfit

import genlab
from genlab.errors import ConfigError, ShapeError
from genlab.models.autoencoders import (
    Autoencoder,
    CodePriorNotFitted,
    ContractiveAE,
    DenoisingAE,
    GaussianMixturePrior,
    SparseAE,
    StackedAE,
    fit_code_prior,
    pretrain_layerwise,
    reconstruction_loss,
    stage_pairs,
)
from genlab.models.autoencoders.noise import gaussian_noise, masking_noise
from genlab.models.autoencoders.penalties import jacobian_frobenius_sq

SMALL = {"data_shape": (1, 8, 8), "hidden": (32,), "code_dim": 4}


def _batch(n=16):
    return torch.rand(n, 1, 8, 8)


def _digits(n=256):
    from genlab.data import load

    return load("digits", split="train").x[:n]


# --- AE1 ---------------------------------------------------------------------------------------
def test_bce_loss_is_binary_cross_entropy_of_the_sigmoid_and_mse_is_squared_error():
    x, logits = _batch(4), torch.randn(4, 1, 8, 8)
    ref = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum((1, 2, 3))
    torch.testing.assert_close(reconstruction_loss(logits, x, "bce"), ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(reconstruction_loss(logits, x, "mse"), ((x - logits) ** 2).sum((1, 2, 3)))


def test_plain_autoencoder_loss_is_the_reconstruction_of_its_own_input():
    m = Autoencoder(**SMALL)
    x = _batch()
    out = m(x)
    assert out.penalty.item() == 0 and torch.equal(out.loss, out.reconstruction)
    rec = reconstruction_loss(m.decode(m.encode(x)), x, "bce")
    torch.testing.assert_close(out.reconstruction, rec.mean())
    torch.testing.assert_close(m.reconstruction_error(x).mean(), out.reconstruction)
    torch.testing.assert_close(m.reconstruct(x), torch.sigmoid(out.x_hat))


def test_undercomplete_and_overcomplete_codes():
    assert Autoencoder(**SMALL).config.undercomplete
    over = Autoencoder(data_shape=(1, 8, 8), hidden=(), code_dim=128, loss="mse")
    assert not over.config.undercomplete and over.encode(_batch(2)).shape == (2, 128)
    # an overcomplete linear autoencoder can learn the identity: it reconstructs almost exactly
    torch.manual_seed(0)
    first, last = overfit(over, _batch(32), steps=200, lr=1e-2)
    assert last < 0.01 * first


def test_data_defaults_choose_bce_for_unit_images_and_mse_otherwise():
    images = _as_data(torch.rand(4, 1, 8, 8))
    points = _as_data(torch.randn(4, 2))
    assert Autoencoder.data_defaults(images) == {"data_shape": (1, 8, 8), "loss": "bce"}
    assert Autoencoder.data_defaults(points) == {"data_shape": (2,), "loss": "mse"}
    assert Autoencoder.config_for_data(points, {"code_dim": 1}).loss == "mse"


def _as_data(x):
    """``x`` as the training split the spine's hooks receive."""
    from genlab.data import TensorData

    return TensorData(x=x, name="t", split="train")


def test_wrong_input_shape_says_what_to_do():
    with pytest.raises(ShapeError, match=r"expected inputs of shape \(B, 1, 8, 8\), got \(2, 64\)"):
        Autoencoder(**SMALL)(torch.zeros(2, 64))


def test_conv_architecture_needs_sizes_divisible_by_four():
    with pytest.raises(ConfigError, match="divisible by 4"):
        Autoencoder(data_shape=(1, 10, 10), architecture="conv")


# --- AE2 ---------------------------------------------------------------------------------------
def test_sparse_penalty_is_lambda_times_the_mean_l1_norm_of_the_code():
    m = SparseAE(**SMALL, sparsity=0.5)
    out = m(_batch())
    torch.testing.assert_close(out.penalty, 0.5 * out.h.abs().sum(1).mean())
    torch.testing.assert_close(out.loss, out.reconstruction + out.penalty)


def test_sparsity_penalty_makes_codes_sparser():
    x = _digits(256)
    l1 = {}
    for lam in (0.0, 0.3):
        torch.manual_seed(0)
        m = SparseAE(data_shape=(1, 8, 8), hidden=(64,), code_dim=64, sparsity=lam)
        overfit(m, x, steps=100, lr=3e-3)
        with torch.no_grad():
            l1[lam] = m.encode(x).abs().sum(1).mean().item()
    assert l1[0.3] < 0.5 * l1[0.0]


# --- AE3 ---------------------------------------------------------------------------------------
def test_gaussian_corruption_adds_noise_of_the_requested_std():
    x = torch.full((200_000,), 0.5)
    noisy = gaussian_noise(x, 0.3, generator=torch.Generator().manual_seed(0))
    assert abs((noisy - x).std().item() - 0.3) < 0.003 and abs((noisy - x).mean().item()) < 0.003


def test_masking_corruption_zeros_a_fraction_p_and_keeps_the_rest():
    x = torch.rand(200_000) + 0.1
    masked = masking_noise(x, 0.25, generator=torch.Generator().manual_seed(0))
    zero = masked == 0
    assert abs(zero.float().mean().item() - 0.25) < 0.005
    assert torch.equal(masked[~zero], x[~zero])


@pytest.mark.parametrize("corruption", ["gaussian", "masking"])
def test_denoising_encoder_sees_the_corrupted_input_and_the_loss_uses_the_clean_one(corruption):
    m = DenoisingAE(**SMALL, corruption=corruption, noise_std=0.5, mask_prob=0.5)
    x = _batch()
    out = m(x, generator=torch.Generator().manual_seed(3))
    x_tilde = m.corrupt(x, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(x_tilde, x)
    torch.testing.assert_close(out.h, m.encode(x_tilde))
    torch.testing.assert_close(out.reconstruction, reconstruction_loss(m.decode(out.h), x, "bce").mean())


# --- AE4 ---------------------------------------------------------------------------------------
def test_contractive_closed_form_agrees_with_autograd_in_value_and_gradient():
    m = ContractiveAE(data_shape=(1, 8, 8), code_dim=6)  # one sigmoid layer
    x = _batch(5)
    grads = {}
    for method in ("closed_form", "autograd"):
        m.zero_grad()
        j = m.jacobian_norm(x, method=method)
        j.sum().backward()
        grads[method] = (j.detach(), m.encoder[1][0].weight.grad.clone())
    torch.testing.assert_close(grads["closed_form"][0], grads["autograd"][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads["closed_form"][1], grads["autograd"][1], rtol=1e-4, atol=1e-6)


def test_autograd_jacobian_norm_equals_the_explicit_jacobian_of_a_deep_encoder():
    m = ContractiveAE(data_shape=(1, 8, 8), hidden=(16,), code_dim=3, code_activation="tanh")
    x = _batch(3)
    ref = torch.stack([torch.autograd.functional.jacobian(lambda v: m.encoder(v[None])[0], xi).pow(2).sum()
                       for xi in x])
    torch.testing.assert_close(jacobian_frobenius_sq(m.encoder, x), ref)
    out = m(x)  # jacobian="auto" uses autograd for a deep encoder
    torch.testing.assert_close(out.penalty, 0.1 * ref.mean())


def test_closed_form_jacobian_is_refused_for_encoders_it_does_not_fit():
    with pytest.raises(ConfigError, match="one-layer sigmoid"):
        ContractiveAE(data_shape=(1, 8, 8), hidden=(16,), jacobian="closed_form")


def test_contraction_penalty_shrinks_the_encoder_jacobian():
    x = _digits(128)
    norms = {}
    for lam in (0.0, 1.0):
        torch.manual_seed(0)
        m = ContractiveAE(data_shape=(1, 8, 8), code_dim=16, contraction=lam)
        overfit(m, x, steps=150, lr=3e-3)
        norms[lam] = m.jacobian_norm(x, method="closed_form").mean().item()
    assert norms[1.0] < 0.5 * norms[0.0]


# --- AE5 ---------------------------------------------------------------------------------------
def test_stage_pairs_compose_to_the_whole_autoencoder():
    m = StackedAE(data_shape=(1, 8, 8), hidden=(32, 16), code_dim=4)
    pairs = stage_pairs(m)
    assert len(pairs) == 3
    x = _batch(4)
    h = x.flatten(1)
    for f_i, _ in pairs:
        h = f_i(h)
    torch.testing.assert_close(h, m.encode(x))
    for _, g_i in reversed(pairs):
        h = g_i(h)
    torch.testing.assert_close(h.view(4, 1, 8, 8), m.decode(m.encode(x)))


def test_layerwise_pretraining_makes_layer_one_reconstruct_its_input_better():
    torch.manual_seed(0)
    m = StackedAE(data_shape=(1, 8, 8), hidden=(32, 16), code_dim=8)
    x = _digits(512)
    (f1, g1), (f2, g2), _ = stage_pairs(m)

    f2_init, g2_init = copy.deepcopy(f2), copy.deepcopy(g2)
    h0 = x.flatten(1)

    def layer1_loss():
        with torch.no_grad():
            return reconstruction_loss(g1(f1(h0)), h0, "bce").mean().item()

    before = layer1_loss()
    losses = pretrain_layerwise(m, x, epochs=5, lr=3e-3)
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert layer1_loss() < 0.9 * before
    with torch.no_grad():  # layer 2 learned to reconstruct layer 1's (new) codes
        h1 = f1(h0)
        assert (reconstruction_loss(g2(f2(h1)), h1, "mse").mean()
                < reconstruction_loss(g2_init(f2_init(h1)), h1, "mse").mean())


def test_before_fit_pretrains_only_when_asked():
    x = _digits(64)
    m = StackedAE(data_shape=(1, 8, 8), hidden=(16,), code_dim=4)
    w = m.encoder[1][0].weight.clone()
    m.before_fit(_as_data(x))
    assert torch.equal(w, m.encoder[1][0].weight)
    m2 = StackedAE(data_shape=(1, 8, 8), hidden=(16,), code_dim=4, pretrain_epochs=1)
    w2 = m2.encoder[1][0].weight.clone()
    m2.before_fit(_as_data(x))
    assert not torch.equal(w2, m2.encoder[1][0].weight)


@pytest.mark.parametrize("arch", [{}, {"architecture": "conv", "channels": (4, 8)}])
def test_before_fit_starts_the_output_bias_at_the_data_mean(arch):
    x = _digits(256)  # (N, 1, 8, 8) in [0, 1]
    m = Autoencoder(data_shape=(1, 8, 8), hidden=(16,), code_dim=4, loss="bce", **arch)
    with torch.no_grad():
        before = reconstruction_loss(m.decode(m.encode(x)), x, "bce").mean()
        m.before_fit(_as_data(x))
        after = reconstruction_loss(m.decode(m.encode(x)), x, "bce").mean()
    bias = [mod for mod in m.decoder.modules() if getattr(mod, "bias", None) is not None][-1].bias
    if not arch:  # one bias per pixel: the log-odds of the mean image
        torch.testing.assert_close(torch.sigmoid(bias), x.mean(0).clamp(1e-3, 1 - 1e-3).flatten())
    else:  # one per channel (conv): the log-odds of the channel's mean
        torch.testing.assert_close(torch.sigmoid(bias), x.mean((0, 2, 3)).clamp(1e-3, 1 - 1e-3))
    assert after < before


def _train_cae(x, *, init: bool, steps: int = 300):
    torch.manual_seed(0)
    m = ContractiveAE(data_shape=(1, 8, 8), code_dim=8)  # one sigmoid layer, closed-form penalty
    if init:
        m.before_fit(_as_data(x))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = m(x[torch.randint(0, len(x), (64,))]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        h = m.encode(x)  # (N, 8)
        return reconstruction_loss(m.decode(h), x, "bce").mean(), h.std(0).mean()


def test_data_mean_output_bias_keeps_a_sigmoid_code_layer_from_collapsing():
    """Started from PyTorch's default bias, the one-layer CAE's codes collapse to one point (the large
    first gradients saturate the sigmoids) and it sat at the mean-image loss for ~1.5k steps on MNIST."""
    x = _digits(1000)
    loss_default, spread_default = _train_cae(x, init=False)
    loss_init, spread_init = _train_cae(x, init=True)
    assert spread_default < 0.05 < 0.1 < spread_init  # codes: collapsed vs spread across examples
    assert loss_init < loss_default


def test_layerwise_pretraining_needs_an_mlp():
    with pytest.raises(ConfigError, match="MLP"):
        pretrain_layerwise(Autoencoder(data_shape=(1, 8, 8), architecture="conv", channels=(4, 8)),
                           _batch(), epochs=1)


# --- X1: sampling through a Gaussian mixture on the codes ------------------------------------
def test_sample_before_fitting_the_code_prior_says_what_to_call():
    with pytest.raises(CodePriorNotFitted, match="fit_code_prior"):
        Autoencoder(**SMALL).sample(3)


def test_code_prior_equals_scikit_learns_mixture_and_samples_its_moments():
    from sklearn.mixture import GaussianMixture

    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-4.0, 0.0], [4.0, 1.0]])
    h = torch.cat([centres[0] + 0.5 * torch.randn(3000, 2, generator=g),
                   centres[1] + torch.randn(1000, 2, generator=g)])
    prior = GaussianMixturePrior(2, 2).fit(h, seed=0)
    ref = GaussianMixture(2, covariance_type="full", reg_covar=1e-6, random_state=0).fit(h.double().numpy())
    torch.testing.assert_close(prior.means.double(), torch.from_numpy(ref.means_), atol=1e-5, rtol=0)
    ref_log_prob = torch.from_numpy(ref.score_samples(h[:50].double().numpy()))
    torch.testing.assert_close(prior.log_prob(h[:50]).double(), ref_log_prob, atol=1e-4, rtol=0)
    s = prior.sample(40_000, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(s.mean(0), h.mean(0), atol=0.1, rtol=0)
    assert abs((s[:, 0] > 0).float().mean().item() - 0.25) < 0.01  # the mixture weight of the right mode


def test_fitted_code_prior_is_saved_and_reloaded_without_pickle(tmp_path):
    torch.manual_seed(0)
    m = Autoencoder(**SMALL)
    fit_code_prior(m, _digits(200), n_components=3)
    assert m.config.prior_components == 3 and m.code_prior.means.shape == (3, 4)
    s = m.sample(6, generator=torch.Generator().manual_seed(2))
    assert s.shape == (6, 1, 8, 8) and s.min() >= 0 and s.max() <= 1
    m.save_pretrained(tmp_path / "m")
    loaded = genlab.load(tmp_path / "m")
    assert torch.equal(loaded.sample(6, generator=torch.Generator().manual_seed(2)), s)


def test_after_fit_hook_fits_the_code_prior():
    m = Autoencoder(**SMALL, prior_components=2)
    m.after_fit(_as_data(_digits(100)))
    assert m.code_prior.is_fitted and m.sample(2).shape == (2, 1, 8, 8)


# --- the per-model template ------------------------------------------------------------------
CASES = [
    (Autoencoder, {}), (Autoencoder, {"loss": "mse", "code_activation": "tanh"}),
    (Autoencoder, {"architecture": "conv", "channels": (4, 8)}), (SparseAE, {}), (DenoisingAE, {}),
    (DenoisingAE, {"corruption": "masking"}), (ContractiveAE, {"hidden": ()}), (ContractiveAE, {}),
    (StackedAE, {"hidden": (16, 8)}),
]


@pytest.mark.parametrize(("cls", "kw"), CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_template_save_load_and_step(cls, kw, tmp_path):
    m = cls(**{**SMALL, **kw})
    x = _batch()
    out = m(x)
    assert out.x_hat.shape == x.shape and out.h.shape == (16, 4) and out.loss.dim() == 0
    check_save_load_identical(m, x, tmp_path)
    check_step_changes_weights(m, x)


@pytest.mark.parametrize("cls", [Autoencoder, SparseAE, DenoisingAE, ContractiveAE, StackedAE])
def test_overfits_one_batch(cls):
    torch.manual_seed(0)
    m = cls(data_shape=(1, 8, 8), hidden=(32,), code_dim=8)
    x = torch.bernoulli(torch.full((8, 1, 8, 8), 0.3))
    first, last = overfit(m, x, steps=200, lr=5e-3)
    assert last < 0.3 * first
