"""Template over the model registry: samples follow the dtype (and device) of the model's parameters.

Each registered model is built small; after ``model.double()`` its samples are float64, in float32
they stay float32, both of shape ``(n, *data_shape)``. Autoencoders sample through a code prior, so
it is fitted first (``fit_code_prior``, what their ``after_fit`` hook runs). Models without ``sample``
(classifiers) are skipped.
"""

from __future__ import annotations

import pytest
import torch

from genlab.data.tensors import TensorData
from genlab.models.autoencoders import fit_code_prior
from genlab.models.base import ClosedForm, Generative
from genlab.registry import MODELS

IMAGE = {"data_shape": (1, 8, 8)}
VAE_SMALL = {**IMAGE, "latent_dim": 2, "hidden": (8,)}
AE_SMALL = {**IMAGE, "code_dim": 2, "hidden": (8,), "prior_components": 2}
UNET_SMALL = {**IMAGE, "channels": 8, "norm_groups": 4, "num_heads": 2, "channel_mults": (1, 2),
              "attn_resolutions": ()}

# registry name → (small config overrides, sample options, fit the code prior first)
SMALL: dict[str, tuple[dict, dict, bool]] = {
    "vae": (VAE_SMALL, {}, False),
    "beta-vae": (VAE_SMALL, {}, False),
    "conv-vae": ({**VAE_SMALL, "channels": (2, 4)}, {}, False),
    "cvae": ({**VAE_SMALL, "num_classes": 3}, {}, False),
    "iwae": ({**VAE_SMALL, "k": 2}, {}, False),
    "hvae": ({**VAE_SMALL, "upper_latent_dims": (2,), "upper_hidden": (4,)}, {}, False),
    "ae": (AE_SMALL, {}, True),
    "sparse-ae": ({**AE_SMALL, "code_activation": "identity"}, {}, True),  # ReLU codes of random data: 1 cluster
    "denoising-ae": (AE_SMALL, {}, True),
    "contractive-ae": ({**AE_SMALL, "hidden": ()}, {}, True),
    "stacked-ae": ({**AE_SMALL, "hidden": (8, 4)}, {}, True),
    "ddpm": ({**UNET_SMALL, "num_train_timesteps": 4}, {"steps": 2}, False),
    "vdm": ({**UNET_SMALL, "schedule_hidden": 8}, {"steps": 2}, False),
    "unrolled-gan": ({"data_shape": (2,), "latent_dim": 2, "unroll_steps": 1}, {}, False),
    "pix2pix": ({**IMAGE, "channels": 4, "disc_channels": 4}, {}, False),  # translates; draws no samples
    "gan": ({"data_shape": (2,), "latent_dim": 2, "generator": {"hidden": [8]}}, {}, False),
    "dcgan": ({**IMAGE, "latent_dim": 4, "generator": {"channels": 4}, "discriminator": {"channels": 4}}, {}, False),
    "wgan": ({**IMAGE, "latent_dim": 4, "generator": {"channels": 4}}, {}, False),
    "wgan-gp": ({"data_shape": (2,), "latent_dim": 2}, {}, False),
    "cgan": ({**IMAGE, "latent_dim": 4, "num_classes": 3, "generator": {"channels": 4}}, {"y": 1}, False),
    "pca": ({**IMAGE, "n_components": 2}, {}, False),  # closed form: fitted first (fit_closed_form)
    "ppca": ({**IMAGE, "latent_dim": 2}, {}, False),
    "dfc-vae": ({"data_shape": (1, 28, 28), "latent_dim": 2, "hidden": (8,)}, {}, False),  # LeNet's MNIST features
}
N = 3  # samples per call
# the families whose samples live in the space of an ``x`` field (images, points): their samples follow the
# parameters' dtype; token ids (text) and named fields (tables) are checked by their families' tests
DATA_SPACE = sorted(name for name, entry in MODELS.items() if "x" in entry.load_class().data_fields()[0])


def fit_closed_form(model):
    """A closed-form model (``ClosedForm``: PCA, PPCA) fitted to 16 random examples of its shape, as ``FitSystem``
    fits one before anything else may be asked of it; any other model as it is."""
    if isinstance(model, ClosedForm):
        x = torch.rand(16, *model.config.data_shape, generator=torch.Generator().manual_seed(0))
        model.fit(TensorData(x=x, name="random", split="train"))
    return model


def _build(name: str, dtype: torch.dtype):
    cls = MODELS[name].load_class()
    if not issubclass(cls, Generative):
        pytest.skip(f"{name} ({cls.__name__}) has no sample(): it is not a generative model")
    if name not in SMALL:
        pytest.fail(f"registry model {name!r} has no small config here: add a row to SMALL in {__file__}")
    config, sample_kwargs, fit_prior = SMALL[name]
    model = fit_closed_form(cls(**config).eval())
    if fit_prior:
        fit_code_prior(model, torch.rand(16, *model.config.data_shape))  # X1: the code prior to sample from
    return model.to(dtype), sample_kwargs


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", DATA_SPACE)
def test_samples_have_the_dtype_and_shape_of_the_parameters(name, dtype):
    model, kwargs = _build(name, dtype)
    x = model.sample(N, generator=torch.Generator().manual_seed(0), **kwargs)
    assert x.dtype == dtype
    assert x.device == model.device  # (a closed-form model's buffers: it has no parameters)
    assert tuple(x.shape) == (N, *model.config.data_shape)
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", DATA_SPACE)
def test_seeded_float64_samples_are_reproducible(name):
    model, kwargs = _build(name, torch.float64)
    a = model.sample(N, generator=torch.Generator().manual_seed(1), **kwargs)
    b = model.sample(N, generator=torch.Generator().manual_seed(1), **kwargs)
    assert torch.equal(a, b)


def test_standard_normal_follows_like_and_matches_randn_of_the_same_seed():
    from genlab.models.gaussian import standard_normal

    like = torch.zeros((), dtype=torch.float64)
    eps = standard_normal((4, 2), like=like, generator=torch.Generator().manual_seed(0))
    assert eps.dtype == torch.float64 and eps.shape == (4, 2)
    ref = torch.randn((4, 2), generator=torch.Generator().manual_seed(0))  # float32: what samples drew before
    assert torch.equal(standard_normal((4, 2), like=ref, generator=torch.Generator().manual_seed(0)), ref)
