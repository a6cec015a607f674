"""KL weight and warm-up (V6) on the VAE; the conv-VAE registry class."""

import pytest
import torch
from model_template import binary_batch as _batch
from model_template import check_save_load_identical, check_step_changes_weights

from genlab.models.beta_vae import BetaVAE, ConvVAE, KLWarmup


def _model(**kw):
    return BetaVAE(**{"data_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 3, **kw})




def test_kl_weight_ramps_linearly_from_zero_to_beta_over_the_warmup_steps():
    w = KLWarmup(4)
    w.train()
    assert [w.weight(2.0) for _ in range(7)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert int(w.step) == 7


def test_loss_is_reconstruction_plus_the_current_kl_weight_times_kl():
    m = _model(beta=2.0, warmup_steps=10)
    m.train()
    x = _batch()
    for step in range(3):
        out = m(x)
        assert out.kl_weight.item() == pytest.approx(2.0 * step / 10)
        torch.testing.assert_close(out.loss, out.reconstruction + out.kl_weight * out.kl)
        torch.testing.assert_close(out.elbo, -(out.reconstruction + out.kl))


def test_eval_mode_uses_the_target_beta_and_does_not_advance_the_warmup():
    m = _model(beta=3.0, warmup_steps=100)
    m.eval()
    out = m(_batch())
    assert out.kl_weight.item() == 3.0 and int(m.kl_warmup.step) == 0


def test_warmup_step_is_in_the_state_dict_so_a_resumed_model_continues_the_ramp():
    m = _model(warmup_steps=10)
    m.train()
    for _ in range(4):
        m(_batch())
    assert int(m.state_dict()["kl_warmup.step"]) == 4
    resumed = _model(warmup_steps=10)
    resumed.load_state_dict(m.state_dict())
    resumed.train()
    assert resumed(_batch()).kl_weight.item() == pytest.approx(0.4)


def test_without_warmup_the_loss_is_the_vae_loss():
    m = _model(beta=1.5)
    m.train()
    out = m(_batch())
    assert out.kl_weight.item() == 1.5
    torch.testing.assert_close(out.loss, out.reconstruction + 1.5 * out.kl)


def test_conv_vae_defaults_to_the_convolutional_architecture_and_trains_from_data_defaults():
    from genlab.data import load

    data = load("digits", split="val")  # what `genlab train conv-vae` fills in: shape, then data defaults
    cfg = ConvVAE.config_for_data(data, {"hidden": (16,), "channels": (4, 8), "latent_dim": 2})
    m = ConvVAE(cfg)
    assert cfg.architecture == "conv" and cfg.likelihood == "bernoulli"
    assert any(isinstance(mod, torch.nn.Conv2d) for mod in m.encoder.modules())
    check_step_changes_weights(m, data.x[:8])


@pytest.mark.parametrize("cls", [BetaVAE, ConvVAE])
def test_template_save_load_and_step(cls, tmp_path):
    m = cls(data_shape=(1, 8, 8), hidden=(16,), latent_dim=3, channels=(4, 8), warmup_steps=5)
    m.train()
    m(_batch())  # advance the warm-up counter: it must survive save/load
    check_save_load_identical(m, _batch(), tmp_path)
    check_step_changes_weights(m, _batch())
