"""Conditional VAE: one-hot labels into encoder and decoder (Sohn et al. 2015)."""

import math

import pytest
import torch
from model_template import check_save_load_identical, check_step_changes_weights, overfit

from genlab.errors import ConfigError, ShapeError
from genlab.models.cvae import CVAE


def _model(**kw):
    return CVAE(**{"data_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 3, "num_classes": 4, **kw})


def _batch(n=8):
    return torch.bernoulli(torch.full((n, 1, 8, 8), 0.3)), torch.arange(n) % 4


def test_loss_is_reconstruction_plus_weighted_kl_given_the_label():
    m = _model(beta=2.0)
    x, y = _batch()
    out = m(x, y, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.loss, out.reconstruction + 2.0 * out.kl)
    mu, logvar = m.encode(x, y)
    torch.testing.assert_close(out.mu, mu)
    torch.testing.assert_close(out.elbo, -(out.reconstruction + out.kl))


def test_both_networks_read_the_label():
    m = _model()
    x, _ = _batch(2)
    y0, y1 = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long)
    assert not torch.allclose(m.encode(x, y0)[0], m.encode(x, y1)[0])
    z = torch.randn(2, 3)
    assert not torch.allclose(m.decode(z, y0), m.decode(z, y1))


def test_sample_takes_one_label_a_tensor_of_labels_or_cycles_through_the_classes():
    m = _model()
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    s_int = m.sample(3, y=2, generator=g())
    s_tensor = m.sample(3, y=torch.tensor([2, 2, 2]), generator=g())
    assert s_int.shape == (3, 1, 8, 8) and torch.equal(s_int, s_tensor)
    s_default = m.sample(5, generator=g())
    s_cycle = m.sample(5, y=torch.tensor([0, 1, 2, 3, 0]), generator=g())
    assert torch.equal(s_default, s_cycle)
    with pytest.raises(ShapeError, match="expected 3 labels"):
        m.sample(3, y=torch.tensor([1, 2]))


def test_training_without_labels_or_with_out_of_range_labels_says_what_to_do():
    m = _model()
    x, _ = _batch(2)
    with pytest.raises(ConfigError, match="pass y"):
        m(x)
    with pytest.raises(ConfigError, match="num_classes=8"):
        m(x, torch.tensor([0, 7]))


def test_unlabelled_likelihood_is_the_uniform_mixture_of_the_conditional_ones():
    torch.manual_seed(0)
    m = _model()
    m.eval()
    x, _ = _batch(3)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        per_label = torch.stack([torch.logsumexp(m.log_importance_weights(
            x, 4000, y=torch.full((3,), c), generator=g), 1) - math.log(4000) for c in range(4)], 1)  # (B, K)
        mixture = torch.logsumexp(per_label, 1) - math.log(4)
        marginal = torch.logsumexp(m.log_importance_weights(x, 16000, generator=g), 1) - math.log(16000)
    torch.testing.assert_close(marginal, mixture, atol=0.05, rtol=0)


def test_predict_recovers_labels_the_decoder_was_trained_to_separate():
    torch.manual_seed(0)
    m = _model(latent_dim=2)
    # four classes, each a fixed binary image: the label carries all the information
    protos = torch.bernoulli(torch.full((4, 1, 8, 8), 0.5), generator=torch.Generator().manual_seed(0))
    y = torch.arange(32) % 4
    overfit(m, protos[y], y=y, steps=150, lr=1e-2)
    assert torch.equal(m.predict(protos), torch.arange(4))
    rec = m.reconstruct(protos)  # no labels given: inferred by predict
    assert ((rec > 0.5).float() == protos).float().mean() > 0.95


def test_template_save_load_and_step(tmp_path):
    m = _model(warmup_steps=3)
    x, y = _batch()
    check_save_load_identical(m, x, tmp_path,
                              call=lambda mm, b: mm(b, y, generator=torch.Generator().manual_seed(0)).loss)
    check_step_changes_weights(m, x, y=y)
