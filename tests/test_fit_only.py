"""The fit-only system: closed-form models (PCA, P5; probabilistic PCA, V7/V8/X1) trained from the CLI and the
Python API in one pass, without the Lightning Trainer, into a run folder like any other."""

import json

import pytest
import torch
from typer.testing import CliRunner

import genlab
from genlab.cli.main import app
from genlab.data import load
from genlab.errors import ConfigError
from genlab.models.closed_form import NotFitted
from genlab.models.pca import PCA, PCAModel
from genlab.models.ppca import PPCAModel, ProbabilisticPCA
from genlab.rundir import RunDir
from genlab.runs import read_metrics
from genlab.training import TrainConfig, train

runner = CliRunner()


def _cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _ok(*args):
    res = _cli(*args)
    assert res.exit_code == 0, res.output
    return res.output


def _clean_error(res, pattern):
    import re

    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output  # one line, no traceback
    assert re.search(pattern, lines[0]), lines[0]


def _val_loss(run) -> float:
    rows = read_metrics(RunDir(run).metrics_csv)
    assert len(rows) == 1 and rows[0]["step"] == 0 and rows[0]["epoch"] == 0, rows  # one row: the fit's validation
    return rows[0]["val/loss"]


@pytest.fixture(scope="module")
def ppca_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "ppca"
    _ok("train", "ppca", "--data", "digits", "--out", out, "--quiet")
    return out


def test_pca_from_the_cli_writes_a_run_folder_whose_error_is_the_eckart_young_residual(tmp_path):
    out = tmp_path / "pca"
    _ok("train", "pca", "--data", "digits", "--out", out, "--quiet")
    run = RunDir(out)
    for path in (run.config_yaml, run.metrics_csv, run.model_dir / "model.safetensors", run.model_dir / "config.json",
                 run.report):
        assert path.is_file(), path
    assert not run.checkpoints.exists()  # no Trainer: nothing to checkpoint
    assert json.loads(run.model_progress.read_text()) == {"iteration": 1, "finished": True}
    assert run.read_config()["model"] == "pca"
    report = run.report.read_text()
    assert "fitted in closed form" in report and "fitted values" in report  # not "trained 1 iterations, lr ..."
    assert "--resume" not in report and "iterations in" not in report

    model = genlab.load(out)  # the run folder's model/
    assert isinstance(model, PCAModel) and model.config.n_components == 32 and model.is_fitted
    x = load("digits", split="train").x  # (m, 1, 8, 8)
    fresh = PCAModel(data_shape=(1, 8, 8), n_components=32)
    fresh.fit(load("digits", split="train"))
    for name, buffer in fresh.named_buffers():  # what was saved is what the fit computed
        torch.testing.assert_close(getattr(model, name), buffer, msg=name)

    # Eckart–Young: the mean of ‖x − x̂‖² over the training split is Σ_{i>k} σ_i² / m
    sigma = PCA().fit(x.double()).singular_values_  # all of them, in float64
    residual = sigma[32:].pow(2).sum() / len(x)
    torch.testing.assert_close(model.reconstruction_error(x).mean().double(), residual, rtol=1e-4, atol=0)
    torch.testing.assert_close(model(x).loss.double(), residual, rtol=1e-4, atol=0)
    # val/loss is the same error on the validation split, every row counted once
    val = load("digits", split="val").x
    assert _val_loss(out) == pytest.approx(float(model.reconstruction_error(val).mean()), rel=1e-5)


def test_fewer_components_leave_the_larger_residual():
    data = load("digits", split="train")
    errors = []
    for k in (4, 16, 63):
        model = PCAModel(data_shape=(1, 8, 8), n_components=k)
        model.fit(data)
        errors.append(float(model(data.x).loss))
    assert errors[0] > errors[1] > errors[2] > 0


def test_ppca_samples_a_png_and_evaluates_to_the_exact_log_likelihood(ppca_run):
    output = _ok("sample", ppca_run, "--n", "16")
    png = output.strip().rsplit("→ ", 1)[1]
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert (RunDir(ppca_run).samples / "epoch_000.png").is_file()  # the grid a run draws after its validation

    _ok("eval", ppca_run)  # the default metric of a latent-variable model: elbo
    _ok("eval", ppca_run, "--metrics", "nll", "--k", "4")
    figures = json.loads(RunDir(ppca_run).eval_json.read_text())
    reference = ProbabilisticPCA.fit(load("digits", split="train").x, 32)  # V8 in closed form, fitted afresh
    log_px = reference.log_prob(load("digits", split="test").x).mean().item()
    assert figures["elbo"] == pytest.approx(log_px, rel=1e-4)  # the ELBO at the exact posterior is log p(x) (V1)
    assert figures["nll"] == pytest.approx(-log_px, rel=1e-4)  # importance weights with q = p(z|x): exact for any k

    val = load("digits", split="val").x
    assert _val_loss(ppca_run) == pytest.approx(-reference.log_prob(val).mean().item(), rel=1e-4)


def test_the_python_api_resolves_and_fits_as_the_cli_does(ppca_run, tmp_path):
    result = train(TrainConfig(model="ppca", data="digits", out=str(tmp_path / "api"), quiet=True))
    assert result.steps == 1 and isinstance(result.model, PPCAModel) and not result.model.training
    assert result.metrics["val/loss"] == pytest.approx(_val_loss(ppca_run), rel=1e-6)
    assert result.metrics["val/elbo"] == pytest.approx(-result.metrics["val/loss"], rel=1e-6)
    assert _val_loss(tmp_path / "api") == pytest.approx(result.metrics["val/loss"], rel=1e-6)
    loaded = genlab.load(tmp_path / "api")
    assert dict(loaded.named_buffers()).keys() == dict(result.model.named_buffers()).keys() == {"fitted", "W", "b",
                                                                                               "sigma2"}
    for name, buffer in result.model.named_buffers():  # save_pretrained → load: the same bits
        assert torch.equal(getattr(loaded, name), buffer), name
    cli_config = RunDir(ppca_run).read_config()
    api_config = RunDir(tmp_path / "api").read_config()
    assert {k: v for k, v in cli_config.items() if k != "out"} == {k: v for k, v in api_config.items() if k != "out"}


def test_more_than_one_process_is_refused_in_one_line_before_any_folder_is_written(tmp_path):
    _clean_error(_cli("train", "pca", "--data", "digits", "--devices", "2", "--out", tmp_path / "run"),
                 r"pca is fitted in closed form, in one pass and one process")
    _clean_error(_cli("train", "ppca", "--data", "digits", "--num-nodes", "2", "--out", tmp_path / "run"),
                 r"one process")
    assert not (tmp_path / "run").exists()


def test_resuming_a_closed_form_fit_says_it_finished(ppca_run):
    _clean_error(_cli("train", "--resume", ppca_run),
                 r"a closed-form fit \(ppca\) finished in one pass: nothing to resume")
    with pytest.raises(ConfigError, match=r"closed-form fit \(ppca\) finished in one pass"):
        train(TrainConfig(model="ppca", data="digits", out=str(ppca_run), quiet=True), resume=True)


def test_a_model_not_fitted_yet_says_to_train_it_first():
    x = torch.rand(3, 1, 8, 8)
    pca, ppca = PCAModel(data_shape=(1, 8, 8), n_components=2), PPCAModel(data_shape=(1, 8, 8), latent_dim=2)
    for call, name in ((lambda: pca.encode(x), "pca"), (lambda: pca(x), "pca"), (lambda: ppca.sample(2), "ppca"),
                       (lambda: ppca.elbo(x), "ppca"), (lambda: ppca.reconstruct(x), "ppca")):
        with pytest.raises(NotFitted, match=rf"not fitted yet: train it first: genlab train {name}") as e:
            call()
        assert "\n" not in str(e.value)


def test_ppca_model_is_the_closed_form_model_and_its_bounds_are_exact():
    data = load("digits", split="train")
    model = PPCAModel(data_shape=(1, 8, 8), latent_dim=5)
    model.fit(data)
    reference = ProbabilisticPCA.fit(data.x, 5)
    x = load("digits", split="test").x[:50]
    log_px = reference.log_prob(x)
    torch.testing.assert_close(model(x).loss, -log_px.mean())
    torch.testing.assert_close(model.elbo(x), log_px, rtol=1e-4, atol=1e-3)  # V1: ELBO = log p(x) at p(z|x)
    w = model.log_importance_weights(x, 6, generator=torch.Generator().manual_seed(0))  # (B, k)
    assert w.shape == (50, 6)
    torch.testing.assert_close(w, log_px[:, None].expand(50, 6), rtol=1e-4, atol=1e-3)  # q = p(z|x): no variance
    mean, _ = reference.posterior(x)
    torch.testing.assert_close(model.encode(x), mean)
    torch.testing.assert_close(model.reconstruct(x), (mean @ reference.W.T + reference.b).view(-1, 1, 8, 8))
    s = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert s.shape == (4, 1, 8, 8) and torch.equal(s, model.sample(4, generator=torch.Generator().manual_seed(0)))


def test_a_model_with_buffers_only_has_the_device_and_dtype_of_its_buffers():
    model = PPCAModel(data_shape=(3,), latent_dim=1)
    assert model.num_parameters() == 0 and model.device == torch.device("cpu") and model.dtype == torch.float32
    assert model.double().dtype == torch.float64


def test_genlab_list_shows_the_closed_form_models():
    output = _ok("list")
    for name, ids in (("pca", "P5"), ("ppca", "V7, V8, X1")):
        line = next(line for line in output.splitlines() if line.split()[:1] == [name])
        assert "closed form" in line and ids in line, line
