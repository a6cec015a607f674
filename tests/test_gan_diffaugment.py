"""DiffAugment (Zhao et al. 2020): the transforms move and cut exactly as asked, are differentiable, and the
GAN applies them to both real and generated images wherever D sees them."""

import pytest
import torch

from genlab.errors import ConfigError
from genlab.models.gan.diffaugment import FILL, cut_out, diff_augment, translate
from genlab.models.gan.gan import CGAN, CGANConfig, GANConfig


def test_translate_moves_each_image_by_its_own_shift_and_fills_what_enters_with_black():
    x = torch.full((2, 1, 6, 6), FILL)
    x[:, 0, 2, 3] = 1.0  # one white pixel in each image
    out = translate(x, torch.tensor([[1, -2], [0, 0]]))  # image 0: one down, two left; image 1 stays
    assert out[0, 0, 3, 1] == 1.0 and (out[0] == 1.0).sum() == 1
    assert torch.equal(out[1], x[1])
    x = torch.ones(1, 1, 4, 4)
    out = translate(x, torch.tensor([[0, 2]]))  # two right: the two left columns are new
    assert (out[0, 0, :, :2] == FILL).all() and (out[0, 0, :, 2:] == 1).all()


def test_cut_out_blacks_a_square_at_the_corner_even_over_the_edge():
    x = torch.ones(2, 3, 8, 8)
    out = cut_out(x, torch.tensor([[2, 3], [-2, 6]]), size=4)
    assert (out[0, :, 2:6, 3:7] == FILL).all() and (out[0] == FILL).sum() == 3 * 16
    assert (out[1, :, 0:2, 6:8] == FILL).all() and (out[1] == FILL).sum() == 3 * 4  # the square's part inside


def test_diff_augment_is_differentiable_and_its_gradient_is_where_pixels_were_kept():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 28, 28, requires_grad=True)
    out = diff_augment(x, ("translation", "cutout"))
    assert out.shape == x.shape
    out.sum().backward()
    kept = (x.grad > 0).flatten(1).sum(1)  # pixels of x that reach the output (each at most once)
    # a shift of ≤ 4 px each way keeps ≥ 24² pixels, and the 14² square cuts at most 14² of them
    assert (x.grad <= 1).all() and (kept < 28 * 28).all() and (kept >= 24 * 24 - 14 * 14).all()
    assert not torch.equal(diff_augment(x, ("translation",)), diff_augment(x, ("translation",)))  # random


def test_the_gan_shows_d_augmented_real_and_fake_images_and_refuses_bad_settings():
    c = dict(data_shape=(1, 28, 28), num_classes=10)
    plain, aug = CGAN(CGANConfig(**c)), CGAN(CGANConfig(**c, augment=("translation", "cutout")))
    aug.load_state_dict(plain.state_dict())
    x, y = torch.rand(32, 1, 28, 28), torch.arange(32) % 10
    seen = []
    for m in (plain, aug):
        m.discriminator.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
        torch.manual_seed(1)
        m.discriminator_loss(x, y)
        torch.manual_seed(1)
        m.generator_loss(x, y)
    real_p, fake_p, gen_p, real_a, fake_a, gen_a = seen
    assert torch.equal(real_p, x * 2 - 1) and not torch.equal(real_a, real_p)  # reals transformed
    assert (real_a == FILL).sum() > (real_p == FILL).sum()  # cut-out squares and shifted-in borders
    for p, a in ((fake_p, fake_a), (gen_p, gen_a)):  # the generated images too, in both steps
        assert (a == FILL).flatten(1).sum(1).min() >= 14 * 14 // 4 and not torch.equal(a, p)
    with pytest.raises(ConfigError, match="unknown transform"):
        CGANConfig(**c, augment=("flip",))
    with pytest.raises(ConfigError, match="transforms images"):
        GANConfig(data_shape=(2,), augment=("translation",))
