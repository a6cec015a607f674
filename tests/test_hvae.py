"""Markov hierarchical VAE (V9): its ELBO, importance weights, active units, and free bits."""

import math

import pytest
import torch
from model_template import binary_batch as _batch
from model_template import check_save_load_identical, check_step_changes_weights, overfit

from genlab.config import ConfigError
from genlab.models.gaussian import kl_standard_normal, log_normal, log_normal_mixture
from genlab.models.hvae import HVAE, count_active_units


def _model(**kw):
    return HVAE(**{"data_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 4, "upper_latent_dims": (3,),
                   "upper_hidden": (8,), **kw})




def test_loss_is_reconstruction_plus_weighted_per_layer_kls_and_elbo_is_minus_both():
    m = _model(beta=2.0)
    out = m(_batch())
    assert out.kl_layers.shape == (2,)
    torch.testing.assert_close(out.kl, out.kl_layers.sum())
    torch.testing.assert_close(out.loss, out.reconstruction + 2.0 * out.kl)
    torch.testing.assert_close(out.elbo, -(out.reconstruction + out.kl))
    assert {"kl_1", "kl_2", "kl", "reconstruction", "loss"} <= set(out.scalars())


def test_free_bits_floor_each_layers_kl_in_the_loss_only():
    m = _model(free_bits=50.0)  # far above any layer's KL: every layer is floored
    out = m(_batch())
    torch.testing.assert_close(out.loss, out.reconstruction + 2 * 50.0)
    torch.testing.assert_close(out.elbo, -(out.reconstruction + out.kl))
    out.loss.backward()  # a floored KL sends no gradient: the upper networks get none
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in m.q_up.parameters())


def test_top_layer_kl_in_closed_form_equals_its_monte_carlo_estimate():
    m = _model()
    x = _batch(4)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        closed = m.elbo(x.repeat(3000, 1, 1, 1), generator=g).view(3000, 4).mean(0)
        mc = m.log_importance_weights(x, 3000, generator=g).mean(1)
    torch.testing.assert_close(closed, mc, atol=0.15, rtol=0)


def test_top_layer_kl_is_v3_of_q_given_the_layer_below():
    m = _model()
    x = _batch(4)
    g = torch.Generator().manual_seed(0)
    ch = m._chain(x, generator=g, closed_form_top=True)
    mu, logvar = m.q_up[0](ch.z[0]).chunk(2, dim=-1)
    torch.testing.assert_close(ch.kl[-1], kl_standard_normal(mu, logvar))


def test_importance_weighted_bound_tightens_with_k():
    m = _model()
    x = _batch(8)
    with torch.no_grad():
        lw = m.log_importance_weights(x, 4000, generator=torch.Generator().manual_seed(0))
    ll = [(torch.logsumexp(lw.view(8, -1, k), 2) - math.log(k)).mean() for k in (1, 10, 1000)]
    assert ll[0] < ll[1] < ll[2]


def test_sample_runs_the_chain_down_from_the_top_prior():
    m = _model(upper_latent_dims=(3, 2))  # three stochastic layers
    s = m.sample(5, generator=torch.Generator().manual_seed(1))
    assert s.shape == (5, 1, 8, 8) and 0 <= s.min() and s.max() <= 1
    assert torch.equal(s, m.sample(5, generator=torch.Generator().manual_seed(1)))
    assert len(m.q_up) == len(m.p_down) == 2 and m(_batch()).kl_layers.shape == (3,)


def test_active_units_count_the_units_whose_posterior_mean_varies_with_x():
    m = _model()
    with torch.no_grad():  # silence μ of unit 0 in layer 1 and units 0, 1 in layer 2
        last = m.encoder[1][-1]
        last.weight[0].zero_()
        m.q_up[0][-1].weight[:2].zero_()
    au = m.active_units(torch.rand(64, 1, 8, 8), threshold=1e-8, generator=torch.Generator().manual_seed(0))
    assert au == [3, 1]
    means = torch.stack([torch.zeros(100), torch.linspace(-1, 1, 100), 0.01 * torch.randn(100)], 1)
    assert count_active_units(means, threshold=0.01) == 1


def test_free_bits_keep_the_layers_active_where_a_heavy_kl_weight_collapses_them():
    from genlab.data import load

    x = load("digits", split="train").x
    au = {}
    for free_bits in (0.0, 1.0):
        torch.manual_seed(0)
        m = _model(hidden=(64,), latent_dim=8, upper_latent_dims=(4,), upper_hidden=(32,), beta=4.0,
                   free_bits=free_bits)
        opt = torch.optim.Adam(m.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(0)
        for _ in range(400):
            loss = m(x[torch.randint(len(x), (128,), generator=g)]).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        m.eval()
        au[free_bits] = m.active_units(x[:500], generator=torch.Generator().manual_seed(0))
    assert au[0.0] == [0, 0]  # posterior collapse: q(z|x) = p(z) in every layer
    assert au[1.0][0] >= 4 and au[1.0][1] >= 2


def test_template_save_load_step_and_overfit(tmp_path):
    m = _model(warmup_steps=4)
    x = _batch()
    check_save_load_identical(m, x, tmp_path)
    check_step_changes_weights(m, x)
    torch.manual_seed(0)
    first, last = overfit(_model(beta=0.0), x, steps=200, lr=5e-3)
    assert last < 0.3 * first


def test_importance_weights_encode_each_example_once_and_match_per_example_chains():
    m = _model().eval()
    x = _batch()[:3]
    rows = []
    m.encoder.register_forward_hook(lambda mod, inp, out: rows.append(len(inp[0])))
    lw = m.log_importance_weights(x, 7, generator=torch.Generator().manual_seed(0))  # (B, k)
    assert lw.shape == (3, 7) and rows == [3]  # q(z_1|x) once per example, not once per chain
    # the same as encoding every copy: row b·k + j is chain j of example b
    ch = m._chain(x.repeat_interleave(7, 0), generator=torch.Generator().manual_seed(0), closed_form_top=False)
    torch.testing.assert_close((ch.log_px - torch.stack(ch.kl).sum(0)).view(3, 7), lw)


# --- the ladder's top-down inference (Sønderby et al. 2016) ---------------------------------------

def test_the_ladders_posterior_is_the_precision_weighted_product_of_estimate_and_prior():
    m = _model(inference="ladder", upper_latent_dims=(3, 2))
    x = _batch(4)
    ch = m._chain(x, generator=torch.Generator().manual_seed(0), closed_form_top=True)
    mu_hat, logvar_hat = m.q_up[0](m._encode(x)[0]).chunk(2, dim=-1)  # layer 2's bottom-up estimate
    mu_p, logvar_p = m.p_down[1](ch.z[2]).chunk(2, dim=-1)  # p(z_2|z_3)
    precision = 1 / logvar_hat.exp() + 1 / logvar_p.exp()
    mu_q = (mu_hat / logvar_hat.exp() + mu_p / logvar_p.exp()) / precision
    torch.testing.assert_close(ch.q_mean[1], mu_q)
    top_mu, top_logvar = m.q_up[1](mu_hat).chunk(2, dim=-1)  # q(z_3|x): the top estimate alone
    torch.testing.assert_close(ch.q_mean[2], top_mu)
    torch.testing.assert_close(ch.kl[2], kl_standard_normal(top_mu, top_logvar))


def test_the_ladders_closed_form_kls_equal_their_monte_carlo_estimate_and_its_bound_tightens_with_k():
    m = _model(inference="ladder")
    x = _batch(4)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        closed = m.elbo(x.repeat(3000, 1, 1, 1), generator=g).view(3000, 4).mean(0)
        lw = m.log_importance_weights(x, 4000, generator=g)
    torch.testing.assert_close(closed, lw[:, :3000].mean(1), atol=0.15, rtol=0)
    ll = [(torch.logsumexp(lw.view(4, -1, k), 2) - math.log(k)).mean() for k in (1, 10, 1000)]
    assert ll[0] < ll[1] < ll[2]


def test_the_ladder_changes_q_only_same_parameters_same_generative_model():
    markov, ladder = _model(), _model(inference="ladder")
    ladder.load_state_dict(markov.state_dict())  # the same networks
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    torch.testing.assert_close(markov.sample(6, generator=g()), ladder.sample(6, generator=g()))
    x = _batch(4)
    assert not torch.allclose(markov.elbo(x, generator=g()), ladder.elbo(x, generator=g()))


def test_the_ladder_saves_loads_trains_and_encodes_each_example_once(tmp_path):
    m = _model(inference="ladder", warmup_steps=4)
    x = _batch()
    check_save_load_identical(m, x, tmp_path)
    check_step_changes_weights(m, x)
    rows = []
    m.encoder.register_forward_hook(lambda mod, inp, out: rows.append(len(inp[0])))
    assert m.log_importance_weights(x[:3], 5).shape == (3, 5) and rows == [3]
    torch.manual_seed(0)
    first, last = overfit(_model(inference="ladder", beta=0.0), x, steps=200, lr=5e-3)
    assert last < 0.3 * first


# --- the VampPrior on the top layer (Tomczak & Welling 2018) ----------------------------------------

def test_log_normal_mixture_equals_the_log_mean_of_its_component_densities():
    g = torch.Generator().manual_seed(0)
    z, mu, logvar = torch.randn(7, 3, generator=g), torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    per_component = torch.stack([log_normal(z, mu[k].expand(7, 3), logvar[k].expand(7, 3)) for k in range(5)], 1)
    torch.testing.assert_close(log_normal_mixture(z, mu, logvar), torch.logsumexp(per_component, 1) - math.log(5))
    torch.testing.assert_close(log_normal_mixture(z, mu[:1], logvar[:1]), per_component[:, 0])


def test_the_vamp_prior_is_the_mixture_of_the_top_estimates_at_the_pseudo_inputs_and_integrates_to_one():
    m = _model(prior="vamp", pseudo_inputs=6, upper_latent_dims=(1,), inference="ladder")
    u = m.pseudo()
    assert u.shape == (6, 1, 8, 8) and 0 <= u.min() and u.max() <= 1
    mu_k, logvar_k = m.q_up[0](m._encode(u)[0]).chunk(2, dim=-1)  # q(z_2|u_k) of the ladder, (6, 1)
    z = torch.linspace(-30, 30, 60001).unsqueeze(1)  # (N, 1): a grid over the 1-d top layer
    with torch.no_grad():
        log_p = m._log_prior_top(z)
        mixture = torch.stack([log_normal(z, mu_k[k].expand_as(z), logvar_k[k].expand_as(z)) for k in range(6)], 1)
        torch.testing.assert_close(log_p, torch.logsumexp(mixture, 1) - math.log(6))
        assert abs(log_p.exp().sum().item() * 1e-3 - 1) < 1e-3  # a density: ∫ p(z_T) dz_T = 1
        draws = m._sample_top(40000, generator=torch.Generator().manual_seed(0))  # (n, 1)
    torch.testing.assert_close(draws.mean(), mu_k.mean(), atol=0.03, rtol=0)  # the mixture's mean
    second = (logvar_k.exp() + mu_k**2).mean()  # and its second moment
    torch.testing.assert_close((draws**2).mean(), second, atol=0.05 * second.item(), rtol=0)


def test_with_the_vamp_prior_the_top_kl_is_log_q_minus_log_mixture_in_both_inference_directions():
    for inference in ("markov", "ladder"):
        m = _model(prior="vamp", pseudo_inputs=4, inference=inference)
        x = _batch(4)
        ch = m._chain(x, generator=torch.Generator().manual_seed(0), closed_form_top=True)
        mu_k, logvar_k = m._bottom_up(m.pseudo())[-1]
        top_mu = ch.q_mean[-1]
        top_logvar = (m.q_up[0](ch.z[0]) if inference == "markov" else m.q_up[0](m._encode(x)[0])).chunk(2, -1)[1]
        expected = log_normal(ch.z[-1], top_mu, top_logvar) - log_normal_mixture(ch.z[-1], mu_k, logvar_k)
        torch.testing.assert_close(ch.kl[-1], expected)
        with torch.no_grad():  # the importance-weighted bound still tightens with k
            lw = m.log_importance_weights(x, 2000, generator=torch.Generator().manual_seed(1))
        ll = [(torch.logsumexp(lw.view(4, -1, k), 2) - math.log(k)).mean() for k in (1, 10, 1000)]
        assert ll[0] < ll[1] < ll[2]


def test_the_pseudo_inputs_are_trained_saved_and_loaded_and_a_bad_count_is_refused(tmp_path):
    m = _model(prior="vamp", pseudo_inputs=5, inference="ladder")
    x = _batch()
    check_save_load_identical(m, x, tmp_path)
    before = m.pseudo.w.detach().clone()
    check_step_changes_weights(m, x)
    assert not torch.equal(before, m.pseudo.w)  # the prior is learned with the model
    s = m.sample(5, generator=torch.Generator().manual_seed(2))
    assert s.shape == (5, 1, 8, 8) and torch.equal(s, m.sample(5, generator=torch.Generator().manual_seed(2)))
    assert _model().pseudo is None and "pseudo.w" not in _model().state_dict()
    with pytest.raises(ConfigError, match="pseudo_inputs"):
        _model(prior="vamp", pseudo_inputs=0)


# --- the importance-weighted training bound (k > 1) ---------------------------------------------------

def test_with_k_chains_the_loss_is_minus_the_iwae_bound_of_the_models_own_importance_weights():
    for kw in ({}, {"inference": "ladder", "prior": "vamp", "pseudo_inputs": 3}):
        m = _model(k=4, **kw)
        x = _batch(6)
        out = m(x, generator=torch.Generator().manual_seed(0))
        log_w = m.log_importance_weights(x, 4, generator=torch.Generator().manual_seed(0))  # (B, k)
        bound = (torch.logsumexp(log_w, 1) - math.log(4)).mean()
        torch.testing.assert_close(out.loss, -bound)
        torch.testing.assert_close(out.elbo, log_w.mean())
        assert out.iwae >= out.elbo and "iwae" in out.scalars() and out.x_hat.shape == x.shape
        assert "iwae" not in _model()(x).scalars()  # k = 1: the ELBO, no bound reported


def test_the_iwae_bound_trains_saves_and_refuses_a_kl_weight(tmp_path):
    m = _model(k=3, inference="ladder")
    x = _batch()
    check_save_load_identical(m, x, tmp_path)
    check_step_changes_weights(m, x)
    for bad in ({"free_bits": 1.0}, {"warmup_steps": 10}, {"beta": 0.5}):
        with pytest.raises(ConfigError, match="importance-weighted bound"):
            _model(k=3, **bad)
    with pytest.raises(ConfigError, match="k must be ≥ 1"):
        _model(k=0)
