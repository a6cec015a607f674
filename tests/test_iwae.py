"""IWAE: the VAE trained on the k-sample importance-weighted bound (V8; Burda et al. 2015)."""

import math

import torch
from model_template import binary_batch as _batch
from model_template import check_save_load_identical, check_step_changes_weights, overfit

from genlab.models.iwae import IWAE


def _model(**kw):
    return IWAE(**{"data_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 3, **kw})




def test_loss_is_minus_the_log_mean_of_the_importance_weights():
    m = _model(k=7)
    x = _batch()
    out = m(x, generator=torch.Generator().manual_seed(4))
    log_w = m.log_importance_weights(x, 7, generator=torch.Generator().manual_seed(4))  # (B, k)
    ref = (torch.logsumexp(log_w, 1) - math.log(7)).mean()
    torch.testing.assert_close(out.loss, -ref)
    torch.testing.assert_close(out.iwae, ref)
    torch.testing.assert_close(out.elbo, log_w.mean())


def test_iwae_bound_is_at_least_the_elbo_of_the_same_samples():
    out = _model(k=10)(_batch(32))
    assert out.iwae >= out.elbo  # Jensen: log mean w ≥ mean log w, for every example


def test_with_one_sample_the_iwae_loss_is_the_vae_loss_in_expectation():
    m = _model(k=1)
    x = _batch(16)
    iwae = torch.stack([m(x).loss for _ in range(400)]).mean()
    vae = torch.stack([m.elbo(x).mean() for _ in range(400)]).mean()
    assert abs(iwae.item() + vae.item()) < 0.05 * abs(vae.item())


def test_training_on_the_iwae_bound_lowers_it():
    torch.manual_seed(0)
    first, last = overfit(_model(k=5), _batch(8), steps=200)
    assert last < 0.5 * first


def test_template_save_load_and_step(tmp_path):
    m = _model(k=3)
    check_save_load_identical(m, _batch(), tmp_path)
    check_step_changes_weights(m, _batch())
