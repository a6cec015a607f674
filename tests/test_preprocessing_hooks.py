"""Fitted preprocessing (``genlab.preprocessing``) and the hook at every start: fitted once on the training split
before the model is built, saved with the model as JSON (config) + safetensors buffers, applied once to every
split before the loader (training, evaluation); ``at_start`` runs at every start, a resume included."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from genlab.config import Config
from genlab.data import load
from genlab.evaluation.metrics import evaluate
from genlab.models.base import Model, ModelOutput
from genlab.preprocessing import Preprocessor
from genlab.registry import MODELS, ModelEntry
from genlab.training.config import TrainConfig
from genlab.training.run import resume_config, train


class Center(Preprocessor):
    """x ↦ x − mean(x_train), per pixel."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.register_buffer("mean", torch.zeros(self.shape))

    @classmethod
    def fit(cls, data) -> Center:
        c = cls(tuple(data.x.shape[1:]))
        c.mean.copy_(data.x.mean(0))
        return c

    def spec(self) -> dict:
        return {"shape": list(self.shape)}

    @classmethod
    def from_spec(cls, spec: dict) -> Center:
        return cls(tuple(spec["shape"]))

    def transform(self, fields: dict) -> dict:
        return {**fields, "x": fields["x"] - self.mean}


@dataclasses.dataclass
class CenteredConfig(Config):
    data_shape: tuple[int, ...] = (1, 8, 8)
    preprocessing: dict = dataclasses.field(default_factory=dict)


class Centered(Model):
    """A linear map of centred digits to themselves; counts its hooks."""

    config_class = CenteredConfig
    preprocessor_class = Center
    starts: list[int] = []  # training-split sizes at_start saw
    fresh: list[int] = []  # ... and before_fit

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        d = math.prod(self.config.data_shape)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(d, d))

    @classmethod
    def data_defaults(cls, data) -> dict:
        return {"data_shape": tuple(data.x.shape[1:])}

    def forward(self, x: Tensor, y: Tensor | None = None) -> ModelOutput:
        return ModelOutput((self.net(x) - x.flatten(1)).pow(2).mean())

    def before_fit(self, data) -> None:
        Centered.fresh.append(len(data))

    def at_start(self, data) -> None:
        assert data.x.mean().abs() < 1e-5  # it sees the prepared split
        Centered.starts.append(len(data))


@pytest.fixture
def centered(monkeypatch):
    monkeypatch.setitem(MODELS, "centered", ModelEntry("centered", f"{__name__}:Centered", "digits", "test toy"))
    Centered.starts, Centered.fresh = [], []


def _cfg(tmp_path, epochs: int = 2) -> TrainConfig:
    return TrainConfig(model="centered", data="digits", epochs=epochs, batch_size=64, num_samples=0, quiet=True,
                       out=str(tmp_path / "run"))


def test_preprocessing_is_fitted_on_the_training_split_saved_as_json_and_safetensors_and_applied_once(
        tmp_path, centered):
    result = train(_cfg(tmp_path))
    raw = load("digits", split="train")
    model = result.model
    assert torch.allclose(model.preprocessor.mean, raw.x.mean(0))  # fitted on train, not val or test
    saved = json.loads((result.run_dir / "model" / "config.json").read_text())
    assert saved["config"]["preprocessing"] == {"shape": [1, 8, 8]}  # the spec: JSON in config.json
    (weights,) = (result.run_dir / "model").glob("*.safetensors")
    tensors = load_file(weights)
    assert torch.equal(tensors["preprocessor.mean"], model.preprocessor.mean)  # the fitted state: safetensors
    assert {p.suffix for p in (result.run_dir / "model").iterdir()} <= {".json", ".safetensors"}  # no pickle
    again = Centered(CenteredConfig.from_dict(saved["config"]))  # (genlab.load imports genlab classes only)
    again.load_state_dict(tensors)
    assert torch.equal(again.preprocessor.mean, model.preprocessor.mean)

    test = load("digits", split="test")
    prepared = again.prepare(test)
    assert torch.allclose(prepared.x, test.x - raw.x.mean(0)) and prepared.split == "test"
    figures = evaluate(again, "digits", ["loss"])  # evaluation prepares the test split as training did
    with torch.no_grad():
        expected = again(prepared.x).loss.item()
    assert figures["loss"] == pytest.approx(expected, rel=1e-5)


def test_at_start_runs_at_every_start_and_before_fit_only_on_a_fresh_one(tmp_path, centered):
    train(_cfg(tmp_path, epochs=1))
    n = len(load("digits", split="train"))
    assert Centered.starts == [n] and Centered.fresh == [n]
    cfg = resume_config(tmp_path / "run", {"epochs": 2})
    result = train(cfg, resume=True)
    assert Centered.starts == [n, n] and Centered.fresh == [n]  # the resume rebuilt its data-derived state
    assert torch.allclose(result.model.preprocessor.mean, load("digits", split="train").x.mean(0))


def test_a_model_with_preprocessing_built_without_data_says_how_to_build_it():
    with pytest.raises(KeyError):
        Centered()  # the toy's from_spec needs a spec: a family's own preprocessor words this as a ConfigError
    model = Centered.for_data(load("digits", split="val"))
    assert model.config.preprocessing == {"shape": [1, 8, 8]}
