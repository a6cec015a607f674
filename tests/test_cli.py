"""CLI smoke tests and bad inputs: each bad input gives one clear line, exit code 2, no traceback."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from genlab.cli.main import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _assert_clean_error(res, pattern):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    import re

    assert re.search(pattern, res.output), res.output


def test_help_and_list_import_neither_torch_nor_lightning():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom genlab.cli.main import app\n"
            "r = CliRunner().invoke(app, ['list']); assert r.exit_code == 0, r.output\n"
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0\n"
            "assert 'torch' not in sys.modules and 'lightning' not in sys.modules, 'heavy import'\n"
            "print(r.output)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "train" in p.stdout and "sample" in p.stdout


def test_list_shows_models_and_datasets():
    res = _run("list")
    assert res.exit_code == 0
    for name in ("vae", "mnist-binarized", "digits", "ring8"):
        assert name in res.output


def test_unknown_model_lists_known_ones():
    _assert_clean_error(_run("train", "vea"), r"unknown model 'vea'.*Did you mean 'vae'")


def test_unknown_dataset_lists_known_ones():
    _assert_clean_error(_run("train", "vae", "--data", "mnits"), r"(?s)mnits.*mnist")


def test_malformed_yaml_names_the_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("model: vae\nepochs: [1,\n")
    _assert_clean_error(_run("train", "--config", str(f)), r"not valid YAML at line \d+")


def test_bad_set_says_how_to_write_it():
    _assert_clean_error(_run("train", "vae", "--set", "epochs"), r"not key=value")
    _assert_clean_error(_run("train", "vae", "--set", "epochs=-3"), r"epochs must be ≥ 1")
    _assert_clean_error(_run("train", "vae", "--set", "wings=2"), r"no option.*'wings'")


def test_corrupt_model_folder_is_a_clean_error(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{oops")
    _assert_clean_error(_run("sample", str(tmp_path)), r"not valid JSON")
    _assert_clean_error(_run("sample", str(tmp_path / "missing")), r"no (run|model) folder")


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    _assert_clean_error(_run("train", "--resume", str(tmp_path)), r"not a genlab run folder")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    res = _run("train", "vae", "--data", "digits", "--max-steps", "6", "--batch-size", "256", "--quiet",
               "--out", str(out), "--set", "model.hidden=[16]", "--set", "model.latent_dim=2")
    assert res.exit_code == 0, res.output
    return out


def test_train_sample_eval_round_trip(trained_run, tmp_path):
    assert (trained_run / "model" / "model.safetensors").is_file()
    png = tmp_path / "s.png"
    res = _run("sample", str(trained_run), "--n", "8", "--out", str(png))
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    res = _run("eval", str(trained_run), "--metrics", "elbo,nll", "--k", "20", "--limit", "50")
    assert res.exit_code == 0, res.output
    assert "nll" in res.output and (trained_run / "eval.json").is_file()


def test_sample_rejects_options_the_model_does_not_take(trained_run):
    _assert_clean_error(_run("sample", str(trained_run), "--steps", "5"), r"takes no steps")


def test_eval_rejects_unknown_metrics(trained_run):
    _assert_clean_error(_run("eval", str(trained_run), "--metrics", "elbo,bleu"), r"unknown metric")


@pytest.mark.slow
def test_demo_writes_a_complete_run_folder(tmp_path):
    out = tmp_path / "demo"
    res = _run("demo", "--minutes", "0.2", "--out", str(out), "--quiet")
    assert res.exit_code == 0, res.output
    ev = __import__("json").loads((out / "eval.json").read_text())
    assert ev["nll"] > 0 and ev["fid_n"] == 2000
    assert ev["elbo"] <= -ev["nll"] + 1.0  # ELBO ≤ log p(x) (V1), up to Monte Carlo noise
    assert "## Evaluation (test split)" in (out / "report.md").read_text()


def test_lenet_trains_through_the_generic_spine(tmp_path):
    res = _run("train", "lenet", "--data", "digits", "--max-steps", "3", "--batch-size", "64", "--quiet",
               "--out", str(tmp_path / "run"), "--set", "model.image_size=8", "--set", "model.channels=[4,8]",
               "--set", "model.kernel_size=3", "--set", "model.padding=[1,1]")
    assert res.exit_code == 0, res.output
    assert "val/accuracy" in res.output
