"""Declared inputs: a model says which batch fields it reads (``inputs``, ``optional_inputs``) and which data kinds
it takes (``kinds``); ``train()`` refuses a dataset that does not fit in one line, before anything is written,
naming the fields and the datasets that would fit."""

import pytest

from genlab.data import load
from genlab.data.registry import datasets, fitting
from genlab.errors import ConfigError
from genlab.registry import MODELS
from genlab.training import TrainConfig, train


@pytest.mark.parametrize("model, data, message", [
    ("vae", "digits-masked", r"vae reads the fields x \(and y when present\), but digits-masked holds source, x, y: "
                             r"vae does not read source; pass a dataset that fits: --data mnist, .*digits, ring8"),
    ("pix2pix", "digits", r"pix2pix takes pairs data, but digits is image data; pass a dataset that fits: "
                          r"--data mnist-masked, digits-masked$"),
    ("lenet", "swissroll", r"lenet takes image data, but swissroll is vector data; .*--data mnist, mnist-binarized"),
    ("dcgan", "moons", r"dcgan takes image data, but moons is vector data"),
])
def test_a_dataset_that_does_not_fit_is_refused_before_anything_is_written(tmp_path, model, data, message):
    with pytest.raises(ConfigError, match=message):
        train(TrainConfig(model=model, data=data, max_steps=1, quiet=True, out=str(tmp_path / "run")))
    assert not (tmp_path / "run").exists()


def test_a_model_that_needs_labels_is_refused_data_without_them():
    from genlab.models.cnn import LeNet
    from genlab.training.run import check_inputs

    data = load("digits", split="val")
    check_inputs(LeNet, "lenet", data)  # images with labels: fits
    with pytest.raises(ConfigError, match=r"lenet reads the fields x, y, but digits holds x: it lacks y"):
        check_inputs(LeNet, "lenet", data.replace(fields={"x": data.x}))


def test_each_dataset_declares_the_fields_it_loads():
    from genlab.data.options import REQUIRED

    for d in datasets():
        if any(o.default is REQUIRED for o in d.options):
            continue  # a user's file (csv): its fields are x, and y when a label column is named
        assert tuple(sorted(load(d.name, split="val").fields)) == tuple(sorted(d.fields)), d.name


def test_every_model_fits_its_default_dataset_and_the_fitting_lists_agree_with_the_check():
    for entry in MODELS.values():
        cls = entry.load_class()
        fit = fitting(*cls.data_fields(), cls.kinds)
        assert entry.default_data in fit, entry.name
    assert fitting(("x", "source"), ("y",), ("pairs",)) == ["mnist-masked", "digits-masked"]
    assert "swissroll" not in fitting(("x", "y"), (), ("image", "vector"))  # no labels


def test_conditioning_is_decided_per_instance_by_the_capability():
    from genlab.models.base import Conditional
    from genlab.models.gan import CGAN, GAN

    digits = load("digits", split="val")
    cgan = CGAN(CGAN.config_for_data(digits))
    gan = GAN(GAN.config_for_data(load("ring8", split="val")))
    assert isinstance(gan, Conditional) and isinstance(cgan, Conditional)  # the class can be conditioned
    assert cgan.conditioned and not gan.conditioned  # this instance is, or is not
