"""The denoising networks: U-Net and MLP shapes, time/label conditioning, classifier-free guidance."""

from __future__ import annotations

import pytest
import torch

from genlab.blocks import SelfAttention2d
from genlab.errors import ConfigError
from genlab.models.diffusion import (
    ConditionEmbedding,
    DDPMConfig,
    MLPDenoiser,
    UNet,
    drop_labels,
    guided_output,
)

TINY = dict(channels=8, norm_groups=4, num_heads=2)


def test_unet_maps_28x28_images_to_28x28_with_attention_at_7x7():
    net = UNet(**TINY)  # default levels (1, 2, 2): 28 → 14 → 7
    sizes = []
    for m in net.modules():
        if isinstance(m, SelfAttention2d):
            m.register_forward_hook(lambda mod, inp, out: sizes.append(tuple(inp[0].shape[-2:])))
    out = net(torch.randn(3, 1, 28, 28), torch.tensor([0, 10, 999]))
    assert out.shape == (3, 1, 28, 28)
    assert sizes and set(sizes) == {(7, 7)}


def test_unet_handles_odd_resolutions_and_learned_variance_channels():
    net = UNet(
        in_channels=3,
        out_channels=6,
        image_size=20,
        channel_mults=(1, 2, 2, 2),
        attn_resolutions=(5,),
        **TINY,
    )  # 20 → 10 → 5 → 3 and back
    assert net(torch.randn(2, 3, 20, 20), torch.tensor([1, 2])).shape == (2, 6, 20, 20)


def test_unet_output_depends_on_time_and_label():
    torch.manual_seed(0)
    net = UNet(num_classes=10, channel_mults=(1, 2), attn_resolutions=(14,), **TINY)
    for p in net.parameters():  # zero-initialized output convs would hide the dependence
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(1, 1, 28, 28)
    a = net(x, torch.tensor([5]), torch.tensor([3]))
    assert not torch.allclose(a, net(x, torch.tensor([500]), torch.tensor([3])))
    assert not torch.allclose(a, net(x, torch.tensor([5]), torch.tensor([4])))


def test_unet_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ConfigError, match="norm_groups"):
        UNet(channels=10, norm_groups=8)
    with pytest.raises(ConfigError, match="norm_groups"):
        DDPMConfig(channels=10, norm_groups=8)


def test_mlp_denoiser_shapes():
    net = MLPDenoiser(in_dim=2, out_dim=4, hidden_dim=16, num_layers=2, num_classes=3)
    assert net(torch.randn(5, 2), torch.rand(5) * 1000, torch.tensor([0, 1, 2, -1, 0])).shape == (5, 4)


def test_null_label_is_none_or_minus_one_and_differs_from_real_labels():
    emb = ConditionEmbedding(base_dim=8, embed_dim=16, num_classes=3)
    t = torch.tensor([1.0, 2.0])
    none = emb(t, None)
    torch.testing.assert_close(none, emb(t, torch.tensor([-1, -1])))
    torch.testing.assert_close(none, emb(t, torch.tensor([3, 3])))
    assert not torch.allclose(none, emb(t, torch.tensor([0, 0])))


def test_drop_labels_replaces_the_expected_fraction_by_the_null_label():
    y = torch.zeros(20000, dtype=torch.long)
    dropped = drop_labels(y, 0.2, generator=torch.Generator().manual_seed(0))
    assert set(dropped.unique().tolist()) == {-1, 0}
    assert float((dropped == -1).float().mean()) == pytest.approx(0.2, abs=0.015)
    assert torch.equal(drop_labels(y, 0.0), y)


def test_classifier_free_guidance_combines_conditional_and_unconditional_outputs():
    def net(x, t, y):  # conditional output = 10 + y, unconditional (y = -1) = 1; last channel "variance"
        out = torch.where(y[:, None] >= 0, 10.0 + y[:, None].float(), torch.ones(1)).expand(-1, 2).clone()
        out[:, 1] = y.float()
        return out

    x, t, y = torch.zeros(2, 1), torch.zeros(2), torch.tensor([0, 2])
    w = 3.0
    out = guided_output(net, x, t, y=y, guidance_scale=w, num_channels=1)
    torch.testing.assert_close(out[:, 0], (1 + w) * torch.tensor([10.0, 12.0]) - w * 1.0)
    torch.testing.assert_close(out[:, 1], y.float())  # variance half: conditional value kept
    torch.testing.assert_close(
        guided_output(net, x, t, y=y, guidance_scale=0.0, num_channels=1), net(x, t, y)
    )
    uncond = guided_output(net, x, t, y=y, guidance_scale=-1.0, num_channels=1)
    torch.testing.assert_close(uncond[:, 0], torch.ones(2))
