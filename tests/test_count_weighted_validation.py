"""Validation means weighted by the units a loss averages over (``ModelOutput.units``: tokens, steps, cells), not
by the batch's rows: a per-unit loss on batches with unequal unit counts is averaged over the split's units."""

import dataclasses

import pytest
import torch
from torch import nn

from genlab.config import Config
from genlab.models.base import Model, ModelOutput
from genlab.registry import MODELS, ModelEntry
from genlab.training import TrainConfig, train


@dataclasses.dataclass
class PairsConfig(Config):
    start: float = 0.3


class PairMean(Model):
    """``loss`` = the mean over all B² pairs of rows (i, j) of ``(w·m_i − w·m_j)²``, ``m`` a row's mean pixel: a loss
    whose units are pairs, B² of them in a batch of B rows (as a contrastive loss over all pairs)."""

    config_class = PairsConfig

    def __init__(self, config: PairsConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.w = nn.Parameter(torch.tensor(self.config.start))

    def forward(self, x, y=None) -> ModelOutput:
        m = self.w * x.flatten(1).float().mean(1)  # (B,)
        return ModelOutput(loss=((m[:, None] - m[None, :]) ** 2).mean(), units=len(x) ** 2)


@pytest.fixture
def pair_model(monkeypatch):
    monkeypatch.setitem(MODELS, "pair-mean", ModelEntry("pair-mean", f"{__name__}:PairMean", "digits", "test model"))


def test_validation_averages_a_loss_over_the_units_of_the_whole_split_not_over_rows(pair_model, tmp_path):
    from genlab.data import load

    # validation batches hold max(batch_size, 500) rows: 501 rows are a batch of 500 and a batch of 1
    r = train(TrainConfig(model="pair-mean", data="mnist", batch_size=10, max_steps=1, lr=1e-6, quiet=True,
                          num_samples=0, val_size=501, out=str(tmp_path / "run")))
    m = r.model.w.detach().double() * load("mnist", split="val").x[:501].flatten(1).double().mean(1)
    sums = [((b[:, None] - b[None, :]) ** 2).sum() for b in (m[:500], m[500:])]  # each batch's sum over its pairs
    per_unit = sum(sums) / (500 ** 2 + 1 ** 2)  # the mean over every pair the split's batches hold
    per_row = (sums[0] / 500 ** 2 * 500 + sums[1] / 1 ** 2 * 1) / 501  # batch means weighted by rows (before)
    assert float(per_row / per_unit) == pytest.approx(1 - 1 / 501, rel=1e-4)  # the weightings disagree by 0.2 %
    assert r.metrics["val/loss"] == pytest.approx(float(per_unit), rel=1e-5)
    assert r.metrics["val/loss"] != pytest.approx(float(per_row), rel=1e-4)
    assert "val/units" not in r.metrics  # units weight the terms; they are not a term
