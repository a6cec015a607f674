"""Defects found in review of the models' edges: each test names the property the fix restores (A5 for odd
sizes, optimizer fields validated, one field per range message, real labels required, empty batches
refused, pix2pix's sample, unwritable save folders, FID's advice for points, convolutional models on 2-D
points)."""

import math

import pytest
import torch

from genlab.blocks import sinusoidal_embedding, sinusoidal_table
from genlab.data import load
from genlab.errors import ConfigError, ShapeError
from genlab.models.cnn import LeNet, LeNetConfig
from genlab.models.gan import CGAN, DCGAN, GAN, WGANGP, Pix2Pix, UnrolledGAN
from genlab.models.gan.gan import GANConfig, NetworkConfig
from genlab.models.gan.pix2pix import Pix2PixConfig
from genlab.models.likelihood import log_likelihood
from genlab.models.vae import VAE


@pytest.fixture(scope="module")
def ring8():
    return load("ring8", split="train")


def _tiny_cgan() -> CGAN:
    return CGAN(data_shape=(1, 8, 8), latent_dim=4, num_classes=3, generator={"channels": 4},
                discriminator={"channels": 4})


def _tiny_pix2pix() -> Pix2Pix:
    return Pix2Pix(data_shape=(1, 8, 8), channels=4, disc_channels=4)


# --- 1. A5 for odd sizes ------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 3, 7, 9])
def test_sinusoidal_table_follows_a5_in_every_column_for_odd_dims(dim):
    T = 6
    table = sinusoidal_table(torch.arange(T), dim)
    assert table.shape == (T, dim) and table.dtype == torch.float64
    expected = torch.empty(T, dim, dtype=torch.float64)
    for p in range(T):
        for j in range(dim):
            angle = p / 10000 ** (2 * (j // 2) / dim)  # PE(p, 2i) = sin, PE(p, 2i+1) = cos, i = j // 2, d = dim
            expected[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    torch.testing.assert_close(table, expected, rtol=1e-12, atol=1e-12)


def test_sinusoidal_table_of_dim_7_has_the_a5_value_and_no_zero_column():
    table = sinusoidal_table(torch.arange(2), 7)
    assert math.isclose(table[1, 2], math.sin(1 / 10000 ** (2 / 7)), rel_tol=1e-12)  # 0.0719, was 0.0464
    assert math.isclose(table[1, 6], math.sin(1 / 10000 ** (6 / 7)), rel_tol=1e-12)  # last column: sin, i = 3
    assert table[1:, 6].abs().min() > 0


@pytest.mark.parametrize("dim", [2, 6, 64])
def test_sinusoidal_table_of_even_dims_is_bit_identical_to_the_interleaved_embedding(dim):
    p = torch.arange(11)
    assert torch.equal(sinusoidal_table(p, dim),
                       sinusoidal_embedding(p, dim, interleave=True, dtype=torch.float64))


# --- 2. optimizer fields ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [GANConfig, Pix2PixConfig])
@pytest.mark.parametrize("betas", [[0.5], [1.5, 0.9], [0.5, 1.0], [-0.1, 0.9], [0.5, 0.9, 0.99], ["a", 0.9]])
def test_betas_must_be_two_numbers_in_0_1_and_the_message_names_betas_with_an_example(cls, betas):
    with pytest.raises(ConfigError) as e:
        cls(betas=betas)  # (from_dict, as --set, names betas[0] for the item that is not a number)
    msg = str(e.value)
    assert msg.startswith("betas must be two numbers") and "[0, 1)" in msg
    assert f"got {list(betas)}" in msg and "e.g. betas=[0.5, 0.999]" in msg


@pytest.mark.parametrize("betas", [[0.5], [1.5, 0.9]])
def test_betas_given_as_with_set_are_refused_by_the_config_not_by_torch_adam(betas):
    for cls in (GANConfig, Pix2PixConfig, DCGAN.config_class, WGANGP.config_class):
        with pytest.raises(ConfigError, match=r"^betas must be two numbers in \[0, 1\)"):
            cls.from_dict({"betas": betas})


def test_valid_betas_are_kept_including_wgan_gps_zero():
    assert GANConfig.from_dict({"betas": [0, 0.9]}).betas == (0.0, 0.9)
    assert WGANGP.config_class().betas == (0.0, 0.9)
    assert Pix2PixConfig(betas=(0.5, 0.999)).betas == (0.5, 0.999)


# --- 3. one field per range message -------------------------------------------------------------------
@pytest.mark.parametrize("field, value, other", [
    ("clip_value", 0.0, "gp_weight"), ("gp_weight", -1.0, "clip_value"), ("r1_weight", -0.5, "gp_weight")])
def test_each_gan_weight_range_message_names_its_field_and_the_value_it_got(field, value, other):
    with pytest.raises(ConfigError) as e:
        GANConfig(**{field: value})
    msg = str(e.value)
    assert msg.startswith(f"{field} must ") and f"got {value}" in msg and other not in msg


@pytest.mark.parametrize("cls, field, value, other", [
    (NetworkConfig, "channels", 0, "hidden"),
    (NetworkConfig, "hidden", [8, 0], "channels"),
    (Pix2PixConfig, "dropout", 1.0, "l1_weight"),
    (Pix2PixConfig, "l1_weight", -1.0, "dropout"),
    (Pix2PixConfig, "disc_channels", 0, "dropout"),
    (LeNetConfig, "kernel_size", 0, "stride"),
    (LeNetConfig, "stride", 0, "pool"),
    (LeNetConfig, "pool", 0, "stride"),
    (LeNetConfig, "hidden", 0, "num_classes"),
    (LeNetConfig, "num_classes", 1, "hidden"),
])
def test_split_range_checks_name_one_field_and_its_value(cls, field, value, other):
    with pytest.raises(ConfigError) as e:
        cls(**{field: value})
    msg = str(e.value)
    assert msg.startswith(f"{field} must ") and f"got {value}" in msg and other not in msg


def test_log_likelihood_names_the_one_count_that_is_below_one():
    v = VAE(data_shape=(2,), hidden=(4,), latent_dim=2, likelihood="gaussian")
    with pytest.raises(ConfigError) as e:
        log_likelihood(v, torch.zeros(3, 2), k=10, chunk=0)
    assert str(e.value).startswith("chunk must be ≥ 1, got 0") and "batch_size" not in str(e.value)


# --- 4. a conditional model needs the real data's labels ----------------------------------------------
@pytest.mark.parametrize("method", ["discriminator_loss", "generator_loss", "forward"])
def test_a_conditional_gan_given_real_images_without_labels_says_to_pass_y(method):
    m = _tiny_cgan()
    x = torch.rand(4, 1, 8, 8)
    with pytest.raises(ConfigError) as e:
        getattr(m, method)(x)
    msg = str(e.value)
    assert "num_classes=3" in msg and "pass y" in msg and method.replace("forward", "discriminator_loss") in msg
    out = getattr(m, method)(x, torch.tensor([0, 1, 2, 0]))  # with labels it works
    assert torch.isfinite(out.loss)


def test_an_unrolled_conditional_gan_needs_labels_too_and_sampling_still_draws_them():
    m = UnrolledGAN(data_shape=(2,), latent_dim=2, num_classes=2, unroll_steps=1, generator={"hidden": [8]},
                    discriminator={"hidden": [8]})
    with pytest.raises(ConfigError, match="pass y"):
        m.generator_loss(torch.randn(4, 2))
    assert _tiny_cgan().sample(5).shape == (5, 1, 8, 8)  # sampling without y: uniform labels, as intended


def test_an_unconditional_gan_still_ignores_the_batchs_labels():
    m = GAN(data_shape=(2,), latent_dim=2, generator={"hidden": [8]}, discriminator={"hidden": [8]})
    x, y = torch.randn(4, 2), torch.tensor([0, 1, 2, 3])
    assert torch.isfinite(m.discriminator_loss(x, y).loss) and torch.isfinite(m.generator_loss(x, y).loss)


# --- 5. empty batches ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["generator_loss", "discriminator_loss"])
@pytest.mark.parametrize("build", [
    lambda: GAN(data_shape=(2,), latent_dim=2, generator={"hidden": [8]}, discriminator={"hidden": [8]}),
    lambda: UnrolledGAN(data_shape=(2,), latent_dim=2, unroll_steps=1),
], ids=["gan", "unrolled-gan"])
def test_gan_losses_refuse_an_empty_batch_instead_of_returning_nan(build, method):
    with pytest.raises(ShapeError, match="empty batch.*pass at least one example"):
        getattr(build(), method)(torch.zeros(0, 2))


@pytest.mark.parametrize("method", ["generator_loss", "discriminator_loss"])
def test_pix2pix_losses_refuse_an_empty_batch(method):
    empty = torch.zeros(0, 1, 8, 8)
    with pytest.raises(ShapeError, match="empty batch.*pass at least one example"):
        getattr(_tiny_pix2pix(), method)(empty, empty)


# --- 6. pix2pix translates --------------------------------------------------------------------------
def test_pix2pix_sample_says_to_call_translate_and_it_stays_non_generative():
    from genlab.models.base import Generative

    m = _tiny_pix2pix()
    assert not isinstance(m, Generative)
    with pytest.raises(ConfigError) as e:
        m.sample(4)
    assert "translate(source)" in str(e.value) and "Pix2Pix" in str(e.value)


# --- 7. log_likelihood of no data ---------------------------------------------------------------------
def test_log_likelihood_of_an_empty_batch_says_to_pass_an_example():
    v = VAE(data_shape=(2,), hidden=(4,), latent_dim=2, likelihood="gaussian")
    with pytest.raises(ShapeError) as e:
        log_likelihood(v, torch.zeros(0, 2), k=2)
    assert "empty batch" in str(e.value) and "(0, 2)" in str(e.value) and "at least one example" in str(e.value)


# --- 8. unwritable save folders -----------------------------------------------------------------------
def test_save_pretrained_under_a_file_raises_config_error_naming_the_path_and_writes_nothing(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    target = afile / "sub"
    m = GAN(data_shape=(2,), latent_dim=2, generator={"hidden": [4]}, discriminator={"hidden": [4]})
    with pytest.raises(ConfigError) as e:
        m.save_pretrained(target)
    msg = str(e.value)
    assert str(target) in msg and "choose a writable folder" in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"] and afile.read_text() == "not a folder"


def test_save_pretrained_into_a_new_nested_folder_still_works(tmp_path):
    m = GAN(data_shape=(2,), latent_dim=2, generator={"hidden": [4]}, discriminator={"hidden": [4]})
    d = m.save_pretrained(tmp_path / "a" / "b")
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors"]


# --- 9. FID's advice for 2-D points -------------------------------------------------------------------
def test_fid_on_2d_points_points_to_the_coverage_metric_not_a_reshape():
    from genlab.metrics.fid import fid

    with pytest.raises(ShapeError) as e:
        fid(torch.randn(10, 2), torch.randn(10, 2))
    msg = str(e.value)
    assert "x.view" not in msg and "MNIST" in msg and "--metrics coverage" in msg


def test_fid_on_flat_mnist_vectors_keeps_the_reshape_hint():
    from genlab.metrics.fid import fid

    with pytest.raises(ShapeError, match=r"x\.view\(-1, 1, 28, 28\)"):
        fid(torch.rand(10, 784), torch.rand(10, 784))


# --- 10. convolutional models on 2-D points -------------------------------------------------------------
@pytest.mark.parametrize("cls, otherwise", [(LeNet, None), (DCGAN, "gan"), (CGAN, "gan")])
def test_convolutional_models_refuse_2d_points_naming_the_kind_and_the_image_datasets(ring8, cls, otherwise):
    with pytest.raises(ConfigError) as e:
        cls.config_for_data(ring8)
    msg = str(e.value)
    assert "\n" not in msg and cls.__name__ in msg and "ring8 is vector data" in msg
    assert "--data mnist" in msg and "digits" in msg
    if otherwise:
        assert f"genlab train {otherwise} --data ring8" in msg


@pytest.mark.parametrize("cls", [GAN, UnrolledGAN, WGANGP])
def test_the_mlp_gans_still_take_2d_points(ring8, cls):
    assert cls.config_for_data(ring8).data_shape == (2,)


def test_lenet_and_dcgan_still_take_images():
    from genlab.data.tensors import TensorData

    images = TensorData(x=torch.rand(6, 1, 28, 28), y=torch.arange(6) % 3, name="tiny", split="train")
    assert LeNet.config_for_data(images).image_size == 28
    assert DCGAN.config_for_data(images).data_shape == (1, 28, 28)
    assert CGAN.config_for_data(images).num_classes == 3


def test_a_save_that_fails_midway_removes_the_folders_it_made(tmp_path, monkeypatch):
    import genlab.atomic

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(genlab.atomic.os, "fsync", disk_full)
    m = GAN(data_shape=(2,), latent_dim=2, generator={"hidden": [4]}, discriminator={"hidden": [4]})
    with pytest.raises(OSError, match="No space left"):  # not the folder's fault: no "choose a writable folder"
        m.save_pretrained(tmp_path / "new" / "model")
    assert list(tmp_path.iterdir()) == []
