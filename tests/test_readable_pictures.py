"""Pictures a person reads at a glance (issue 29): a conditional model's grid has one row per class, named, each row
drawn with its label; an image-to-image model's grid has (source | output | truth) columns under headers; every grid
has a title band; a 2-D scatter fades its markers at large n and names data, samples and modes in a legend."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from genlab import plots
from genlab.data import TensorData
from genlab.data.toys import ring_modes
from genlab.models.gan import CGAN, GAN
from genlab.plots import grid_picture, scatter_figure
from genlab.render import SCATTER_2D, Backdrop, Labels, caption, fields_side_by_side, rows_per_class
from genlab.rundir import RunDir
from genlab.training.samples import SampleGrid


@pytest.fixture(scope="module")
def cgan():
    torch.manual_seed(0)
    return CGAN(data_shape=(1, 8, 8), latent_dim=4, num_classes=3, generator={"channels": 4},
                discriminator={"channels": 4}).eval()


def _ink(img, box) -> int:
    """How many pixels of ``img`` inside ``box`` (left, top, right, bottom) are not white."""
    return int((np.asarray(img.convert("L").crop(box)) < 200).sum())


def test_a_conditioned_model_draws_one_row_per_class_each_sampled_with_its_label(cgan):
    x, y = cgan.draw(13, generator=torch.Generator().manual_seed(1))
    assert y.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]  # ⌊13 / 3⌋ of each class, class by class, ≤ n
    same = cgan.sample(12, generator=torch.Generator().manual_seed(1), y=y)
    other = cgan.sample(12, generator=torch.Generator().manual_seed(1), y=(y + 1) % 3)
    assert torch.equal(x, same) and not torch.equal(x, other)  # row r's images are G(z, r)
    tiles, per_row, names = rows_per_class(x, Labels.of(y, ["zero", "one", "two"]))
    assert (per_row, names) == (4, ["zero", "one", "two"])
    assert torch.equal(tiles[4:8], x[y == 1])  # the second row holds the class-1 samples
    assert cgan.draw(2)[1].tolist() == [0, 1]  # n < K: one sample of each of the first n classes


def test_a_label_given_draws_that_class_and_an_unconditioned_model_draws_no_labels(cgan):
    x, y = cgan.draw(5, generator=torch.Generator().manual_seed(0), y=2)
    assert y.tolist() == [2] * 5 and x.shape == (5, 1, 8, 8)
    _, per_row, names = rows_per_class(x, Labels.of(y))
    assert (per_row, names) == (3, ["2", "2"])  # one class: a square block of rows, each row named
    plain, labels = GAN(data_shape=(2,), latent_dim=2).draw(7)
    assert plain.shape == (7, 2) and labels is None and Labels.of(labels) is None


def test_row_labels_and_a_title_add_bands_with_text_beside_and_above_the_same_grid():
    images = torch.zeros(6, 1, 8, 8)  # black tiles
    bare = grid_picture(images, nrow=2)
    labelled = grid_picture(images, nrow=2, row_labels=["0", "1", "2"])
    left = labelled.width - bare.width  # the label column
    assert left > 0 and labelled.height == bare.height and _ink(labelled, (0, 0, left, bare.height)) > 10
    assert np.array_equal(np.asarray(labelled.crop((left, 0, labelled.width, bare.height))), np.asarray(bare))
    titled = grid_picture(images, nrow=2, title="cgan · run-1 · iteration 7 (epoch 2)")
    top = titled.height - bare.height  # the title band
    assert top > 10 and _ink(titled, (0, 0, titled.width, top)) > 50


def test_named_fields_are_columns_under_headers_one_example_a_row():
    source, output, truth = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    tiles, per_row, headers = fields_side_by_side({"source": source, "output": output, "truth": truth})
    assert (per_row, headers) == (3, ["source", "output", "truth"])
    assert torch.equal(tiles[3 * 2: 3 * 3], torch.stack([source[2], output[2], truth[2]]))  # example 2, row 2
    tiles, per_row, headers = fields_side_by_side({"source": torch.rand(64, 1, 8, 8), "output": torch.rand(64, 1, 8, 8),
                                                   "truth": torch.rand(64, 1, 8, 8)})
    assert per_row == 15 and headers[:5] == ["source", "output", "truth", "", "source"]  # 4 blocks of 16 rows
    bare = grid_picture(torch.rand(12, 1, 8, 8), nrow=3)
    headed = grid_picture(torch.rand(12, 1, 8, 8), nrow=3, col_labels=["source", "output", "truth"])
    band = headed.height - bare.height * headed.width // bare.width  # the header band (columns widened to fit)
    assert band > 10 and _ink(headed, (0, 0, headed.width, band)) > 30


def test_the_training_grid_is_titled_with_model_run_and_iteration_and_rows_named_by_the_datas_classes(
        cgan, tmp_path, monkeypatch):
    run = RunDir(tmp_path / "cgan-toy-1")
    run.path.mkdir()
    run.write_config({"model": "cgan", "data": "toy"})
    drawn = {}

    def image_grid(images, path, **options):
        drawn[path.name] = options
        return path

    monkeypatch.setattr(plots, "image_grid", image_grid)
    val = TensorData({"x": torch.rand(6, 1, 8, 8), "y": torch.tensor([0, 1, 2, 0, 1, 2])}, name="toy", split="val",
                     meta={"classes": ["zero", "one", "two"]})
    trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, current_epoch=2)
    SampleGrid(run, 6, reference=val).on_validation_epoch_end(trainer, SimpleNamespace(model=cgan, device="cpu",
                                                                                       iteration=7))
    assert drawn["epoch_002.png"]["title"] == "cgan · cgan-toy-1 · iteration 7 (epoch 2)"
    assert drawn["epoch_002.png"]["row_labels"] == ["zero", "one", "two"]
    assert caption(RunDir(tmp_path / "bare"), "CGAN", "seed 0") == "CGAN · bare · seed 0"  # a model folder


def test_a_large_scatter_fades_its_markers_and_its_legend_names_data_samples_and_modes():
    modes = ring_modes(8, 2.0)
    g = torch.Generator().manual_seed(0)
    fig = scatter_figure(torch.randn(10_000, 2, generator=g), reference=torch.randn(2000, 2, generator=g), modes=modes,
                         title="gan · run")
    ax = fig.axes[0]
    data, samples, rings = ax.collections
    assert samples.get_alpha() < 0.2 and samples.get_sizes()[0] < 3  # 10,000 points: faint small dots
    assert data.get_alpha() < 1 and rings.get_offsets().shape == (8, 2)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "samples", "modes (8)"]
    assert all(h.get_alpha() == 1 for h in ax.get_legend().legend_handles)  # the legend's markers stay legible
    few = scatter_figure(torch.randn(50, 2, generator=g)).axes[0].collections[0]
    assert few.get_alpha() > 0.8  # a few points: opaque
    plots.pyplot().close("all")


def test_a_labelled_scatter_has_a_colour_and_a_legend_entry_per_class(tmp_path, monkeypatch):
    figures = []

    def scatter_figure(points, **options):
        figures.append(original(points, **options))
        return figures[-1]

    original = plots.scatter_figure
    monkeypatch.setattr(plots, "scatter_figure", scatter_figure)
    SCATTER_2D.write(torch.randn(6, 2), tmp_path / "s.png", labels=Labels.of(torch.tensor([0, 1, 2, 0, 1, 2])),
                     reference=Backdrop(modes=ring_modes(3, 1.0)))
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["y = 0", "y = 1", "y = 2", "modes (3)"]
    assert len({tuple(c.get_facecolor()[0][:3]) for c in ax.collections[:3]}) == 3  # a colour per class
    assert (tmp_path / "s.png").is_file()
