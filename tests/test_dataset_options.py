"""Dataset options end to end: declared by each dataset (typed, with defaults and checks), set by ``--set data.X``,
a YAML ``data_options:`` or ``data: {name: ...}`` section, recorded in ``config.yaml`` and used again by every
verb that reads the run's data; a user's CSV file is a dataset with options."""

import importlib
import inspect

import pytest
import yaml
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data import load
from genlab.data.options import REQUIRED
from genlab.data.registry import datasets
from genlab.errors import ConfigError
from genlab.training.config import parse_set, read_yaml, resolve


def test_each_dataset_declares_exactly_the_options_its_loader_takes():
    for d in datasets():
        module, _, function = d.loader.partition(":")
        params = inspect.signature(getattr(importlib.import_module(module), function)).parameters.values()
        taken = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}
        declared = {o.name: (inspect.Parameter.empty if o.default is REQUIRED else o.default) for o in d.options}
        assert declared == taken, d.name


@pytest.mark.parametrize("options, message", [
    ({"n_vall": 10}, r"dataset 'digits' has no option 'n_vall' \(did you mean 'n_val'\?\): its options are seed, "
                     r"n_val"),
    ({"n_val": 0}, r"dataset 'digits' option 'n_val' must be ≥ 1, got 0"),
    ({"n_val": 2.5}, r"option 'n_val' must be a whole number, got 2.5"),
    ({"seed": "one"}, r"option 'seed' must be a whole number, got 'one'"),
])
def test_bad_options_are_one_line_naming_the_option(options, message):
    with pytest.raises(ConfigError, match=message):
        load("digits", split="val", **options)


def test_an_option_changes_the_data_and_its_default_is_the_loaders():
    assert len(load("digits", split="val")) == 150
    assert len(load("digits", split="val", n_val=40)) == 40
    with pytest.raises(ConfigError, match=r"dataset 'mnist' option 'source' must be one of auto, package, files"):
        load("mnist", split="val", source="web")


def test_set_and_yaml_sections_carry_the_options(tmp_path):
    assert parse_set(["data.n_val=40", "model.latent_dim=2"]) == {"data_options": {"n_val": 40},
                                                                  "model_options": {"latent_dim": 2}}
    f = tmp_path / "run.yaml"
    f.write_text("model: vae\ndata: {name: digits, n_val: 40}\n")
    cfg = resolve(read_yaml(f), parse_set(["data.seed=3"]))
    assert cfg.data == "digits" and cfg.data_options == {"n_val": 40, "seed": 3}


def _points_csv(path, n=60):
    rows = ["a,b,label"] + [f"{i % 7 * 0.5},{(i * 3) % 5 - 2.0},{i % 3}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_csv_file_trains_samples_and_evaluates_from_the_cli_with_its_options_recorded(tmp_path):
    data = _points_csv(tmp_path / "points.csv")
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "gan", "--data", "csv", "--set", f"data.path={data}", "--set",
                                   "data.label=label", "--max-steps", "4", "--batch-size", "8", "--quiet",
                                   "--out", str(run)])
    assert res.exit_code == 0, res.output
    recorded = yaml.safe_load((run / "config.yaml").read_text())
    assert recorded["data"] == "csv" and recorded["data_options"] == {
        "path": str(data), "label": "label", "seed": 0, "val_fraction": 0.1, "test_fraction": 0.1}
    sampled = CliRunner().invoke(app, ["sample", str(run), "--n", "16", "--out", str(tmp_path / "s.png")])
    assert sampled.exit_code == 0 and (tmp_path / "s.png").is_file(), sampled.output
    vae = tmp_path / "vae"  # eval reloads the run's data with its recorded options (6 test rows of 60)
    assert CliRunner().invoke(app, ["train", "vae", "--data", "csv", "--set", f"data.path={data}", "--max-steps",
                                    "2", "--batch-size", "8", "--quiet", "--out", str(vae)]).exit_code == 0
    evaluated = CliRunner().invoke(app, ["eval", str(vae)])
    assert evaluated.exit_code == 0 and "elbo_n = 6" in evaluated.output, evaluated.output


def test_the_verbs_load_the_runs_data_with_its_options(tmp_path):
    from genlab.rundir import RunDir

    (tmp_path / "config.yaml").write_text("model: vae\ndata: digits\ndata_options: {n_val: 40}\n")
    run = RunDir(tmp_path)
    assert run.data_options() == {"n_val": 40}
    assert run.data_options("digits") == {"n_val": 40}  # the same dataset named again: its options still hold
    assert run.data_options("mnist") == {}  # another dataset: its defaults


def test_a_csv_file_that_cannot_be_read_says_which_line_and_column(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(ConfigError, match=r"bad.csv line 3, column 'b': 'oops' is not a number"):
        load("csv", path=str(bad))
    bad.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ConfigError, match=r"line 3 has 1 cells, the header 2"):
        load("csv", path=str(bad))
    with pytest.raises(ConfigError, match=r"dataset 'csv' needs option 'path'"):
        load("csv")
    with pytest.raises(ConfigError, match=r"has no column 'y' for the labels: its columns are a, b, label"):
        load("csv", path=str(_points_csv(tmp_path / "p.csv")), label="y")


def test_a_resume_cannot_change_the_data_options(tmp_path):
    from genlab.training.config import check_resumable

    with pytest.raises(ConfigError, match=r"cannot change data\.n_val"):
        check_resumable({"data_options": {"n_val": 40}}, {"data": "digits", "data_options": {"n_val": 150}})
    check_resumable({"data_options": {"n_val": 150}}, {"data": "digits", "data_options": {"n_val": 150}})
