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
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.base import Conditional
from genlab.models.cnn import LeNet, LeNetConfig
from genlab.schedules import cosine_factor

SCHEDULES = ("constant", "cosine")  # fit_classifier's learning-rate schedules


@torch.no_grad()
def synthetic_labelled(model: nn.Module, per_class: int, *, seed: int = 0,
                       batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """``per_class`` samples ``G(z, y)`` of each of the model's ``K`` classes, ``(K·per_class, …)``, and their
    labels ``y`` ``(K·per_class,)`` int64, ``z`` seeded by ``seed``."""
    if not isinstance(model, Conditional) or not model.conditioned:
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


def _epoch_batches(n: int, size: int, g: torch.Generator) -> Iterator[Tensor]:
    """Index batches ``(size,)`` of ``range(n)`` from successive seeded permutations (each pass drops its last
    partial batch), without end."""
    while True:
        order = torch.randperm(n, generator=g)
        for i in range(0, n - size + 1, size):
            yield order[i: i + size]


def learning_rate_factor(step: int, steps: int, *, schedule: str, start: int = 0) -> float:
    """The learning rate's multiplier at ``step`` of ``steps``: 1 under ``"constant"``; under ``"cosine"``, 1 before
    ``start``, then a half cosine from 1 to 0 over the remaining ``steps − start`` (``cosine_factor``)."""
    if schedule == "constant" or step < start:
        return 1.0
    return cosine_factor(step - start, steps - start)


def fit_classifier(x: Tensor, y: Tensor, *, steps: int = 1500, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                   config: LeNetConfig | None = None, synthetic: tuple[Tensor, Tensor] | None = None,
                   synthetic_share: float | None = None, pretrain_steps: int = 0,
                   lr_schedule: str = "cosine") -> LeNet:
    """A fresh LeNet (F1/F2) trained by Adam for ``steps`` mini-batches of ``(x, y)`` drawn without
    replacement epoch by epoch (seeded); returned in eval mode.

    ``synthetic = (x_s, y_s)`` adds generated images: drawn uniformly from the union with the real ones
    (``synthetic_share=None``), or, with ``synthetic_share = s``, ``round(s·batch_size)`` synthetic images and
    the rest real in every mini-batch — the synthetic images' weight in the loss, whatever the pools' sizes.
    Or, with ``pretrain_steps = p``, the first ``p`` of the ``steps`` on the synthetic images alone and the
    other ``steps − p`` on the real ones alone (pre-training on generated data, fine-tuning on real data).

    ``lr_schedule``: ``"cosine"`` (default) decays ``lr`` to 0 by a half cosine over the steps that see real
    images — all of them, or the ``steps − p`` after pre-training, which keeps ``lr``; ``"constant"`` keeps it.
    At a constant rate the last weights are noisy: real-only LeNets on one subset of 1,000 digits ended between
    95.3 and 97.4 % test accuracy, which hides the gains G10 measures (benchmarks/RESULTS.md, gan_augment_constant
    and gan_augment_cosine)."""
    if lr_schedule not in SCHEDULES:
        raise ConfigError(f"lr_schedule must be one of {', '.join(SCHEDULES)}, got {lr_schedule!r}")
    if len(x) != len(y) or (synthetic is not None and len(synthetic[0]) != len(synthetic[1])):
        raise ConfigError(f"need as many labels as images, got {len(x)} images and {len(y)} labels"
                          + ("" if synthetic is None else f" (synthetic: {len(synthetic[0])} and {len(synthetic[1])})"))
    if pretrain_steps:
        within = isinstance(pretrain_steps, int) and 0 < pretrain_steps < steps
        if synthetic is None or synthetic_share is not None or not within:
            raise ConfigError(f"pretrain_steps must be in (0, steps = {steps}) and needs synthetic images without "
                              f"a synthetic_share, got {pretrain_steps}")
        if len(synthetic[0]) < batch_size:
            raise ConfigError(f"need at least {batch_size} synthetic images to pre-train on mini-batches of "
                              f"{batch_size}, got {len(synthetic[0])}: draw more or lower batch_size")
    m = 0  # synthetic images per mini-batch
    if synthetic_share is not None:
        if synthetic is None or not 0 < synthetic_share < 1:
            raise ConfigError(f"synthetic_share must be in (0, 1) and needs synthetic images, got {synthetic_share}")
        m = min(max(round(synthetic_share * batch_size), 1), batch_size - 1)
        if len(synthetic[0]) < m:
            raise ConfigError(f"{len(synthetic[0])} synthetic images cannot fill {m} places per mini-batch: "
                              f"draw more or lower synthetic_share")
    elif synthetic is not None and not pretrain_steps:
        x, y = torch.cat([x, synthetic[0]]), torch.cat([y, synthetic[1]])
    if len(x) < batch_size - m:
        raise ConfigError(f"need at least {batch_size - m} {'real ' if m else ''}images for mini-batches of "
                          f"{batch_size}, got {len(x)}: lower batch_size or add images")
    torch.manual_seed(seed)
    net = LeNet(config or LeNetConfig())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    real = _epoch_batches(len(x), batch_size - m, g)
    fake = _epoch_batches(len(synthetic[0]), m or batch_size, g) if m or pretrain_steps else None
    net.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * learning_rate_factor(step, steps, schedule=lr_schedule, start=pretrain_steps)
        if step < pretrain_steps:
            j = next(fake)
            xb, yb = synthetic[0][j], synthetic[1][j]  # (batch_size, ...): synthetic images alone
        else:
            idx = next(real)
            xb, yb = x[idx], y[idx]
        if m:
            j = next(fake)
            xb, yb = torch.cat([xb, synthetic[0][j]]), torch.cat([yb, synthetic[1][j]])  # (batch_size, ...)
        loss = net(xb, yb).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def confident(net: LeNet, x: Tensor, y: Tensor, min_confidence: float) -> Tensor:
    """``(N,)`` bool: the images ``x`` that ``net`` gives their label ``y`` a probability of at least
    ``min_confidence`` (a filter for synthetic images: those a classifier of the real data takes for their class)."""
    p = torch.cat([torch.softmax(net.logits(x[i: i + 1000]), -1) for i in range(0, len(x), 1000)])  # (N, K)
    return p[torch.arange(len(y)), y] >= min_confidence


@torch.no_grad()
def accuracy(net: LeNet, x: Tensor, y: Tensor) -> float:
    """The share of ``x`` that ``net`` labels ``y``."""
    pred = torch.cat([net.predict(x[i: i + 1000]) for i in range(0, len(x), 1000)])
    return float((pred == y).float().mean())


@dataclasses.dataclass
class AugmentationResult:
    """Test accuracy of the classifier trained on the real subset alone and on the real subset plus
    ``synthetic`` generated images (of ``drawn``: the rest failed the confidence filter)."""

    real_only: float
    augmented: float
    real: int  # real training images
    synthetic: int  # synthetic training images
    drawn: int  # synthetic images drawn

    @property
    def gain(self) -> float:
        return self.augmented - self.real_only


def augmentation_gain(model: nn.Module, real_x: Tensor, real_y: Tensor, test_x: Tensor, test_y: Tensor, *,
                      synthetic_per_class: int, synthetic_share: float | None = None, min_confidence: float = 0.0,
                      pretrain_steps: int = 0, steps: int = 1500, seed: int = 0, lr_schedule: str = "cosine",
                      baseline: LeNet | None = None) -> AugmentationResult:
    """G10: LeNet trained on ``(real_x, real_y)`` vs on those plus ``synthetic_per_class`` samples of each class
    from the conditional ``model``; the same ``steps`` and seed for both; accuracies on ``(test_x, test_y)``.

    ``synthetic_share`` fixes the synthetic images' share of every mini-batch (``fit_classifier``);
    ``min_confidence > 0`` keeps only the samples the real-only classifier gives their asked class with at
    least that probability. ``pretrain_steps`` trains on the samples first, then on the real images
    (``fit_classifier``), as ``lr_schedule`` does for both classifiers. ``baseline``: the real-only classifier,
    if already trained with these steps, seed and schedule (it is trained otherwise)."""
    if not 0 <= min_confidence < 1:
        raise ConfigError(f"min_confidence must be in [0, 1), got {min_confidence}")
    fake_x, fake_y = synthetic_labelled(model, synthetic_per_class, seed=seed)
    alone = baseline if baseline is not None else fit_classifier(real_x, real_y, steps=steps, seed=seed,
                                                                 lr_schedule=lr_schedule)
    drawn = len(fake_x)
    if min_confidence > 0:
        keep = confident(alone, fake_x, fake_y, min_confidence)
        fake_x, fake_y = fake_x[keep], fake_y[keep]
    both = fit_classifier(real_x, real_y, steps=steps, seed=seed, synthetic=(fake_x, fake_y),
                          synthetic_share=synthetic_share, pretrain_steps=pretrain_steps, lr_schedule=lr_schedule)
    return AugmentationResult(real_only=accuracy(alone, test_x, test_y), augmented=accuracy(both, test_x, test_y),
                              real=len(real_x), synthetic=len(fake_x), drawn=drawn)
