"""Template over the model registry: bad inputs to the public methods give one genlab error that says what to do.

Each registered model is built small (``SMALL`` of ``test_sample_dtype``; LeNet here) and every public
method that takes data (``forward``, ``elbo``, ``encode``, ``reconstruct``, ``log_importance_weights``,
``discriminator_loss``, ``nll_bpd``, ``predict``, ``reconstruction_error``) is called with integer,
float64, 8-bit-range, empty and unbatched inputs; ``sample`` with bad counts and labels; the configs with
options of the wrong type. The rules are those of ``genlab.models.inputs``.
"""

from __future__ import annotations

import dataclasses
import typing

import pytest
import torch
from test_sample_dtype import DATA_SPACE, SMALL, fit_closed_form

from genlab.errors import ConfigError, ShapeError
from genlab.models.autoencoders import Autoencoder
from genlab.models.base import (
    Adversarial,
    Classifier,
    Conditional,
    DiffusionBound,
    Encodes,
    Generative,
    LatentVariable,
    ReconstructionScored,
    Reconstructs,
    Translates,
)
from genlab.models.vae import VAE
from genlab.registry import MODELS

LENET_SMALL = {"image_size": 8, "channels": (2,), "padding": (1,), "kernel_size": 3, "hidden": 4, "num_classes": 3}
# conditional variants of the registry's unconditional-by-default families, for the label checks
CONDITIONAL = {
    "cvae": SMALL["cvae"][0],
    "cgan": SMALL["cgan"][0],
    "ddpm": {**SMALL["ddpm"][0], "num_classes": 3},
    "vdm": {**SMALL["vdm"][0], "num_classes": 3},
    "lenet": LENET_SMALL,
}
B = 4


def _config(name: str) -> dict:
    if name == "lenet":
        return LENET_SMALL
    if name not in SMALL:
        pytest.fail(f"registry model {name!r} has no small config: add a row to SMALL in tests/test_sample_dtype.py")
    return SMALL[name][0]


def _build(name: str, config: dict | None = None):
    return fit_closed_form(MODELS[name].load_class()(**(_config(name) if config is None else config)))


def _shape(model) -> tuple[int, ...]:
    c = model.config
    return (c.in_channels, c.image_size, c.image_size) if hasattr(c, "image_size") else tuple(c.data_shape)


def _num_classes(model) -> int:
    return int(getattr(model.config, "num_classes", 0))


def _valid(model):
    """A valid batch: floats in [0, 1] of the model's shape, labels for a conditional model."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(B, *_shape(model), generator=g)
    K = _num_classes(model)
    return x, (torch.randint(0, K, (B,), generator=g) if K else None)


def _unit_interval(model) -> bool:
    """Whether the model reads its data as intensities in [0, 1] where a loss or likelihood is evaluated."""
    if isinstance(model, VAE):
        return model.config.likelihood == "bernoulli"
    if isinstance(model, Autoencoder):
        return model.config.loss == "bce"
    return len(_shape(model)) == 3


def _calls(model):
    """``(method, call(x, y), range_checked)`` for every public method of ``model`` that takes data."""
    if isinstance(model, Translates):  # (source, target) pairs: the bad tensor as both
        return [(m, call, _unit_interval(model)) for m, call in (
            ("forward", lambda x, y: model(x, source=x)),
            ("discriminator_loss", lambda x, y: model.discriminator_loss(x, source=x)),
            ("generator_loss", lambda x, y: model.generator_loss(x, source=x)),
            ("translate", lambda x, y: model.translate(x)))]
    calls = [("forward", lambda x, y: model(x, y), True)]
    if isinstance(model, LatentVariable):
        kw = (lambda y: {"y": y}) if isinstance(model, Conditional) else (lambda y: {})
        calls += [("elbo", lambda x, y: model.elbo(x, **kw(y)), True),
                  ("log_importance_weights", lambda x, y: model.log_importance_weights(x, 2, **kw(y)), True)]
    if isinstance(model, Encodes):  # a VAE's or autoencoder's codes take any real inputs (noisy ones)
        enc = (lambda x, y: model.encode(x, y)) if model.code_needs_label else (lambda x, y: model.encode(x))
        calls.append(("encode", enc, not isinstance(model, (VAE, Autoencoder))))
    if isinstance(model, Reconstructs):
        calls.append(("reconstruct", lambda x, y: model.reconstruct(x), False))
    if isinstance(model, Adversarial):
        calls.append(("discriminator_loss", lambda x, y: model.discriminator_loss(x, y), True))
    if isinstance(model, DiffusionBound):
        calls.append(("nll_bpd", lambda x, y: model.nll_bpd(x, y, terms=1), True))
    if isinstance(model, Classifier):
        calls.append(("predict", lambda x, y: model.predict(x), True))
    if isinstance(model, ReconstructionScored):
        calls.append(("reconstruction_error", lambda x, y: model.reconstruction_error(x), True))
    return [(m, call, checked and _unit_interval(model)) for m, call, checked in calls]


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, tuple):
        return [t for part in out for t in _tensors(part)]
    return list(out.scalars().values())


NAMES = DATA_SPACE  # the models that read an x (images, points); text, QA and tables check their own fields


# --- the checks pass valid inputs and convert float dtypes ----------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_float64_inputs_are_converted_to_the_parameters_dtype(name):
    model = _build(name).eval()
    x, y = _valid(model)
    for method, call, _ in _calls(model):
        torch.manual_seed(1)
        want = _tensors(call(x, y))
        torch.manual_seed(1)
        got = _tensors(call(x.double(), y))  # float64 → float32: the same values, the same results
        assert all(g.dtype != torch.float64 for g in got), method
        assert all(torch.equal(a, b) for a, b in zip(want, got, strict=True)), method
    model.double()
    for method, call, _ in _calls(model):  # float32 data into a float64 model
        floats = [t for t in _tensors(call(x, y)) if t.is_floating_point()]  # the loss, the codes, the bound ...
        assert all(t.dtype == torch.float64 for t in floats[:1]), method


# --- dtype, range, empty and unbatched data --------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool], ids=["int64", "uint8", "bool"])
@pytest.mark.parametrize("name", NAMES)
def test_integer_inputs_are_refused_with_how_to_convert(name, dtype):
    model = _build(name)
    x, y = _valid(model)
    bad = (x * 255).to(dtype) if dtype == torch.uint8 else (x > 0.5).to(dtype)
    for method, call, _ in _calls(model):
        with pytest.raises(ShapeError, match=r"floating-point .*x\.float\(\) / 255") as e:
            call(bad, y)
        assert "\n" not in str(e.value), method


@pytest.mark.parametrize("name", NAMES)
def test_images_in_0_255_are_refused_with_divide_by_255(name):
    model = _build(name)
    x, y = _valid(model)
    checked = [(m, call) for m, call, checked in _calls(model) if checked]
    if not checked:
        pytest.skip(f"{name} reads real-valued data (vectors or a Gaussian likelihood): any range is valid")
    for _method, call in checked:
        with pytest.raises(ShapeError, match=r"must be in \[0, 1\].*divide by 255"):
            call(x * 255, y)
        with pytest.raises(ShapeError, match=r"\(x \+ 1\) / 2"):  # [−1, 1] data
            call(x * 2 - 1, y)


def test_real_valued_data_is_not_range_checked():
    gaussian = VAE(**{**SMALL["vae"][0], "likelihood": "gaussian"})
    x = torch.rand(B, 1, 8, 8) * 255
    assert torch.isfinite(gaussian(x).loss)
    bernoulli = VAE(**SMALL["vae"][0])
    assert torch.isfinite(bernoulli.encode(x * 2 - 1)[0]).all()  # codes of noisy inputs: any values
    mse = _build("ae", {**SMALL["ae"][0], "loss": "mse"})
    assert torch.isfinite(mse(x).loss)
    gan = _build("gan")  # 2-D points
    assert torch.isfinite(gan(torch.randn(B, 2) * 255).loss)


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_batch_is_refused(name):
    model = _build(name)
    x, y = _valid(model)
    for _method, call, _ in _calls(model):
        with pytest.raises(ShapeError, match="empty batch.*pass at least one example"):
            call(x[:0], None if y is None else y[:0])


@pytest.mark.parametrize("name", NAMES)
def test_one_unbatched_example_is_told_to_add_a_batch_dimension(name):
    model = _build(name)
    x, y = _valid(model)
    for _method, call, _ in _calls(model):
        with pytest.raises(ShapeError, match=r"add a batch dimension: x\[None\]"):
            call(x[0], None if y is None else y[:1])


# --- counts and labels -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, -1, 2.5])
@pytest.mark.parametrize("name", NAMES)
def test_sample_needs_a_whole_n_of_at_least_one(name, n):
    model = _build(name)
    if not isinstance(model, Generative):
        pytest.skip(f"{name} has no sample()")
    with pytest.raises(ConfigError, match="n must be (≥ 1|a whole number ≥ 1)"):
        model.sample(n, **SMALL[name][1])


@pytest.mark.parametrize("name", NAMES)
def test_an_unconditional_model_refuses_labels_to_sample(name):
    model = _build(name)
    if not isinstance(model, Generative) or _num_classes(model):
        pytest.skip(f"{name} is not an unconditional generative model")
    options = {k: v for k, v in SMALL[name][1].items() if k != "y"}
    if "y" not in model.sample_options:  # its sample() has no y: Python refuses the keyword
        with pytest.raises(TypeError, match="'y'"):
            model.sample(2, y=1, **options)
        with pytest.raises(ConfigError, match="takes no y"):  # what the CLI checks first (--y)
            model.check_sample_options({"y": 1})
    else:
        with pytest.raises(ConfigError, match=r"unconditional \(num_classes=0\): it takes no labels; drop y"):
            model.sample(2, y=1, **options)


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_a_conditional_model_refuses_labels_outside_its_classes(name):
    model = _build(name, CONDITIONAL[name]).eval()
    x, y = _valid(model)
    K = _num_classes(model)
    low = -2 if isinstance(model, DiffusionBound) else -1  # diffusion models take -1, the null label
    for bad in (K, low):
        labels = torch.full((B,), bad)
        if isinstance(model, Generative):
            with pytest.raises(ConfigError, match=rf"labels must be integers in 0\.\.{K - 1}"):
                model.sample(2, y=bad, **{k: v for k, v in SMALL[name][1].items() if k != "y"})
        with pytest.raises(ConfigError, match=rf"labels must be integers in 0\.\.{K - 1}.*pass labels in that range"):
            model(x, labels)
    with pytest.raises(ConfigError, match=r"y\.long\(\)"):
        model(x, y.float())
    with pytest.raises(ShapeError, match=f"expected {B} labels"):
        model(x, y[:2])


# --- configs ---------------------------------------------------------------------------------------------
def _an_int_option(cls) -> str:
    hints = typing.get_type_hints(cls.config_class)
    return next(f.name for f in dataclasses.fields(cls.config_class) if hints[f.name] is int)


@pytest.mark.parametrize("name", NAMES)
def test_an_option_of_the_wrong_type_names_the_option(name):
    cls = MODELS[name].load_class()
    option = _an_int_option(cls)
    with pytest.raises(ConfigError, match=f"option '{option}' must be a whole number, got 'abc'"):
        cls(**{option: "abc"})
    with pytest.raises(ConfigError, match=f"option '{option}' must be a whole number, got 'abc'"):
        cls.config_class(**{option: "abc"})  # built directly, not through from_dict
    with pytest.raises(ConfigError, match=r"keyword options"):
        cls({option: 2})


def test_vae_latent_dim_abc_says_what_was_expected():
    with pytest.raises(ConfigError, match="option 'latent_dim' must be a whole number, got 'abc'"):
        VAE(latent_dim="abc")
    assert VAE(latent_dim="3").config.latent_dim == 3  # as from a config file or --set
