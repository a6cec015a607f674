"""Reproduced defects of `genlab eval`, `sample` and `train`: each test failed before its fix.

FID/KID at any n ≥ 2 with KID's spread estimated; results kept in eval.json before an error; the default
metric from the model's capabilities; sample files in the format their suffix names; train's defaults
in --help; a warning for more processes than cores; the README's anomaly example explained.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import types
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.evaluation.metrics import default_metrics, evaluate
from genlab.metrics.fid import kid, kid_subset_size
from genlab.models.base import Classifier, DiffusionBound, Generative, LatentVariable

OLD_VAE = Path(__file__).resolve().parent / "fixtures" / "runs" / "vae-v0"  # a VAE on mnist-binarized
README = Path(__file__).resolve().parents[1] / "README.md"
runner = CliRunner()


@pytest.fixture(scope="module")
def digits():
    """The first 1,000 MNIST test images, (1000, 1, 28, 28) in [0, 1]."""
    from genlab.data import load

    return load("mnist", split="test").x[:1000]


@pytest.fixture()
def vae_run(tmp_path):
    """A copy of the old VAE run (eval writes eval.json into the run folder)."""
    run = tmp_path / "run"
    shutil.copytree(OLD_VAE, run)
    (run / "eval.json").unlink(missing_ok=True)
    return run


class _Images(torch.nn.Module, Generative):
    """A 'model' whose samples are given images, slightly noised."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.images = images

    def sample(self, n: int, *, generator=None) -> torch.Tensor:
        noise = 0.1 * torch.randn(self.images[:n].shape, generator=generator)
        return (self.images[:n] + noise).clamp(0, 1)


# --- 1. FID/KID at any n ≥ 2; KID's spread ---------------------------------------------------------
def test_kid_subset_size_is_a_thousand_at_most_half_the_images():
    assert [kid_subset_size(n) for n in (2, 3, 4, 5, 500, 1000, 2000, 10000)] == [2, 3, 2, 2, 250, 500, 1000, 1000]


def test_kid_spread_at_n_1000_is_estimated_not_zero(digits):
    noisy = (digits + 0.2 * torch.randn(digits.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    r = kid(digits, noisy, subsets=20)  # n = 1000: subsets of 500, which differ
    assert r.subset_size == 500 and r.std > 0 and r.mean > 3 * r.std
    whole = kid(digits, noisy, subset_size=1000, subsets=20)  # every subset is all 1000 images
    assert math.isnan(whole.std) and whole.mean > 0  # torchmetrics says 0.0: one set drawn 20 times
    assert math.isnan(kid(digits[:400], noisy[:400], subsets=1).std)  # one subset: no spread either


@pytest.mark.parametrize("n", [2, 3, 500])
def test_fid_metric_works_at_any_n_and_states_kids_subset_size(digits, n):
    out = evaluate(_Images(digits[500:]), "mnist", ["fid"], n=n, limit=500)
    assert out["fid_n"] == n and out["kid_subset_size"] == kid_subset_size(n) and out["kid_subsets"] == 100
    assert math.isfinite(out["fid"]) and math.isfinite(out["kid"])
    assert math.isnan(out["kid_std"]) if n < 4 else out["kid_std"] > 0


def test_fid_metric_below_two_samples_says_what_to_pass(digits):
    with pytest.raises(ConfigError, match="pass --n 2 or more"):
        evaluate(_Images(digits), "mnist", ["fid"], n=1, limit=10)


def test_eval_fid_at_n_500_writes_fid_and_kid(vae_run):
    res = runner.invoke(app, ["eval", str(vae_run), "--metrics", "elbo,fid", "--n", "500", "--limit", "500"])
    assert res.exit_code == 0, res.output
    ev = json.loads((vae_run / "eval.json").read_text())
    assert ev["fid_n"] == 500 and ev["kid_subset_size"] == 250 and "elbo" in ev


# --- 1. results computed before an error are kept -------------------------------------------------------
def test_evaluate_hands_over_each_metric_as_it_completes_then_raises(digits):
    seen = []
    with pytest.raises(ConfigError, match="coverage needs a mixture"):
        evaluate(_Images(digits), "mnist", ["fid", "coverage"], n=3, limit=3,
                 on_result=lambda name, figures: seen.append((name, figures)))
    assert [name for name, _ in seen] == ["fid"] and seen[0][1]["fid_n"] == 3 and seen[0][1]["data"] == "mnist"


def test_eval_keeps_in_eval_json_what_it_computed_before_an_error(vae_run):
    res = runner.invoke(app, ["eval", str(vae_run), "--metrics", "elbo,fid", "--n", "1", "--limit", "50"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    err = res.stderr.strip().splitlines()  # one line, as every user error
    assert len(err) == 1 and err[0].startswith("error: fid needs at least 2"), res.stderr
    assert re.search(r"\(elbo, computed before this error: kept in .*eval\.json\)$", err[0])
    ev = json.loads((vae_run / "eval.json").read_text())
    assert ev["elbo_n"] == 50 and "fid" not in ev


# --- 2. the default metric follows the model's capabilities -----------------------------------------
class _Bound(torch.nn.Module, Generative, LatentVariable):
    pass


class _Diffusion(torch.nn.Module, Generative, DiffusionBound):
    pass


class _Classifier(torch.nn.Module, Classifier):
    pass


def _data(name: str, x: torch.Tensor, **meta) -> TensorData:
    return TensorData(x=x, name=name, split="test", meta=meta)


def test_default_metric_follows_the_declared_capabilities():
    images, points = _data("mnist", torch.zeros(4, 1, 28, 28)), _data("ring8", torch.zeros(4, 2), modes=[[0, 0]],
                                                                       std=0.1)
    assert default_metrics(_Bound(), images) == ["elbo"]
    assert default_metrics(_Diffusion(), images) == ["bpd"]
    assert default_metrics(_Classifier(), images) == ["accuracy", "f1"]  # a classifier: accuracy and macro-F1
    assert default_metrics(_Images(images.x), images) == ["fid"]
    assert default_metrics(_Images(points.x), points) == ["coverage"]
    with pytest.raises(ConfigError, match="no default metric.*--metrics"):
        default_metrics(_Images(points.x), _data("moons", torch.zeros(4, 2)))
    with pytest.raises(ConfigError, match="no default metric"):
        default_metrics(torch.nn.Linear(1, 1), images)


def test_eval_of_an_autoencoder_defaults_to_fid_not_elbo(digits, tmp_path):
    from genlab.models.autoencoders import Autoencoder
    from genlab.models.autoencoders.code_prior import fit_code_prior

    ae = Autoencoder(hidden=(16,), code_dim=2, prior_components=1).eval()
    fit_code_prior(ae, digits[:100])
    ae.save_pretrained(tmp_path / "model")
    res = runner.invoke(app, ["eval", str(tmp_path / "model"), "--data", "mnist", "--n", "20", "--limit", "20"])
    assert res.exit_code == 0, res.output
    assert "metrics: fid (Autoencoder's default" in res.output and "fid_n = 20" in res.output


def test_eval_help_says_how_the_default_metric_is_chosen():
    help_text = _help("eval")
    assert "what the model declares" in help_text and "elbo" in help_text and "coverage" in help_text


# --- 3. sample files in the format their suffix names ---------------------------------------------------
@pytest.mark.parametrize(("name", "magic"), [("s.jpg", b"\xff\xd8\xff"), ("s.JPEG", b"\xff\xd8\xff"),
                                             ("s.png", b"\x89PNG"), ("s", b"\x89PNG")])
def test_sample_writes_the_format_its_suffix_names(tmp_path, name, magic):
    res = runner.invoke(app, ["sample", str(OLD_VAE), "--n", "4", "--out", str(tmp_path / name)])
    assert res.exit_code == 0, res.output
    written = tmp_path / (name if "." in name else name + ".png")
    assert written.read_bytes()[:len(magic)] == magic and str(written) in res.output
    assert [p.name for p in tmp_path.iterdir()] == [written.name]


def test_sample_refuses_a_suffix_it_cannot_write_and_lists_the_ones_it_can(tmp_path):
    res = runner.invoke(app, ["sample", str(OLD_VAE), "--n", "4", "--out", str(tmp_path / "s.gif")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert re.search(r"error: cannot write an image grid as '\.gif'.*\.png, \.jpg, \.jpeg", res.output)
    assert not any(tmp_path.iterdir())


def test_renderers_keep_known_suffixes_and_replace_others_for_the_spine(tmp_path):
    from genlab.render import IMAGE_GRID, SCATTER_2D, TENSOR_FILE

    assert SCATTER_2D.write(torch.randn(20, 2), tmp_path / "p.svg").read_bytes().lstrip().startswith(b"<?xml")
    assert SCATTER_2D.write(torch.randn(20, 2), tmp_path / "p.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert TENSOR_FILE.write(torch.zeros(3, 5), tmp_path / "epoch_000.png").name == "epoch_000.safetensors"
    assert IMAGE_GRID.path(tmp_path / "g.gif").suffix == ".png"  # a name the spine made
    with pytest.raises(ConfigError, match=r"\.safetensors"):
        TENSOR_FILE.check(tmp_path / "t.png")  # a name the user gave


def test_plots_write_the_suffixs_format_or_refuse_it(tmp_path):
    from genlab.plots import image_grid, pyplot, save_figure

    assert image_grid(torch.rand(4, 1, 8, 8), tmp_path / "g.jpeg").read_bytes()[:3] == b"\xff\xd8\xff"
    plt = pyplot()
    fig = plt.figure()
    assert save_figure(fig, tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(ConfigError, match=r"\.png, \.jpg, \.jpeg, \.pdf, \.svg"):
        save_figure(fig, tmp_path / "f.bmp")
    plt.close(fig)


def _help(command: str) -> str:
    """``genlab COMMAND --help`` as one line of words (the boxes and line breaks of rich taken out)."""
    return " ".join(runner.invoke(app, [command, "--help"]).output.replace("│", " ").split())


# --- 4. train --help shows defaults -------------------------------------------------------------------
def test_train_help_shows_a_default_for_every_option():
    import typer

    from genlab.training.config import DEFAULTS, TrainConfig

    params = {p.name: p for p in typer.main.get_command(app).commands["train"].params if p.name != "help"}
    missing = [n for n, p in params.items() if p.param_type_name == "option" and not p.show_default]
    assert not missing, missing
    for name in ("batch_size", "lr", "ema_decay", "grad_clip", "num_samples", "data"):
        assert params[name].show_default == "the model's, see genlab list", name
    for name in ("seed", "precision", "devices", "num_nodes", "strategy"):
        assert params[name].show_default == str(getattr(TrainConfig, name)), name
    assert str(TrainConfig.epochs) in params["epochs"].show_default
    from genlab.cli.main import GENLAB_TRAIN_DEFAULTS

    assert GENLAB_TRAIN_DEFAULTS == DEFAULTS  # what `genlab list` prints as every model's defaults


def test_train_help_says_what_max_time_counts():
    help_text = _help("train")
    assert "[default: (the model's, see genlab list)]" in help_text
    assert re.search(r"training loop.*final validation, the model save and the report after it are not counted",
                     help_text)


def test_list_shows_the_training_defaults_the_help_points_to():
    out = runner.invoke(app, ["list", "--runs", "/nonexistent"]).output
    assert re.search(r"every model\s+batch size 128, lr 0.001, EMA off, grad clip off, 64 samples", out)
    assert re.search(r"ddpm, vdm\s+lr 0.0002, EMA 0.999, grad clip 1, 36 samples", out)


# --- 5. more processes than cores -----------------------------------------------------------------------
@pytest.fixture()
def no_training(monkeypatch, tmp_path):
    """`genlab train` up to the run: the resolved config is kept, nothing is trained."""
    import genlab.training.run

    seen = {}

    def fake_train(cfg, **_):
        seen["cfg"] = cfg
        return types.SimpleNamespace(run_dir=tmp_path, metrics={})

    monkeypatch.setattr(genlab.training.run, "train", fake_train)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    return seen


def test_more_devices_than_cores_warns_and_suggests_the_core_count(no_training):
    res = runner.invoke(app, ["train", "vae", "--data", "digits", "--devices", "3", "--max-steps", "1"])
    assert res.exit_code == 0, res.output
    assert "warning: --devices 3 starts 3 processes on 2 cores: each process gets fewer than one core" in res.stderr
    assert "pass --devices 2" in res.stderr and no_training["cfg"].devices == 3
    res = runner.invoke(app, ["train", "vae", "--data", "digits", "--devices", "2", "--max-steps", "1"])
    assert res.exit_code == 0 and "warning" not in res.stderr


def test_train_flags_for_the_models_defaults_reach_the_config(no_training):
    def given():
        cfg = no_training["cfg"]
        return cfg.ema_decay, cfg.grad_clip, cfg.num_samples

    runner.invoke(app, ["train", "ddpm", "--data", "ring8", "--max-steps", "1"])
    assert given() == (0.999, 1.0, 36)  # ddpm's registry row
    runner.invoke(app, ["train", "ddpm", "--data", "ring8", "--max-steps", "1", "--ema-decay", "0",
                        "--grad-clip", "0.5", "--num-samples", "4"])
    assert given() == (0, 0.5, 4)


# --- 6. the README's anomaly example -------------------------------------------------------------------
def test_readme_anomaly_example_states_its_auroc_and_why():
    text = README.read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("genlab anomaly"))
    assert "AUROC" in line and re.search(r"AUROC (≈ )?0\.\d\d", text[text.index(line):])
    assert "ink" in text  # reconstruction error measures ink that is hard to reproduce, not unlikeness
