"""FID / KID in LeNet feature space: reference agreement (Fréchet formula vs torchmetrics) and properties."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
import torch
from torch import nn

from genlab.errors import ConfigError, GenlabError, ShapeError
from genlab.metrics.fid import (
    FIDResult,
    LeNetFeatures,
    fid,
    frechet_distance,
    gaussian_stats,
    kid,
)


@pytest.fixture(scope="module")
def digits():
    """The first 1,000 MNIST test images, (1000, 1, 28, 28) in [0, 1]."""
    from genlab.data import load

    return load("mnist", split="test").x[:1000]


def _noisy(x: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + std * torch.randn(x.shape, generator=g)).clamp(0, 1)


# --- the Fréchet distance itself -------------------------------------------------------------------
class _Identity(nn.Module):
    """Feature 'network' that returns its input: lets torchmetrics' FID run on given features."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_frechet_formula_matches_torchmetrics_on_gaussian_features():
    from torchmetrics.image.fid import FrechetInceptionDistance

    g = torch.Generator().manual_seed(0)
    d = 6
    a = torch.randn(400, d, generator=g, dtype=torch.float64)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5
    b = torch.randn(300, d, generator=g, dtype=torch.float64) @ mix + 0.7
    metric = FrechetInceptionDistance(feature=_Identity(d))
    metric.update(a, real=True)
    metric.update(b, real=False)
    ours = frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    assert torch.allclose(ours, metric.compute().double(), rtol=1e-6, atol=1e-8)


def test_frechet_distance_of_diagonal_gaussians_has_closed_form():
    # Between N(μ1, diag s1²) and N(μ2, diag s2²) it is ‖μ1 − μ2‖² + Σ (s1 − s2)².
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, -1.0])
    s1, s2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 1.0, 0.5])
    expected = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()
    got = frechet_distance(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))
    assert torch.allclose(got, expected.double(), atol=1e-10)


def test_frechet_distance_is_symmetric_and_zero_for_equal_gaussians():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(50, 4, generator=g), torch.randn(60, 4, generator=g) * 2
    sa, sb = gaussian_stats(a), gaussian_stats(b)
    assert torch.allclose(frechet_distance(*sa, *sb), frechet_distance(*sb, *sa), atol=1e-10)
    assert abs(float(frechet_distance(*sa, *sa))) < 1e-10


# --- FID on MNIST with the shipped LeNet -----------------------------------------------------------
def test_fid_of_a_set_with_itself_is_zero(digits):
    assert abs(fid(digits, digits)) < 1e-3


def test_fid_grows_monotonically_with_noise_level(digits):
    real, fake = digits[:400], digits[400:800]
    values = [fid(real, _noisy(fake, s)) for s in (0.0, 0.1, 0.2, 0.4, 0.8)]
    assert all(a < b for a, b in zip(values[:-1], values[1:], strict=True)), values
    assert values[-1] > 10 * values[0]


def test_fid_is_invariant_to_the_order_of_samples(digits):
    real, fake = digits[:400], _noisy(digits[400:800], 0.2)
    g = torch.Generator().manual_seed(0)
    shuffled = fid(real[torch.randperm(400, generator=g)], fake[torch.randperm(400, generator=g)])
    assert shuffled == pytest.approx(fid(real, fake), rel=1e-6)


def test_fid_does_not_depend_on_the_batch_size(digits):
    real, fake = digits[:300], _noisy(digits[300:600], 0.3)
    assert fid(real, fake, batch_size=64) == pytest.approx(fid(real, fake, batch_size=300), rel=1e-6)


def test_fid_result_is_a_float_that_carries_its_sample_counts(digits):
    r = fid(digits[:300], digits[300:500])
    assert isinstance(r, float) and isinstance(r, FIDResult)
    assert (r.n_real, r.n_fake) == (300, 200)
    assert r.to_dict() == {"fid": float(r), "n_real": 300, "n_fake": 200}
    assert json.loads(json.dumps(r)) == float(r)
    for clone in (copy.copy(r), pickle.loads(pickle.dumps(r))):
        assert clone == r and clone.n_real == 300
    assert "n_real=300" in repr(r)


def test_kid_of_the_same_distribution_is_near_zero_and_grows_with_noise(digits):
    real, other = digits[:300], digits[300:600]
    mean, std = kid(real, other, subset_size=150, subsets=10)
    noisy_mean, _ = kid(real, _noisy(other, 0.4), subset_size=150, subsets=10)
    assert abs(mean) < 3 * std + 1e-3, (mean, std)
    assert noisy_mean > mean + 5 * std, (noisy_mean, mean, std)


def test_kid_result_is_seeded_and_unpacks_as_mean_and_std(digits):
    a = kid(digits[:300], digits[300:600], subset_size=100, subsets=5, seed=3)
    b = kid(digits[:300], digits[300:600], subset_size=100, subsets=5, seed=3)
    assert a == b and (a.n_real, a.n_fake, a.subset_size) == (300, 300, 100)
    mean, std = a
    assert (mean, std) == (a.mean, a.std)


def test_kid_subset_larger_than_the_sample_is_refused_with_a_hint(digits):
    with pytest.raises(ConfigError, match="subset_size"):
        kid(digits[:50], digits[50:100], subset_size=100)


# --- the feature module ------------------------------------------------------------------------------
def test_feature_module_reads_uint8_and_float_images_alike(digits):
    feats = LeNetFeatures()
    x = digits[:20]
    as_bytes = (x * 255).round().to(torch.uint8)
    assert feats.num_features == 128
    assert torch.allclose(feats(as_bytes), feats(as_bytes.float() / 255))
    assert feats(x).shape == (20, 128)


def test_feature_module_stays_in_eval_mode_when_its_owner_trains(digits):
    feats = LeNetFeatures()
    owner = nn.ModuleList([feats]).train()
    assert not feats.net.training
    assert torch.equal(owner[0](digits[:8]), owner[0](digits[:8]))  # no dropout


def test_feature_module_rejects_wrong_shapes_and_ranges(digits):
    feats = LeNetFeatures()
    with pytest.raises(ShapeError, match=r"\(B, 1, 28, 28\)"):
        feats(torch.zeros(4, 784))
    with pytest.raises(ShapeError):
        feats(torch.zeros(4, 3, 28, 28))
    with pytest.raises(GenlabError, match=r"\(x \+ 1\) / 2"):
        feats(digits[:4] * 2 - 1)  # tanh-range images


def test_mode_kl_is_zero_for_even_samples_and_log_k_for_one_mode():
    import math

    from genlab.metrics.coverage import mode_kl

    modes = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])
    even = modes.repeat(25, 1) + 0.01 * torch.randn(100, 2)
    assert abs(mode_kl(even, modes, 0.1)) < 1e-9
    collapsed = modes[:1].repeat(100, 1)
    assert mode_kl(collapsed, modes, 0.1) == pytest.approx(math.log(4))
    far = torch.full((10, 2), 100.0)
    assert math.isnan(mode_kl(far, modes, 0.1))  # no high-quality sample: undefined
