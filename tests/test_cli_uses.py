"""The AE6 commands (`genlab embed`, `genlab denoise`, `genlab anomaly`) on tiny runs over `digits`,
and the spine option behind `anomaly` (`TrainConfig.exclude_labels`)."""

import json
import math
import re
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data import load

runner = CliRunner()
TINY = ["--data", "digits", "--batch-size", "256", "--quiet", "--set", "model.hidden=[16]"]


def _run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _figure(output: str, key: str) -> float:
    return float(re.search(rf"{key} = ([-\d.e+inf]+)", output).group(1))


def _clean_error(res, pattern):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and re.search(pattern, res.output), res.output


def _eval_json(run):
    return json.loads((run / "eval.json").read_text())


def _tiny_run(tmp_path_factory, model: str, option: str):
    out = tmp_path_factory.mktemp("uses") / model
    res = _run("train", model, *TINY, "--max-steps", "4", "--out", out, "--set", option)
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    return _tiny_run(tmp_path_factory, "ae", "model.code_dim=3")


@pytest.fixture(scope="module")
def dae_run(tmp_path_factory):
    return _tiny_run(tmp_path_factory, "denoising-ae", "model.noise_std=0.2")


def test_help_lists_the_uses_and_imports_no_torch():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom genlab.cli.main import app\n"
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0\n"
            "assert 'torch' not in sys.modules and 'lightning' not in sys.modules, 'heavy import'\n"
            "print(r.output)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for command in ("embed", "denoise", "anomaly"):
        assert command in p.stdout


def test_embed_reports_knn_in_three_spaces_and_precision_and_writes_the_scatter(ae_run, tmp_path):
    from sklearn.neighbors import KNeighborsClassifier

    png = tmp_path / "e.png"
    res = _run("embed", ae_run, "--out", png)
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    ev = _eval_json(ae_run)
    assert ev["embed"]["code_dim"] == 3 and ev["embed"]["data"] == "digits"
    for key in ("knn_code", "knn_pca", "knn_pixel"):
        assert _figure(res.output, key) == pytest.approx(ev["embed"][key], abs=1e-4)
    for key in ("precision_code", "precision_pixel"):
        assert 0 <= _figure(res.output, key) <= 1
    # pixel space does not depend on the model: it must be plain 5-NN on the digits splits
    tr, te = load("digits", split="train"), load("digits", split="test")
    clf = KNeighborsClassifier(5).fit(tr.x.flatten(1).numpy(), tr.y.numpy())
    assert ev["embed"]["knn_pixel"] == pytest.approx(clf.score(te.x.flatten(1).numpy(), te.y.numpy()))
    assert ev["retrieval"]["k"] == 10 and ev["retrieval"]["n_query"] == len(te)


def test_embed_refuses_a_label_conditioned_model(tmp_path):
    from genlab.models.cvae import CVAE

    CVAE(data_shape=(1, 8, 8), hidden=(8,), latent_dim=2, num_classes=10).save_pretrained(tmp_path / "model")
    (tmp_path / "config.yaml").write_text("data: digits\n")
    _clean_error(_run("embed", tmp_path), r"depends on the label.*unconditional")


def test_denoise_reports_psnr_of_noisy_and_denoised_images(dae_run):
    res = _run("denoise", dae_run, "--sigma", "0.5", "--limit", "200")
    assert res.exit_code == 0, res.output
    d = _eval_json(dae_run)["denoise"]
    assert d["sigma"] == 0.5 and d["n"] == 200 and d["data"] == "digits"
    # PSNR of x + 0.5 ε against x is 10 log10(1 / 0.25) ≈ 6.02 dB, up to sampling noise
    assert _figure(res.output, "psnr_noisy_db") == pytest.approx(10 * math.log10(1 / 0.25), abs=0.1)
    assert _figure(res.output, "gain_db") == pytest.approx(d["psnr_denoised"] - d["psnr_noisy"], abs=1e-3)
    assert (dae_run / "denoise.png").read_bytes()[:4] == b"\x89PNG"
    res = _run("denoise", dae_run, "--limit", "200")  # σ defaults to the model's training noise
    assert _eval_json(dae_run)["denoise"]["sigma"] == 0.2, res.output


def test_denoise_on_a_plain_autoencoder_says_what_to_train(ae_run):
    _clean_error(_run("denoise", ae_run), r"not a denoising autoencoder.*genlab train denoising-ae")


def test_anomaly_trains_without_the_digit_and_scores_it_against_the_rest(tmp_path):
    out = tmp_path / "anomaly"
    res = _run("anomaly", "--model", "ae", "--digit", "3", *TINY, "--max-steps", "3", "--out", out)
    assert res.exit_code == 0, res.output
    assert "exclude_labels:\n- 3" in (out / "config.yaml").read_text()
    a = _eval_json(out)["anomaly"]
    test = load("digits", split="test")
    assert a["digit"] == 3 and a["score"] == "reconstruction error"
    assert a["n_anomalies"] == int((test.y == 3).sum()) and a["n_anomalies"] + a["n_normal"] == len(test)
    assert 0 <= a["auroc"] <= 1 and _figure(res.output, "auroc") == pytest.approx(a["auroc"], abs=1e-4)
    # scoring the run again (digit read from its config) gives the same figure
    again = _run("anomaly", out)
    assert again.exit_code == 0, again.output
    assert _figure(again.output, "auroc") == pytest.approx(a["auroc"], abs=1e-4)


def test_anomaly_errors_say_what_to_do(ae_run):
    _clean_error(_run("anomaly", "--model", "ae", "--data", "digits"), r"--digit 7")
    _clean_error(_run("anomaly", "--digit", "11", *TINY, "--max-steps", "1", "--out", ae_run.parent / "x"),
                 r"label\(s\) \[11\] do not occur")
    _clean_error(_run("anomaly", ae_run), r"not trained without exactly one label.*--digit")
    _clean_error(_run("anomaly", ae_run, "--epochs", "2"), r"scored as it is")


def test_spine_leaves_the_excluded_labels_out_of_train_and_val(tmp_path):
    import lightning as L

    from genlab.training import TrainConfig, train

    class Seen(L.Callback):
        labels = set()

        def on_train_start(self, trainer, pl_module):
            dm = trainer.datamodule
            Seen.labels = set(torch.cat([dm.train_data.y, dm.val_data.y]).tolist())
            Seen.n = len(dm.train_data)

    cfg = TrainConfig(model="ae", data="digits", max_steps=1, batch_size=64, quiet=True, out=str(tmp_path / "r"),
                      exclude_labels=[3, 5], model_options={"hidden": [8], "code_dim": 2})
    train(cfg, callbacks=[Seen()])
    full = load("digits", split="train")
    assert Seen.labels == set(range(10)) - {3, 5}
    assert Seen.n == len(full) - int(((full.y == 3) | (full.y == 5)).sum())


def test_exclude_labels_must_be_integers():
    from genlab.errors import ConfigError
    from genlab.training import TrainConfig

    with pytest.raises(ConfigError, match="exclude_labels must be integer labels"):
        TrainConfig(exclude_labels=("seven",))
