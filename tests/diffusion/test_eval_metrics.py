"""``genlab.evaluation.metrics`` of the diffusion issue: ``bpd`` (D4/D5 bound) and mode ``coverage`` of 2-D toys."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.data import load
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError, ShapeError
from genlab.evaluation.metrics import eval_bpd, evaluate
from genlab.metrics.coverage import mode_coverage
from genlab.models.base import Generative
from genlab.models.diffusion import DDPM, VDM

SQUARE = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # 4 modes, std 0.1 → radius 0.3


def test_samples_on_every_mode_cover_all_modes_and_are_all_good():
    c = mode_coverage(SQUARE.repeat(3, 1), SQUARE, 0.1)
    assert (c.modes, c.samples, c.modes_covered) == (1.0, 1.0, 4)
    assert c.radius == pytest.approx(0.3)


def test_collapse_onto_one_mode_covers_a_quarter_and_far_samples_are_bad():
    collapsed = torch.tensor([[1.0, 1.0]]).repeat(6, 1) + torch.tensor([[0.2, 0.0]])  # 2σ off one mode
    far = torch.tensor([[0.5, 0.5]]).repeat(2, 1)  # 0.71 from every mode: outside 3σ
    c = mode_coverage(torch.cat([collapsed, far]), SQUARE, 0.1)
    assert (c.modes_covered, c.modes, c.samples) == (1, 0.25, 0.75)


def test_the_radius_is_three_standard_deviations():
    inside, outside = torch.tensor([[0.29, 0.0]]), torch.tensor([[0.0, 0.31]])
    assert mode_coverage(inside, SQUARE, 0.1).modes_covered == 1
    assert mode_coverage(outside, SQUARE, 0.1).modes_covered == 0
    assert mode_coverage(outside, SQUARE, 0.1, num_std=3.2).modes_covered == 1


def test_mode_coverage_rejects_mismatched_dimensions():
    with pytest.raises(ShapeError, match=r"samples \(n, D\) and modes \(K, D\)"):
        mode_coverage(torch.zeros(5, 3), SQUARE, 0.1)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_the_test_data_itself_covers_every_mode_with_the_2d_gaussian_3_sigma_mass(name):
    data = load(name, split="test")
    c = mode_coverage(data.x, data.modes, data.std)
    # P(‖x − μ‖ ≤ 3σ) for a 2-D isotropic Gaussian = 1 − e^{−9/2} = 0.9889
    n = len(data.x)
    p = 1 - math.exp(-4.5)
    assert c.modes == 1.0
    assert abs(c.samples - p) < 4 * math.sqrt(p * (1 - p) / n)


class _Points(torch.nn.Module, Generative):
    """A 'model' whose samples are fixed points, cycled."""

    def __init__(self, points: torch.Tensor) -> None:
        super().__init__()
        self.points = points

    def sample(self, n: int, *, generator=None) -> torch.Tensor:
        return self.points[torch.arange(n) % len(self.points)]


def test_coverage_metric_takes_the_modes_and_std_from_the_dataset():
    data = load("grid25", split="test")
    half = _Points(data.modes[::2])  # 13 of the 25 centres
    out = evaluate(half, "grid25", ["coverage"], n=100)
    assert out["coverage_modes_covered"] == 13 and out["coverage_num_modes"] == 25
    assert out["coverage_modes"] == pytest.approx(13 / 25) and out["coverage_samples"] == 1.0
    assert out["coverage_radius"] == pytest.approx(3 * data.std) and out["coverage_n"] == 100


def test_coverage_on_data_without_modes_says_which_data_to_use():
    with pytest.raises(ConfigError, match="pass --data ring8 or --data grid25"):
        evaluate(_Points(torch.zeros(1, 2)), "moons", ["coverage"], n=10)


def _tiny(cls, **kw):
    torch.manual_seed(0)
    extra = {"num_train_timesteps": 50} if cls is DDPM else {"schedule_hidden": 8}
    return cls(data_shape=(2,), hidden_dim=16, num_layers=1, **extra, **kw).eval()


@pytest.mark.parametrize("cls", [DDPM, VDM])
def test_bpd_metric_is_the_mean_of_nll_bpd_with_its_standard_error(cls):
    model = _tiny(cls)
    x = load("ring8", split="test").x[:300]
    out = evaluate(model, "ring8", ["bpd"], terms=3, limit=300, seed=5)
    bpd = model.nll_bpd(x, generator=torch.Generator().manual_seed(5), terms=3).total  # (300,)
    assert out["bpd"] == pytest.approx(bpd.mean().item(), rel=1e-6)
    assert out["bpd_se"] == pytest.approx(bpd.std().item() / math.sqrt(300), rel=1e-6)
    assert (out["bpd_n"], out["bpd_k"], out["bpd_conditional"]) == (300, 3, False)


def test_bpd_of_a_conditional_model_uses_the_test_labels():
    model = _tiny(DDPM, num_classes=8)
    data = load("ring8", split="test").subset(torch.arange(200))
    x, y = data.x, data.y
    out = eval_bpd(model, data, terms=4, seed=1)
    given_y = model.nll_bpd(x, y, generator=torch.Generator().manual_seed(1), terms=4).total.mean().item()
    without = model.nll_bpd(x, None, generator=torch.Generator().manual_seed(1), terms=4).total.mean().item()
    assert out["bpd"] == pytest.approx(given_y, rel=1e-6) and out["bpd"] != pytest.approx(without, rel=1e-6)
    assert out["bpd_conditional"] is True


def test_bpd_without_terms_reports_the_models_own_default():
    data = load("ring8", split="test").subset(torch.arange(50))
    assert DDPM.bound_terms_default == 50 and VDM.bound_terms_default == 1
    assert eval_bpd(_tiny(DDPM), data)["bpd_k"] == 50  # stratified terms, not all T − 1
    assert eval_bpd(_tiny(VDM), data)["bpd_k"] == 1


def test_bpd_needs_a_model_with_a_diffusion_bound():
    with pytest.raises(ConfigError, match="needs a model with a diffusion bound: nll_bpd"):
        eval_bpd(_Points(torch.zeros(1, 2)), TensorData(x=torch.zeros(3, 2), name="points", split="test"))
