"""G10 (images): the labelled low-data subset, the conditional generator's labelled samples, and the
classifier comparison built on them (genlab.evaluation.augment)."""

import math

import pytest
import torch

from genlab.data import load
from genlab.errors import ConfigError
from genlab.evaluation.augment import accuracy, augmentation_gain, confident, fit_classifier, synthetic_labelled
from genlab.models.cnn import LeNetConfig
from genlab.models.gan import CGAN, DCGAN
from genlab.training import TrainConfig, train


def test_per_class_keeps_k_examples_of_every_class_drawn_by_the_seed():
    d = load("digits", split="train")
    a, b, c = d.per_class(7, seed=0), d.per_class(7, seed=0), d.per_class(7, seed=1)
    assert torch.bincount(a.y).tolist() == [7] * 10 and len(a.x) == 70
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    rows = [int((d.x == img).flatten(1).all(1).nonzero()[0]) for img in a.x[:5]]
    assert rows == sorted(rows)  # drawn rows keep the split's order
    with pytest.raises(ConfigError, match="fewer than 1000 examples"):
        d.per_class(1000)


def test_train_per_class_trains_on_the_subset_only(tmp_path):
    r = train(TrainConfig(model="cgan", data="digits", train_per_class=3, batch_size=10, epochs=2, quiet=True,
                          num_samples=0, out=str(tmp_path / "r"),
                          model_options={"latent_dim": 4, "generator": {"channels": 4},
                                         "discriminator": {"channels": 4}}))
    assert r.steps == 2 * 3  # 30 examples, batch 10, two epochs
    with pytest.raises(ConfigError, match="train_per_class must be ≥ 1"):
        TrainConfig(model="cgan", train_per_class=0)


def test_synthetic_samples_come_per_asked_class_and_an_unconditional_generator_is_refused():
    torch.manual_seed(0)
    m = CGAN(data_shape=(1, 8, 8), latent_dim=4, num_classes=3, generator={"channels": 4},
             discriminator={"channels": 4})
    x, y = synthetic_labelled(m, 5, seed=0)
    assert x.shape == (15, 1, 8, 8) and y.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert torch.equal(x, synthetic_labelled(m, 5, seed=0)[0])
    # the label reaches the generator: the same z with another label gives another image
    assert not torch.allclose(x[:5], synthetic_labelled(m, 5, seed=0)[0][5:10])
    with pytest.raises(ConfigError, match="conditional generator"):
        synthetic_labelled(DCGAN(data_shape=(1, 8, 8), generator={"channels": 4}, discriminator={"channels": 4}), 5)


def test_fit_classifier_learns_digits_and_the_comparison_counts_real_and_synthetic_images():
    train_d, test_d = load("digits", split="train"), load("digits", split="test")
    cfg = LeNetConfig(image_size=8, channels=(8,), padding=(2,), hidden=32)
    net = fit_classifier(train_d.x, train_d.y, steps=150, seed=0, config=cfg)
    assert accuracy(net, test_d.x, test_d.y) > 0.8  # chance: 0.1
    mnist = load("mnist", split="test")
    small = mnist.per_class(10, seed=0)
    m = CGAN(data_shape=(1, 28, 28), latent_dim=8, generator={"channels": 8}, discriminator={"channels": 8})
    res = augmentation_gain(m, small.x, small.y, mnist.x[:500], mnist.y[:500], synthetic_per_class=2, steps=5)
    assert (res.real, res.synthetic) == (100, 20) and 0 <= res.real_only <= 1 and 0 <= res.augmented <= 1
    assert res.gain == pytest.approx(res.augmented - res.real_only)


def _batch_makeup(monkeypatch, **kwargs) -> list[int]:
    """Trains ``fit_classifier`` on 100 real digits (``digits``) and 40 all-white synthetic images; the number
    of synthetic images in each mini-batch it steps on."""
    from genlab.evaluation import augment

    seen: list[int] = []

    class Recording(augment.LeNet):
        def forward(self, x, y=None):
            if self.training:
                seen.append(int((x.flatten(1) == 1).all(1).sum()))
            return super().forward(x, y)

    monkeypatch.setattr(augment, "LeNet", Recording)
    real = load("digits", split="train")
    cfg = LeNetConfig(image_size=8, channels=(4,), padding=(2,), hidden=8)
    white = (torch.ones(40, *real.x.shape[1:]), torch.zeros(40, dtype=torch.long))
    fit_classifier(real.x[:100], real.y[:100], steps=12, batch_size=16, config=cfg, synthetic=white, **kwargs)
    return seen


def test_synthetic_share_fixes_the_synthetic_images_per_mini_batch_and_the_union_does_not(monkeypatch):
    assert _batch_makeup(monkeypatch, synthetic_share=0.25) == [4] * 12  # round(0.25 · 16) in every batch
    union = _batch_makeup(monkeypatch)
    assert len(union) == 12 and len(set(union)) > 1  # drawn from the union of 140: the count varies
    # the union's passes see every image once: 140 // 16 = 8 batches per pass, 40 white images among them ≤ 40
    assert sum(union[:8]) <= 40
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ConfigError, match="synthetic_share must be in"):
            _batch_makeup(monkeypatch, synthetic_share=bad)
    with pytest.raises(ConfigError, match="needs synthetic images"):
        fit_classifier(torch.zeros(64, 1, 8, 8), torch.zeros(64, dtype=torch.long), steps=1, synthetic_share=0.5)


def test_pretraining_steps_see_only_synthetic_images_and_the_rest_only_real_ones(monkeypatch):
    assert _batch_makeup(monkeypatch, pretrain_steps=5) == [16] * 5 + [0] * 7  # 12 steps: 5 white, 7 real
    for bad in (0.5, 12, 13, -1):  # within (0, steps)
        with pytest.raises(ConfigError, match="pretrain_steps must be in"):
            _batch_makeup(monkeypatch, pretrain_steps=bad)
    with pytest.raises(ConfigError, match="without a synthetic_share"):
        _batch_makeup(monkeypatch, pretrain_steps=5, synthetic_share=0.25)
    with pytest.raises(ConfigError, match="needs synthetic images"):
        fit_classifier(torch.zeros(64, 1, 8, 8), torch.zeros(64, dtype=torch.long), steps=4, pretrain_steps=2)


def _record_rates(monkeypatch) -> list[float]:
    """Makes every Adam record its learning rate at each step into the returned list."""
    rates: list[float] = []

    class Recording(torch.optim.Adam):
        def step(self, closure=None):
            rates.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", Recording)
    return rates


def _learning_rates(monkeypatch, **kwargs) -> list[float]:
    """The learning rate of each step ``fit_classifier`` takes (12 steps at lr 0.01 on 100 digits and 40
    synthetic images)."""
    rates = _record_rates(monkeypatch)
    real = load("digits", split="train")
    cfg = LeNetConfig(image_size=8, channels=(4,), padding=(2,), hidden=8)
    fake = (torch.ones(40, *real.x.shape[1:]), torch.zeros(40, dtype=torch.long))
    fit_classifier(real.x[:100], real.y[:100], steps=12, batch_size=16, lr=0.01, config=cfg, synthetic=fake, **kwargs)
    return rates


def test_the_cosine_schedule_decays_the_rate_to_zero_over_the_steps_on_real_images(monkeypatch):
    assert _learning_rates(monkeypatch, lr_schedule="constant") == [0.01] * 12
    cos = [0.01 * 0.5 * (1 + math.cos(math.pi * k / 12)) for k in range(12)]
    assert _learning_rates(monkeypatch) == pytest.approx(cos)  # the default: from 0.01 towards 0
    # pre-training keeps the rate; the decay spans the 7 steps on the real digits
    tail = [0.01 * 0.5 * (1 + math.cos(math.pi * k / 7)) for k in range(7)]
    assert _learning_rates(monkeypatch, lr_schedule="cosine", pretrain_steps=5) == pytest.approx([0.01] * 5 + tail)
    with pytest.raises(ConfigError, match="lr_schedule must be one of constant, cosine"):
        _learning_rates(monkeypatch, lr_schedule="linear")
    # augmentation_gain trains both classifiers (real only, then real + synthetic) on the schedule
    mnist = load("mnist", split="test")
    small = mnist.per_class(7, seed=0)
    torch.manual_seed(0)
    m = CGAN(data_shape=(1, 28, 28), latent_dim=8, generator={"channels": 8}, discriminator={"channels": 8})
    rates = _record_rates(monkeypatch)
    augmentation_gain(m, small.x, small.y, mnist.x[:100], mnist.y[:100], synthetic_per_class=2, steps=4,
                      lr_schedule="cosine")
    assert rates == pytest.approx([1e-3 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)] * 2)
    rates.clear()
    augmentation_gain(m, small.x, small.y, mnist.x[:100], mnist.y[:100], synthetic_per_class=2, steps=4,
                      lr_schedule="constant")
    assert rates == [1e-3] * 8


def test_the_confidence_filter_keeps_only_samples_the_real_only_classifier_gives_their_class():
    mnist = load("mnist", split="test")
    small = mnist.per_class(10, seed=0)
    torch.manual_seed(0)
    m = CGAN(data_shape=(1, 28, 28), latent_dim=8, generator={"channels": 8}, discriminator={"channels": 8})
    alone = fit_classifier(small.x, small.y, steps=20, seed=0, lr_schedule="constant")
    fake_x, fake_y = synthetic_labelled(m, 20, seed=0)
    keep = confident(alone, fake_x, fake_y, 0.2)
    p = torch.softmax(alone.logits(fake_x), -1)[torch.arange(200), fake_y]
    assert torch.equal(keep, p >= 0.2) and 0 < int(keep.sum()) < 200  # an untrained G: some pass, not all
    res = augmentation_gain(m, small.x, small.y, mnist.x[:200], mnist.y[:200], synthetic_per_class=20, steps=20,
                            min_confidence=0.2, lr_schedule="constant", baseline=alone)
    assert (res.drawn, res.synthetic) == (200, int(keep.sum()))
    with pytest.raises(ConfigError, match="min_confidence must be in"):
        augmentation_gain(m, small.x, small.y, mnist.x[:200], mnist.y[:200], synthetic_per_class=2, min_confidence=1)
