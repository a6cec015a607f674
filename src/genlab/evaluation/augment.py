"""G10 (images): data augmentation in the low-data regime with a conditional generator.

A conditional GAN (G7) trained only on a small labelled subset (e.g. 100 digits per class) draws labelled
synthetic images ``(G(z, y), y)``; a classifier trained on the real subset plus those is compared with one
trained on the real subset alone, both tested on the real test set (the use of GANs for augmentation the
course notes list; Antoniou et al. 2017, arXiv:1711.04340, measure the same on Omniglot and EMNIST).

Both classifiers take the same number of optimizer steps on mini-batches of the same size, so the
comparison is one of data, not of compute.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.base import Conditional
from genlab.models.cnn import LeNet, LeNetConfig


@torch.no_grad()
def synthetic_labelled(model: nn.Module, per_class: int, *, seed: int = 0,
                       batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """``per_class`` samples ``G(z, y)`` of each of the model's ``K`` classes, ``(K·per_class, …)``, and their
    labels ``y`` ``(K·per_class,)`` int64, ``z`` seeded by ``seed``."""
    if not isinstance(model, Conditional) or model.num_classes < 1:
        raise ConfigError(f"{type(model).__name__} draws no samples of an asked class: augment with a conditional "
                          f"generator (a cgan run)")
    if per_class < 1:
        raise ConfigError(f"per_class must be ≥ 1, got {per_class}")
    y = torch.arange(model.num_classes).repeat_interleave(per_class)  # (K·per_class,)
    g = torch.Generator().manual_seed(seed)
    model.eval()
    x = torch.cat([model.sample(len(y[i: i + batch_size]), generator=g, y=y[i: i + batch_size]).float().cpu()
                   for i in range(0, len(y), batch_size)])
    return x, y


def fit_classifier(x: Tensor, y: Tensor, *, steps: int = 1500, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                   config: LeNetConfig | None = None) -> LeNet:
    """A fresh LeNet (F1/F2) trained by Adam for ``steps`` mini-batches of ``(x, y)`` drawn without
    replacement epoch by epoch (seeded); returned in eval mode."""
    if len(x) != len(y) or len(x) < batch_size:
        raise ConfigError(f"need as many labels as images and at least batch_size = {batch_size} of them, got "
                          f"{len(x)} images and {len(y)} labels")
    torch.manual_seed(seed)
    net = LeNet(config or LeNetConfig())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    net.train()
    done = 0
    while done < steps:
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i: i + batch_size]
            loss = net(x[idx], y[idx]).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return net.eval()


@torch.no_grad()
def accuracy(net: LeNet, x: Tensor, y: Tensor) -> float:
    """The share of ``x`` that ``net`` labels ``y``."""
    pred = torch.cat([net.predict(x[i: i + 1000]) for i in range(0, len(x), 1000)])
    return float((pred == y).float().mean())


@dataclasses.dataclass
class AugmentationResult:
    """Test accuracy of the classifier trained on the real subset alone and on the real subset plus
    ``synthetic`` generated images."""

    real_only: float
    augmented: float
    real: int  # real training images
    synthetic: int  # synthetic training images

    @property
    def gain(self) -> float:
        return self.augmented - self.real_only


def augmentation_gain(model: nn.Module, real_x: Tensor, real_y: Tensor, test_x: Tensor, test_y: Tensor, *,
                      synthetic_per_class: int, steps: int = 1500, seed: int = 0) -> AugmentationResult:
    """G10: LeNet trained on ``(real_x, real_y)`` vs on those plus ``synthetic_per_class`` samples of each class
    from the conditional ``model``; the same ``steps`` and seed for both; accuracies on ``(test_x, test_y)``."""
    fake_x, fake_y = synthetic_labelled(model, synthetic_per_class, seed=seed)
    alone = fit_classifier(real_x, real_y, steps=steps, seed=seed)
    both = fit_classifier(torch.cat([real_x, fake_x]), torch.cat([real_y, fake_y]), steps=steps, seed=seed)
    return AugmentationResult(real_only=accuracy(alone, test_x, test_y), augmented=accuracy(both, test_x, test_y),
                              real=len(real_x), synthetic=len(fake_x))
