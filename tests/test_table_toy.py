"""The mixed-type table toy (issue 24): the ``cars`` and ``table`` datasets (numeric + categorical columns), the
fitted ``TableScaler``, ``table-marginals`` (a Gaussian per numeric column, a categorical per categorical column)
trained, validated, sampled to CSV and evaluated from the CLI and from Python."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from model_template import check_save_load_identical
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data import load
from genlab.errors import ConfigError, ShapeError
from genlab.models.tabular import Column, TableCSV, TableMarginals, TableScaler
from genlab.training import TrainConfig, train

CARS_HEADER = ["Miles_per_Gallon", "Cylinders", "Displacement", "Horsepower", "Weight_in_lbs", "Acceleration", "Year",
               "Origin"]
CITIES = ("Paris", "Lyon", "Nice")


def _mixed_csv(path, n: int = 40):
    """A table of ``n`` rows: price, city, rooms, code (numbers and an ``x``: categorical), rating."""
    rows = ["price,city,rooms,code,rating"] + [
        f"{100.5 + 3.25 * i},{CITIES[i % 3]},{i % 4 + 1},{'x' if i == 7 else i % 2},{0.5 * (i % 5)}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _read_csv(path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


# --- the datasets ------------------------------------------------------------------------------------------
def test_the_table_dataset_infers_numeric_and_categorical_columns_from_a_csv(tmp_path):
    path = _mixed_csv(tmp_path / "mixed.csv")
    splits = {s: load("table", s, path=str(path)) for s in ("train", "val", "test")}
    assert [len(d) for d in splits.values()] == [32, 4, 4]
    train_split = splits["train"]
    assert train_split.kind == "table" and set(train_split.fields) == {"numeric", "categorical"}
    assert train_split.meta["columns"] == [
        {"name": "price", "type": "numeric", "categories": []},
        {"name": "city", "type": "categorical", "categories": ["Lyon", "Nice", "Paris"]},
        {"name": "rooms", "type": "numeric", "categories": []},
        {"name": "code", "type": "categorical", "categories": ["0", "1", "x"]},  # one cell is not a number
        {"name": "rating", "type": "numeric", "categories": []}]
    numeric = torch.cat([d.fields["numeric"] for d in splits.values()])  # (40, 3)
    categorical = torch.cat([d.fields["categorical"] for d in splits.values()])  # (40, 2)
    assert numeric.dtype == torch.float32 and categorical.dtype == torch.int64
    order = numeric[:, 0].argsort()  # the rows by price: row i of the file
    assert torch.allclose(numeric[order, 0], 100.5 + 3.25 * torch.arange(40.0))  # every row once, across splits
    assert torch.equal(numeric[order, 1], (torch.arange(40) % 4 + 1).float())
    cities = torch.tensor([["Lyon", "Nice", "Paris"].index(CITIES[i % 3]) for i in range(40)])
    assert torch.equal(categorical[order, 0], cities)
    assert categorical[order, 1].tolist() == [2 if i == 7 else i % 2 for i in range(40)]
    assert load("table", "val", path=str(path), seed=1).fields["numeric"].tolist() != splits["val"].fields[
        "numeric"].tolist()  # the seed chooses the split


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,x\n,y\n", r"bad.csv line 3, column 'a' is empty: fill it in or drop the row"),
    ("a,b\n1,x\n2,\n", r"bad.csv line 3, column 'b' is empty"),
    ("a,b\n1,x\n2\n", r"bad.csv line 3 has 1 cells, the header 2: fix the row"),
    ("a,b\n1,x\nnan,y\n", r"bad.csv line 3, column 'a': 'nan' is not a finite number"),
    ("a,b\n", r"bad.csv needs a header row and at least one row of values"),
])
def test_a_table_that_cannot_be_read_says_which_file_line_and_column(tmp_path, text, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load("table", path=str(bad))


def test_a_table_needs_a_path_to_an_existing_file_and_enough_rows(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset 'table' needs option 'path'"):
        load("table")
    with pytest.raises(ConfigError, match=r"missing.csv does not exist"):
        load("table", path=str(tmp_path / "missing.csv"))
    with pytest.raises(ConfigError, match=r"has 5 rows: too few for train, val and test splits"):
        load("table", path=str(_mixed_csv(tmp_path / "small.csv", n=5)))


def test_cars_loads_with_split_sizes_adding_up_and_no_missing_values():
    splits = {s: load("cars", s) for s in ("train", "val", "test")}
    assert sum(len(d) for d in splits.values()) == 392  # 406 rows less the 14 with a missing value
    assert [len(d) for d in splits.values()] == [314, 39, 39]
    columns = splits["train"].meta["columns"]
    assert [c["name"] for c in columns] == CARS_HEADER
    assert [c["name"] for c in columns if c["type"] == "categorical"] == ["Cylinders", "Origin"]
    assert columns[-1]["categories"] == ["Europe", "Japan", "USA"]
    for d in splits.values():
        numeric, categorical = d.fields["numeric"], d.fields["categorical"]
        assert d.kind == "table" and numeric.shape[1:] == (6,) and categorical.shape[1:] == (2,)
        assert torch.isfinite(numeric).all()
        assert numeric[:, 5].min() >= 1970 and numeric[:, 5].max() <= 1982  # Year: the model year
        assert (categorical >= 0).all() and (categorical[:, 0] < 5).all() and (categorical[:, 1] < 3).all()
        assert d.meta == splits["train"].meta  # the codes mean the same in every split
    assert len(load("cars", "test", test_fraction=0.2)) == 78


# --- the scaler --------------------------------------------------------------------------------------------
def test_the_scaler_standardizes_the_training_split_and_inverts_it():
    data = load("cars", "train")
    scaler = TableScaler.fit(data)
    z = scaler.apply(data).fields["numeric"]
    assert torch.allclose(z.mean(0), torch.zeros(6), atol=1e-4)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(6), atol=1e-4)
    back = scaler.inverse(scaler.transform(dict(data.fields)))
    assert torch.allclose(back["numeric"], data.fields["numeric"], rtol=1e-5, atol=1e-3)
    assert torch.equal(back["categorical"], data.fields["categorical"])  # codes pass through
    assert scaler.spec()["counts"] == [torch.bincount(data.fields["categorical"][:, j], minlength=k).tolist()
                                       for j, k in ((0, 5), (1, 3))]
    with pytest.raises(ConfigError, match=r"columns .* but the model was fitted on"):
        scaler.apply(data.replace(meta={"columns": data.meta["columns"][::-1]}))


def test_the_fitted_state_survives_save_pretrained_as_json_and_safetensors(tmp_path):
    from safetensors import safe_open

    data = load("cars", "train")
    model = TableMarginals.for_data(data)
    assert model.preprocessor.mean[0] > 20  # fitted: miles per gallon, not the zeros a bare spec builds
    batch = model.prepare(load("cars", "val")).fields
    check_save_load_identical(model, batch, tmp_path, call=lambda m, b: m(**b).loss)
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["config"]["preprocessing"] == model.preprocessor.spec()  # the column spec and counts: JSON
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:
        assert {"preprocessor.mean", "preprocessor.std"} <= set(f.keys())
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]  # no pickle
    loaded = TableMarginals.from_pretrained(tmp_path / "m")
    assert torch.equal(loaded.preprocessor.std, model.preprocessor.std)
    assert torch.equal(loaded.prepare(data).fields["numeric"], model.prepare(data).fields["numeric"])


def test_a_table_model_without_its_fitted_preprocessing_says_how_to_build_it():
    with pytest.raises(ConfigError, match=r"Model\.for_data\(train_split\), or train it: genlab train table-marginals"):
        TableMarginals()


# --- the model ---------------------------------------------------------------------------------------------
def test_the_loss_is_the_nll_per_row_in_data_units():
    data = load("cars", "val")
    model = TableMarginals.for_data(load("cars", "train")).double()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    out = model(**model.prepare(data).fields)
    v, c = data.fields["numeric"].double(), data.fields["categorical"]
    m, s = model.preprocessor.mean, model.preprocessor.std
    numeric = torch.distributions.Normal(m + s * model.mu, s * model.log_sigma.exp()).log_prob(v).sum(1)  # (B,)
    categorical = sum(torch.distributions.Categorical(logits=model.logits[j, :k]).log_prob(c[:, j])
                      for j, k in ((0, 5), (1, 3)))  # (B,)
    assert torch.allclose(out.nll_numeric, -numeric.mean())
    assert torch.allclose(out.nll_categorical, -categorical.mean())
    assert torch.allclose(out.loss, -(numeric + categorical).mean())


def test_bad_codes_and_shapes_are_refused():
    model = TableMarginals.for_data(load("cars", "train"))
    fields = model.prepare(load("cars", "val")).fields
    with pytest.raises(ShapeError, match=r"column 'Origin' has codes 0\.\.2"):
        model(fields["numeric"], fields["categorical"] + torch.tensor([0, 1]))
    with pytest.raises(ShapeError, match=r"integer category codes"):
        model(fields["numeric"], fields["categorical"].float())
    with pytest.raises(ShapeError, match=r"expected numeric of shape \(B, 6\)"):
        model(fields["numeric"][:, :3], fields["categorical"])


def _three_categories(codes: list[int]):
    from genlab.data.tensors import TensorData

    columns = [{"name": "v", "type": "numeric", "categories": []},
               {"name": "kind", "type": "categorical", "categories": ["a", "b", "c"]}]
    n = len(codes)
    return TensorData({"numeric": torch.linspace(10, 20, n)[:, None], "categorical": torch.tensor(codes)[:, None]},
                      name="three", split="train", kind="table", meta={"columns": columns})


def test_samples_are_in_data_units_and_hold_only_training_categories(tmp_path):
    data = _three_categories([0, 1] * 50)  # "c" never occurs in training
    model = TableMarginals.for_data(data)
    with torch.no_grad():
        model.logits[0] = torch.tensor([0.0, 0.0, 10.0])  # "c" the most probable: still never drawn
    s = model.sample(4000, generator=torch.Generator().manual_seed(0))
    assert s["numeric"].shape == (4000, 1) and s["categorical"].shape == (4000, 1)
    assert s["categorical"].dtype == torch.int64 and set(s["categorical"].unique().tolist()) == {0, 1}
    assert abs(float(s["numeric"].mean()) - 15.0) < 0.15  # μ = 0 in standardized units is the training mean
    assert abs(float(s["numeric"].std()) - float(model.preprocessor.std[0])) < 0.1
    with torch.no_grad():
        assert math.isfinite(float(model(**model.prepare(_three_categories([2, 0])).fields).loss))  # c: finite
    again = model.sample(4000, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(s[k], again[k]) for k in s)  # seeded
    header, rows = _read_csv(model.renderer().write(s, tmp_path / "s.csv"))
    assert header == ["v", "kind"] and {r[1] for r in rows} == {"a", "b"}


def test_the_csv_renderer_writes_the_columns_in_order_with_names_and_readable_numbers(tmp_path):
    r = TableCSV(columns=(Column("size", "numeric"), Column("colour", "categorical", ("blue", "red")),
                          Column("weight", "numeric")))
    path = r.write({"numeric": torch.tensor([[1.5, 3504.23456], [1234567.0, 0.000123456789]]),
                    "categorical": torch.tensor([[1], [0]])}, tmp_path / "t")
    assert path.name == "t.csv"
    assert _read_csv(path) == (["size", "colour", "weight"], [["1.5", "red", "3504.23"],
                                                              ["1234570", "blue", "0.000123457"]])
    number = Column("v", "numeric").cells
    assert number([-2.0, 1e-12]) == ["-2", "0.000000000001"]
    assert Column("n", "numeric", dtype="int").cells([2.6, -0.4]) == ["3", "0"]
    assert Column("d", "numeric", dtype="datetime").cells([0.0, 18262.5]) == ["1970-01-01", "2020-01-01T12:00:00"]
    with pytest.raises(ConfigError, match=r"dtype must be one of str, bool"):
        Column("c", "categorical", ("a",), dtype="int")
    with pytest.raises(ShapeError, match=r"column 'colour' has 2 categories, got code 2"):
        r.write({"numeric": torch.zeros(1, 2), "categorical": torch.tensor([[2]])}, tmp_path / "bad.csv")
    with pytest.raises(ConfigError, match=r"named fields numeric and categorical"):
        r.write(torch.zeros(2, 3), tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()
    with pytest.raises(ConfigError, match=r"ending in \.csv"):
        r.check(tmp_path / "s.png")


def test_a_users_table_trains_into_a_model_whose_samples_have_its_columns(tmp_path):
    path = _mixed_csv(tmp_path / "mixed.csv")
    model = TableMarginals.for_data(load("table", path=str(path)))
    written = model.renderer().write(model.sample(20, generator=torch.Generator().manual_seed(0)), tmp_path / "s")
    header, rows = _read_csv(written)
    assert header == ["price", "city", "rooms", "code", "rating"] and len(rows) == 20
    assert {r[1] for r in rows} <= set(CITIES) and all(float(r[0]) > 0 for r in rows)


# --- trained from the CLI and from Python -------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("table") / "run"
    res = CliRunner().invoke(app, ["train", "table-marginals", "--data", "cars", "--epochs", "3", "--quiet",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _final_val_loss(run) -> float:
    with open(run / "metrics.csv", newline="") as f:
        return float([r for r in csv.DictReader(f) if r["val/loss"]][-1]["val/loss"])


def test_the_cli_run_draws_csv_samples_each_epoch(cli_run):
    assert sorted(p.name for p in (cli_run / "samples").iterdir()) == ["epoch_000.csv", "epoch_001.csv",
                                                                       "epoch_002.csv"]
    header, rows = _read_csv(cli_run / "samples" / "epoch_002.csv")
    assert header == CARS_HEADER and len(rows) == 64


def test_genlab_sample_writes_a_csv_of_the_columns_and_training_categories(cli_run, tmp_path):
    res = CliRunner().invoke(app, ["sample", str(cli_run), "--n", "50", "--out", str(tmp_path / "cars.csv")])
    assert res.exit_code == 0, res.output
    header, rows = _read_csv(tmp_path / "cars.csv")
    assert header == CARS_HEADER and len(rows) == 50
    train_split = load("cars", "train")
    seen = {c["name"]: {c["categories"][k] for k in train_split.fields["categorical"][:, j].tolist()}
            for j, c in enumerate(c for c in train_split.meta["columns"] if c["type"] == "categorical")}
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        assert cells["Cylinders"] in seen["Cylinders"] and cells["Origin"] in seen["Origin"]
        assert all(math.isfinite(float(cells[name])) for name in header if name not in seen)


def test_genlab_eval_gives_the_nll_per_row_below_an_untrained_models(cli_run):
    from genlab.evaluation import evaluate

    res = CliRunner().invoke(app, ["eval", str(cli_run), "--metrics", "loss"])
    assert res.exit_code == 0, res.output
    figures = json.loads((cli_run / "eval.json").read_text())
    assert figures["loss_n"] == 39 and math.isfinite(figures["loss"])
    untrained = evaluate(TableMarginals.for_data(load("cars", "train")), "cars", ["loss"])["loss"]
    assert figures["loss"] < untrained - 0.3, (figures["loss"], untrained)


def test_the_python_api_gives_the_cli_runs_final_validation_loss(cli_run, tmp_path):
    r = train(TrainConfig(model="table-marginals", data="cars", epochs=3, quiet=True, out=str(tmp_path / "run")))
    assert r.metrics["val/loss"] == pytest.approx(_final_val_loss(cli_run), rel=1e-6)


def test_training_reaches_the_marginal_maximum_likelihood_fit(tmp_path):
    r = train(TrainConfig(model="table-marginals", data="cars", epochs=30, lr_schedule="cosine", quiet=True,
                          out=str(tmp_path / "run")))
    model = r.model
    z = model.prepare(load("cars", "train")).fields["numeric"]  # the MLE: μ = mean(z) = 0, σ = std(z) = 1
    assert torch.allclose(model.mu.detach(), z.mean(0), atol=0.01)
    assert torch.allclose(model.log_sigma.detach().exp(), z.std(0, unbiased=False), atol=0.02)
    for p, counts in zip(model.probabilities(), model.preprocessor.counts, strict=True):
        frequencies = torch.tensor(counts, dtype=torch.float32) / sum(counts)  # the MLE of a categorical
        assert torch.allclose(p, frequencies, atol=0.01), (p, frequencies)
