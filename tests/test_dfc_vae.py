"""The deep feature consistent VAE (Hou et al. 2016): its reconstruction is a distance in the shipped LeNet's conv
features, the feature network is frozen and not saved with the model."""

import pytest
import torch
from model_template import check_save_load_identical, check_step_changes_weights

from genlab.errors import ConfigError
from genlab.models.cnn import pretrained_lenet
from genlab.models.dfc_vae import DFCVAE

torch.set_num_threads(1)


def _model(**kw):
    return DFCVAE(latent_dim=4, hidden=(32,), **kw)


def test_the_feature_distance_is_zero_on_the_input_itself_and_grows_with_the_error():
    m = _model()
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(m.feature_distance(x, x), torch.zeros(4), atol=1e-5)
    small, large = (m.feature_distance(x, (x + e * torch.randn_like(x)).clamp(0, 1)) for e in (0.05, 0.3))
    assert (large > small).all() and (small > 0).all()


def test_the_loss_is_the_weighted_feature_term_plus_the_pixel_term_plus_beta_kl():
    m = _model(feature_weight=2.0, pixel_weight=0.5, beta=3.0)
    out = m(torch.rand(5, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out.loss, 2.0 * out.features + 0.5 * out.pixels + 3.0 * out.kl)
    assert torch.allclose(out.elbo, -(out.pixels + out.kl))


def test_the_feature_network_is_the_shipped_lenet_frozen_and_not_in_the_saved_weights(tmp_path):
    m = _model()
    x = torch.rand(6, 1, 28, 28)
    check_step_changes_weights(m, x)
    assert not any(k.startswith("_phi") or "blocks" in k for k in m.state_dict())
    lenet = pretrained_lenet()
    first = m.phi().blocks[0].weight
    assert torch.equal(first, lenet.conv[0].weight) and not first.requires_grad
    check_save_load_identical(m, x, tmp_path)
    m.train()
    assert not m.phi().training and not m.phi().blocks[1].training  # never trained, whatever the model's mode


def test_it_takes_mnist_images_only():
    with pytest.raises(ConfigError, match="MNIST LeNet features"):
        DFCVAE(data_shape=(2,), likelihood="gaussian")
    with pytest.raises(ConfigError, match="conv blocks 1 and/or 2"):
        _model(feature_layers=(3,))
