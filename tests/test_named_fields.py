"""After the forward pass the spine assumes no ``x``: a generative model on a dataset whose only field is ``counts``
trains, validates and draws its sample files (the renderer chooses what, if anything, to draw them over)."""

import dataclasses

import torch
from torch import nn

from genlab.config import Config
from genlab.data import TensorData
from genlab.data import registry as data_registry
from genlab.models.base import Generative, Model, ModelOutput
from genlab.registry import MODELS, ModelEntry
from genlab.render import IMAGE_GRID, SCATTER_2D, TENSOR_FILE, Renderer
from genlab.training import TrainConfig, train


def load_counts(split: str = "train") -> TensorData:
    """Three Poisson counts per example, in a field named ``counts`` (no ``x``, no ``y``)."""
    g = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
    counts = torch.poisson(torch.full((200, 3), 4.0), generator=g)  # (N, 3)
    return TensorData({"counts": counts}, name="counts", split=split, kind="vector")


@dataclasses.dataclass
class CountsConfig(Config):
    dim: int = 3


class CountsMean(Model, Generative):
    """The mean of the counts, fitted by least squares; samples are the mean plus unit noise."""

    config_class = CountsConfig
    inputs, optional_inputs = ("counts",), ()

    def __init__(self, config: CountsConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.mu = nn.Parameter(torch.zeros(self.config.dim))

    def forward(self, counts) -> ModelOutput:
        return ModelOutput(loss=((counts - self.mu) ** 2).mean())

    def sample(self, n, *, generator=None, **options):
        return self.mu.detach() + torch.randn(n, self.config.dim, generator=generator)

    def renderer(self) -> Renderer:
        return TENSOR_FILE


def test_a_generative_model_on_data_without_an_x_field_trains_validates_and_draws_samples(tmp_path, monkeypatch):
    info = data_registry.DatasetInfo("counts", "vector", (3,), 600, "generated", "MIT", f"{__name__}:load_counts",
                                     splits=("train", "val", "test"), fields=("counts",), options=())
    monkeypatch.setattr(data_registry, "_DATASETS", (*data_registry._DATASETS, info))
    monkeypatch.setitem(data_registry._BY_NAME, "counts", info)
    monkeypatch.setitem(MODELS, "counts-mean", ModelEntry("counts-mean", f"{__name__}:CountsMean", "counts", "toy"))
    r = train(TrainConfig(model="counts-mean", data="counts", epochs=2, batch_size=20, lr=0.1, quiet=True,
                          num_samples=8, val_every_epochs=1, out=str(tmp_path / "run")))
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == [
        "epoch_000.safetensors", "epoch_001.safetensors"]
    assert r.metrics["val/loss"] < 16.0  # below the loss at mu = 0 (E[c²] = λ + λ² = 20): it learned


def test_each_renderer_chooses_its_reference_from_the_named_fields():
    points, images = torch.randn(3000, 2), torch.rand(5, 1, 8, 8)

    def data(**fields):
        return TensorData(fields, name="d", split="val", kind="vector")

    assert SCATTER_2D.reference_from(data(x=points)).points.shape == (2000, 2)  # the data's points, as the backdrop
    assert SCATTER_2D.reference_from(data(counts=points)).points is None  # no x: nothing to draw over
    assert SCATTER_2D.reference_from(data(x=images)).points is None
    assert IMAGE_GRID.reference_from(data(x=images)) is None and TENSOR_FILE.reference_from(data(x=points)) is None
