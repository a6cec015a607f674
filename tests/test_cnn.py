"""LeNet (C1, C2, C5, F1, F2): the per-model template, the C2 size formula, the shipped weights."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from genlab.errors import ConfigError, ShapeError
from genlab.models.cnn import LeNet, LeNetConfig, asset_info, conv_output_size, pretrained_lenet


def _batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_forward_returns_loss_accuracy_logits_and_features_of_documented_shapes():
    torch.manual_seed(0)
    model = LeNet()
    x, y = _batch(5)
    out = model(x, y)
    assert out.loss.dim() == 0 and out.accuracy.dim() == 0
    assert out.logits.shape == (5, 10)
    assert model.features(x).shape == (5, model.config.hidden)
    assert model.predict(x).shape == (5,) and model.predict(x).dtype == torch.int64
    assert set(out.scalars()) == {"loss", "accuracy"}


@pytest.mark.parametrize("n,f,p,s", [(28, 5, 2, 1), (28, 5, 0, 1), (28, 3, 1, 2), (27, 4, 0, 3),
                                     (9, 3, 0, 2)])
def test_output_size_formula_matches_conv2d(n, f, p, s):
    conv = nn.Conv2d(1, 1, f, stride=s, padding=p)
    assert conv(torch.zeros(1, 1, n, n)).shape[-1] == conv_output_size(n, f, s, p)


@pytest.mark.parametrize("overrides", [{}, {"padding": (0, 0)}, {"padding": (2, 2), "stride": 1},
                                       {"channels": (8, 8, 8), "padding": (1, 1, 1), "kernel_size": 3}])
def test_flattened_size_from_formula_equals_conv_stack_output(overrides):
    model = LeNet(LeNetConfig(**overrides)).eval()
    h = model.conv(torch.zeros(2, 1, 28, 28))
    assert h[0].numel() == model.flat_dim
    assert model.fc.in_features == model.flat_dim


def test_config_rejects_image_too_small_for_the_conv_stack():
    with pytest.raises(ConfigError, match="too small"):
        LeNetConfig(image_size=8, padding=(0, 0))


def test_cross_entropy_loss_is_negative_log_softmax_of_target_logit():
    torch.manual_seed(0)
    model = LeNet().eval()
    x, y = _batch(6)
    out = model(x, y)
    manual = -torch.log(torch.softmax(out.logits.double(), -1)[torch.arange(6), y]).mean()
    assert torch.allclose(out.loss.double(), manual, atol=1e-6)
    assert out.accuracy == (out.logits.argmax(-1) == y).float().mean()


def test_max_pool_gradient_goes_only_to_the_argmax():
    pool = LeNet().conv[3]
    assert isinstance(pool, nn.MaxPool2d)
    x = torch.tensor([[[[1.0, 5.0], [2.0, 3.0]]]], requires_grad=True)
    pool(x).sum().backward()
    assert torch.equal(x.grad, torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]]))


def test_forward_without_labels_says_to_use_logits_or_predict():
    with pytest.raises(TypeError, match="predict"):
        LeNet()(torch.zeros(2, 1, 28, 28))


def test_flat_images_are_rejected_with_a_reshape_hint():
    with pytest.raises(ShapeError, match=r"\(B, 1, 28, 28\).*view"):
        LeNet().logits(torch.zeros(2, 784))


def test_save_then_load_gives_bit_identical_weights_and_outputs(tmp_path):
    torch.manual_seed(0)
    model = LeNet(LeNetConfig(hidden=32))
    x, y = _batch(4)
    model.train()
    model(x, y)  # move the batch-norm running statistics away from their initial values
    model.eval()
    model.save_pretrained(tmp_path / "m")
    loaded = LeNet.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert torch.equal(model.logits(x), loaded.logits(x))


def test_one_optimizer_step_changes_every_trainable_weight():
    torch.manual_seed(0)
    model = LeNet(LeNetConfig(channels=(8, 16), hidden=32))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(8)
    model(x, y).loss.backward()
    opt.step()
    for k, v in model.named_parameters():
        assert not torch.equal(v, before[k]), f"{k} did not change"


def test_overfits_one_small_batch_to_full_accuracy():
    torch.manual_seed(0)
    model = LeNet(LeNetConfig(channels=(8, 16), hidden=32, dropout=0.0))  # small: fast on 2 cores
    x, y = _batch(16, seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(25):
        out = model(x, y)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert out.loss.item() < 0.05
    assert float(model(x, y).accuracy) == 1.0


@pytest.fixture(scope="module")
def mnist_test_1k():
    from genlab.data import load

    ds = load("mnist", split="test")
    return ds.x[:1000], ds.y[:1000]


def test_shipped_weights_classify_first_1000_test_images_at_98_percent(mnist_test_1k):
    model = pretrained_lenet()
    assert not model.training
    x, y = mnist_test_1k
    acc = (model.predict(x) == y).float().mean().item()
    assert acc >= 0.98, acc


def test_shipped_metadata_records_at_least_99_percent_test_accuracy_and_its_command():
    info = asset_info()
    assert info["test_accuracy"] >= 0.99 and info["n_test"] == 10000
    assert "train_lenet.py" in info["command"]
    assert LeNetConfig.from_dict(info["config"]) == pretrained_lenet().config
    json.dumps(info)  # plain JSON, no pickled objects


def test_shipped_weights_file_is_small():
    from importlib.resources import files
    from pathlib import Path

    assert Path(str(files("genlab") / "assets" / "lenet_mnist.safetensors")).stat().st_size < 2_000_000


# --- A10: from convolution to attention, the non-local block after the first conv block --------------------------
def test_the_non_local_lenet_starts_as_the_plain_one_and_then_sees_the_whole_image_from_the_first_block():
    torch.manual_seed(0)
    plain = LeNet(LeNetConfig(channels=(8, 16), hidden=32)).eval()
    local = LeNet(LeNetConfig(channels=(8, 16), hidden=32, non_local=True)).eval()
    from genlab.blocks.attention import NonLocalBlock

    layers = [m for m in local.conv if not isinstance(m, NonLocalBlock)]  # the same layers, the block aside
    assert len(layers) == len(plain.conv) == len(local.conv) - 1 and isinstance(local.conv[4], NonLocalBlock)
    for mine, theirs in zip([*layers, local.fc, local.head], [*plain.conv, plain.fc, plain.head], strict=True):
        mine.load_state_dict(theirs.state_dict())
    x, _ = _batch(4)
    assert torch.equal(local.logits(x), plain.logits(x))  # W_z = 0: the identity
    with torch.no_grad():
        torch.nn.init.normal_(local.conv[4].W_z.weight)
        far = x.clone()
        far[:, :, :3, :3] = 1 - far[:, :, :3, :3]  # change the top-left corner only
        first = {name: (m.conv[:5] if name == "local" else m.conv[:4]) for name, m in (("local", local),
                                                                                        ("plain", plain))}
        for name, block in first.items():  # the bottom-right cell of the first block's 14×14 map
            moved = (block(x) - block(far))[:, :, -1, -1].abs().max().item()
            assert (moved > 1e-4) == (name == "local"), (name, moved)  # a 5×5 conv cannot see 13 cells away


def test_the_non_local_lenet_trains_every_weight_and_saves(tmp_path):
    torch.manual_seed(0)
    model = LeNet(LeNetConfig(channels=(8, 16), hidden=32, non_local=True))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(8)
    for _ in range(2):  # W_z leaves zero at the first step; θ, φ, g get gradients from the second
        opt.zero_grad()
        model(x, y).loss.backward()
        opt.step()
    for k, v in model.named_parameters():
        assert not torch.equal(v, before[k]), f"{k} did not change"
    model.eval().save_pretrained(tmp_path / "m")
    assert torch.equal(LeNet.from_pretrained(tmp_path / "m").logits(x), model.logits(x))
