"""FID and KID for MNIST-like images in the feature space of genlab's pretrained LeNet.

Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
2017, arXiv:1706.08500 (FID). Bińkowski et al., "Demystifying MMD GANs", 2018, arXiv:1801.01401 (KID).

Inception-v3 features are meaningless on 28×28 digits, so the features are the 128-d penultimate
activations of ``genlab.models.cnn.pretrained_lenet()`` (a ≥ 99 % MNIST classifier, C1/C2/C5/F1/F2).
The statistics and distances are torchmetrics' ``FrechetInceptionDistance`` and
``KernelInceptionDistance`` with that network passed as ``feature=``; torchmetrics feeds a custom
feature module the images unchanged (no resize to 299×299, no 3-channel conversion, no uint8 cast),
so ``LeNetFeatures`` takes ``(B, 1, 28, 28)`` images in [0, 1] directly.

FID depends on the sample size (it is biased upwards for small ``n``): every result carries its ``n``.
Compare FIDs only at equal ``n`` and against the floor of real-vs-real data (``benchmarks/fid_floor.py``).
KID is unbiased at any size; it is averaged over random subsets of ``kid_subset_size(n)`` images
(1,000 as in Bińkowski et al., at most half the images, so that the subsets differ and their spread,
``KIDResult.std``, says something: subsets of all the images are all the same set and spread by 0).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError, GenlabError, check_shape
from genlab.models.cnn import LeNet, pretrained_lenet

log = logging.getLogger(__name__)

_RANGE_TOL = 1e-3  # images may overshoot [0, 1] by this much (rounding) before it is an error


class LeNetFeatures(nn.Module):
    """Feature module for torchmetrics: images ``(B, 1, 28, 28)`` in [0, 1] → LeNet features ``(B, F)``.

    Always in eval mode and frozen (batch-norm running statistics, no dropout), whatever mode the
    metric that owns it is put in. ``uint8`` images in [0, 255] are accepted and divided by 255.
    """

    def __init__(self, net: LeNet | None = None) -> None:
        super().__init__()
        self.net = (net if net is not None else pretrained_lenet()).eval()
        self.net.requires_grad_(False)
        self.num_features: int = self.net.config.hidden  # read by torchmetrics (no dummy forward)

    def train(self, mode: bool = True) -> LeNetFeatures:
        return super().train(False)  # a feature extractor is never trained

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        c = self.net.config
        shape = (c.in_channels, c.image_size, c.image_size)
        if x.dim() == 2 and x.shape[1] != math.prod(shape):  # points (2-D toys) or other vectors, not flat images
            hint = ("FID/KID need MNIST-shaped images; for 2-D points the metric is coverage: "
                    "genlab eval RUN --metrics coverage")
        else:
            hint = ("FID/KID take MNIST-like images in [0, 1]: reshape flat samples with "
                    f"x.view(-1, {', '.join(map(str, shape))})")
        check_shape(x, (None, *shape), "images", hint=hint)
        if x.dtype == torch.uint8:
            x = x.float() / 255
        x = x.to(dtype=torch.float32, device=next(self.net.parameters()).device)
        lo, hi = float(x.min()), float(x.max())
        if lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
            raise GenlabError(f"expected images in [0, 1], got values in [{lo:.3g}, {hi:.3g}]: map tanh "
                              f"outputs with (x + 1) / 2, or clamp samples with x.clamp(0, 1)")
        return self.net.features(x.clamp(0, 1))  # (B, F)


@functools.lru_cache(maxsize=1)
def _default_features() -> LeNetFeatures:
    return LeNetFeatures(pretrained_lenet())


def _features_module(net: LeNet | None) -> LeNetFeatures:
    return _default_features() if net is None else LeNetFeatures(net)


class FIDResult(float):
    """An FID value (a ``float``) that carries its sample sizes: ``n_real``, ``n_fake``.

    >>> r = FIDResult(1.5, n_real=1000, n_fake=1000); r + 1, r.n_real
    (2.5, 1000)
    """

    n_real: int
    n_fake: int

    def __new__(cls, value: float, *, n_real: int, n_fake: int) -> FIDResult:
        obj = super().__new__(cls, value)
        obj.n_real, obj.n_fake = int(n_real), int(n_fake)
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple[float], dict[str, int]]:  # pickle / copy
        return (float(self),), {"n_real": self.n_real, "n_fake": self.n_fake}

    def __repr__(self) -> str:
        return f"FIDResult({float(self):.4f}, n_real={self.n_real}, n_fake={self.n_fake})"

    def to_dict(self) -> dict[str, float | int]:
        return {"fid": float(self), "n_real": self.n_real, "n_fake": self.n_fake}


@dataclasses.dataclass(frozen=True)
class KIDResult:
    """KID mean and standard deviation over random subsets, with the sample sizes.

    ``std`` is the spread of the ``subsets`` estimates of ``subset_size`` images each (how much a KID of
    that many images varies with the draw; not the standard error of ``mean``). It is NaN, not
    estimated, when the subsets cannot differ: fewer than 2 subsets, or a subset of all the images of a
    set. Unpacks as ``mean, std = kid(real, fake)``.
    """

    mean: float
    std: float
    n_real: int
    n_fake: int
    subset_size: int
    subsets: int

    def __iter__(self) -> Iterator[float]:
        return iter((self.mean, self.std))

    def to_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def _check_pair(real: Tensor, fake: Tensor, minimum: int) -> None:
    for name, t in (("real", real), ("fake", fake)):
        if not isinstance(t, Tensor):
            raise GenlabError(f"{name} must be a tensor of images (N, 1, 28, 28), got {type(t).__name__}")
        if len(t) < minimum:
            raise GenlabError(f"{name} has {len(t)} images; this metric needs at least {minimum} "
                              f"(use ≥ 1,000, ideally 10,000, for numbers worth reporting)")


def _update(metric: nn.Module, images: Tensor, *, real: bool, batch_size: int) -> None:
    for i in range(0, len(images), batch_size):
        metric.update(images[i : i + batch_size], real=real)


def fid(real: Tensor, fake: Tensor, *, batch_size: int = 500, net: LeNet | None = None) -> FIDResult:
    """Fréchet distance between LeNet features of ``real`` and ``fake`` images, ``(N, 1, 28, 28)`` in [0, 1].

    ``FID = ‖μ_r − μ_f‖² + tr(Σ_r + Σ_f − 2 (Σ_r Σ_f)^{1/2})`` (Heusel et al. 2017) computed by
    torchmetrics in float64. ``net`` defaults to the shipped ``pretrained_lenet()``. Returns a float
    that carries ``n_real`` / ``n_fake``.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    _check_pair(real, fake, 2)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
    metric = FrechetInceptionDistance(feature=_features_module(net))
    with torch.no_grad():
        _update(metric, real, real=True, batch_size=batch_size)
        _update(metric, fake, real=False, batch_size=batch_size)
        value = float(metric.compute())
    return FIDResult(value, n_real=len(real), n_fake=len(fake))


KID_SUBSET_SIZE = 1000  # Bińkowski et al. 2018's subset size


def kid_subset_size(n: int) -> int:
    """KID's subset size for ``n`` images per set: ``min(1000, n // 2)``, so that random subsets differ
    (at ``n`` < 4, where half is under KID's minimum of 2: ``n``, one set, no spread)."""
    return min(KID_SUBSET_SIZE, n // 2) if n >= 4 else n


def kid(real: Tensor, fake: Tensor, *, subset_size: int | None = None, subsets: int = 100, seed: int = 0,
        batch_size: int = 500, net: LeNet | None = None) -> KIDResult:
    """Kernel distance (unbiased MMD² with the cubic polynomial kernel) between LeNet features.

    Averaged over ``subsets`` random subsets of ``subset_size`` images of each set (Bińkowski et al.
    2018, via torchmetrics; ``None``: ``kid_subset_size(min(n_real, n_fake))``); ``seed`` fixes the
    subsets. Returns ``KIDResult`` (unpacks as ``mean, std``; ``std`` NaN where it is not estimated).
    """
    from torchmetrics.image.kid import KernelInceptionDistance

    _check_pair(real, fake, 2)
    n = min(len(real), len(fake))
    subset_size = kid_subset_size(n) if subset_size is None else subset_size
    if not 2 <= subset_size <= n:
        raise ConfigError(f"subset_size must be in [2, min(n_real, n_fake) = {n}], "
                          f"got {subset_size}: pass a smaller subset_size or more images")
    if subsets < 1:
        raise ConfigError(f"subsets must be ≥ 1, got {subsets}")
    with warnings.catch_warnings():  # "will save all extracted features": that is how KID works
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        metric = KernelInceptionDistance(feature=_features_module(net), subsets=subsets,
                                         subset_size=subset_size)
    with torch.no_grad():
        _update(metric, real, real=True, batch_size=batch_size)
        _update(metric, fake, real=False, batch_size=batch_size)
        with torch.random.fork_rng(devices=[]):  # torchmetrics draws subsets from the global RNG
            torch.manual_seed(seed)
            mean, std = metric.compute()
    # torchmetrics reports a spread of 0 when every subset is the same draw: say it is not estimated
    spread = float(std) if subsets >= 2 and subset_size < n else float("nan")
    return KIDResult(float(mean), spread, n_real=len(real), n_fake=len(fake),
                     subset_size=subset_size, subsets=subsets)


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> Tensor:
    """Fréchet (2-Wasserstein) distance² between ``N(μ1, Σ1)`` and ``N(μ2, Σ2)``, in pure torch.

    ``‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2})``, with ``tr (Σ1 Σ2)^{1/2}`` computed stably as
    ``tr (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}`` (a symmetric PSD matrix, so ``eigh``) in float64.
    """
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    vals, vecs = torch.linalg.eigh(sigma1)
    root1 = (vecs * vals.clamp_min(0).sqrt()) @ vecs.T  # Σ1^{1/2}
    inner = root1 @ sigma2 @ root1
    tr_sqrt = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    return (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * tr_sqrt


def gaussian_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``(F,)`` and unbiased covariance ``(F, F)`` of features ``(N, F)``, in float64."""
    f = features.double()
    mu = f.mean(0)
    d = f - mu
    return mu, d.T @ d / (len(f) - 1)
