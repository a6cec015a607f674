"""Issue 29, points 2, 3 and 5: every option in `genlab train MODEL --help`, `--print-config`, the curve panels a model
declares, `genlab list` with metrics and `genlab compare`."""

from __future__ import annotations

import csv
import dataclasses
import json

import yaml
from typer.testing import CliRunner

from genlab import config_docs
from genlab.cli.main import app
from genlab.panels import ADVERSARIAL, DIFFUSION, LATENT_VARIABLE, LOSS, Panel, draw, guess, present
from genlab.rundir import RunDir
from genlab.runs import read_run, write_summary

runner = CliRunner()


@dataclasses.dataclass
class _Inner:
    width: int = 3  # the inner width


@dataclasses.dataclass
class _Documented:
    #: written above the field,
    #: over two lines
    alpha: float = 0.5
    beta: tuple[int, ...] = (1, 2)  # after the field
    #   and continued below it
    gamma: str = "x"
    inner: _Inner = dataclasses.field(default_factory=_Inner)  # a nested section


def test_field_docs_read_trailing_continued_and_above_comments():
    docs = config_docs.field_docs(_Documented)
    assert docs["alpha"] == "written above the field, over two lines"
    assert docs["beta"] == "after the field and continued below it"
    assert "gamma" not in docs
    rows = {o.name: o for o in config_docs.options(_Documented)}
    assert rows["inner.width"].default == 3 and rows["inner.width"].doc == "the inner width"
    assert rows["inner"].default == "(section)" and rows["beta"].type == "tuple[int, ...]"
    assert config_docs.show_default((1, 2)) == "[1, 2]" and config_docs.show_default(None) == "null"


def test_train_help_with_a_model_lists_its_options_nested_sections_and_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "wgan-gp", "--help"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "--print-config" in out and "--logger" in out  # the command's own help comes first
    line = next(x for x in out.splitlines() if x.strip().startswith("model.n_critic"))
    assert line.split()[1:3] == ["int", "5"] and "discriminator steps per generator step" in line  # WGANGP's own 5
    assert any(x.strip().startswith("model.discriminator.norm") for x in out.splitlines())
    assert "data.n_val" in out and "lr_schedule" in out  # the dataset's options, the run options with no flag
    assert list(tmp_path.iterdir()) == []  # creates nothing
    plain = runner.invoke(app, ["train", "--help"])
    assert plain.exit_code == 0 and "model.n_critic" not in plain.output
    unknown = runner.invoke(app, ["train", "wgan-gq", "--help"])
    assert unknown.exit_code == 2 and "wgan-gp" in unknown.output  # the registry's error names the closest


def test_print_config_is_what_train_resolves_and_creates_nothing(tmp_path, monkeypatch):
    from genlab.cli.app import train_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("model: cgan\nepochs: 3\nlr: 0.01\n")
    args = ["--config", "c.yaml", "--lr", "0.003", "--set", "model.latent_dim=16", "--set", "lr_schedule=cosine",
            "--out", "never"]
    result = runner.invoke(app, ["train", *args, "--print-config"])
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.output)
    expected = train_config({"lr": 0.003, "out": "never"}, config=tmp_path / "c.yaml",
                            sets=["model.latent_dim=16", "lr_schedule=cosine"])
    assert printed == yaml.safe_load(yaml.safe_dump(expected.to_dict()))
    assert printed["lr"] == 0.003 and printed["epochs"] == 3 and printed["batch_size"] == 64  # flag, YAML, registry
    assert printed["model_options"] == {"latent_dim": 16}
    assert "#   latent_dim: 16" in result.output and "#   n_critic: 1" in result.output  # the model's whole config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def _rows(**columns):
    """metrics.csv rows: ``columns`` maps a column to [(step, value), ...]."""
    rows: dict[int, dict] = {}
    for key, points in columns.items():
        for step, v in points:
            rows.setdefault(step, {"step": step})[key] = v
    return [rows[s] for s in sorted(rows)]


def _fake_run(path, model, rows, *, summary=None, evaluation=None):
    run = RunDir(path)
    path.mkdir(parents=True)
    run.write_config({"model": model, "data": "ring8"})
    keys = sorted({k for r in rows for k in r})
    with run.metrics_csv.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    if summary is not None:
        write_summary(run, model_name=model, data="ring8", **summary)
    if evaluation is not None:
        run.write_eval(evaluation)
    return run


GAN_ROWS = _rows(**{"train/d_loss": [(10, 1.3), (20, 1.2)], "train/g_loss": [(10, 0.7), (20, 0.8)],
                    "train/loss": [(10, 0.35), (20, 0.4)], "val/d_loss": [(20, 1.1)], "val/d_real": [(20, 0.6)]})
VAE_ROWS = _rows(**{"train/loss": [(10, 120.0), (20, 100.0)], "train/elbo": [(10, -120.0), (20, -100.0)],
                    "val/loss": [(20, 101.5)], "val/elbo": [(20, -101.5)], "val/kl": [(20, 20.0)]})


def test_panels_keep_what_the_run_logged_and_guess_the_family():
    kept = present(ADVERSARIAL, GAN_ROWS)
    assert kept == [Panel("losses of D and G", ("d_loss", "g_loss")),
                    Panel("D(x) and D(G(z)) (a critic's raw scores)", ("d_real",))]
    assert guess(GAN_ROWS) == ADVERSARIAL and guess(VAE_ROWS) == LATENT_VARIABLE
    assert guess(_rows(**{"train/loss": [(1, 1.0)]})) == LOSS
    assert present(DIFFUSION, _rows(**{"train/other": [(1, 1.0)]})) == []


def test_each_family_declares_its_panels():
    from genlab.models.base import Model, panels_of
    from genlab.registry import get_model

    def bare(name):
        cls = get_model(name).load_class()
        return cls.__new__(cls)

    assert panels_of(bare("vae")) == LATENT_VARIABLE
    assert panels_of(bare("wgan-gp")) == ADVERSARIAL and panels_of(bare("pix2pix")) == ADVERSARIAL
    assert panels_of(bare("ddpm")) == DIFFUSION

    class Own(Model):
        panels = (Panel("mine", ("mine",)),)

    class Child(Own):
        pass

    assert panels_of(Child.__new__(Child)) == (Panel("mine", ("mine",)),)


def test_draw_one_run_or_several_and_nothing_to_draw(tmp_path):
    assert draw([(None, GAN_ROWS)], ADVERSARIAL, tmp_path / "one.png").stat().st_size > 1000
    assert draw([("a", GAN_ROWS), ("b", VAE_ROWS)], ADVERSARIAL + LATENT_VARIABLE, tmp_path / "two.svg").is_file()
    assert draw([(None, _rows(**{"train/other": [(1, 1.0)]}))], ADVERSARIAL, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_headline_is_the_declared_score(tmp_path):
    summary = {"iterations": 20, "seconds": 75.0, "metrics": {"val/loss": 101.5, "val/elbo": -101.5},
               "monitor": "val/loss", "default_metric": ["elbo"], "panels": LATENT_VARIABLE}
    run = _fake_run(tmp_path / "vae", "vae", VAE_ROWS, summary=summary)
    info = read_run(run.path)
    assert info.headline == ("val/loss", 101.5) and info.finished and info.seconds == 75.0
    assert info.panels == LATENT_VARIABLE
    run.write_eval({"elbo": -99.0, "coverage": 0.5})
    assert read_run(run.path).headline == ("test/elbo", -99.0)
    assert read_run(run.path).metrics["test/coverage"] == 0.5
    bare = read_run(_fake_run(tmp_path / "gan", "gan", GAN_ROWS).path)  # no summary.json: metrics.csv
    assert bare.headline is None and bare.iterations == 20 and bare.metrics == {"val/d_loss": 1.1, "val/d_real": 0.6}
    assert bare.panels == ADVERSARIAL and not bare.finished


def test_list_and_compare(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = {"iterations": 20, "seconds": 75.0, "metrics": {"val/loss": 101.5}, "monitor": "val/loss",
               "default_metric": ["elbo"], "panels": LATENT_VARIABLE}
    _fake_run(tmp_path / "runs" / "vae-a", "vae", VAE_ROWS, summary=summary)
    _fake_run(tmp_path / "runs" / "gan-b", "gan", GAN_ROWS)
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0, listed.output
    row = next(x for x in listed.output.splitlines() if x.strip().startswith("vae-a"))
    assert row.split()[1:6] == ["vae", "ring8", "20", "1m15s", "val/loss"] and "101.5" in row
    assert any(x.strip().startswith("gan-b") for x in listed.output.splitlines())

    result = runner.invoke(app, ["compare", "runs/vae-a", "runs/gan-b", "--out", "c.png"])
    assert result.exit_code == 0, result.output
    table = {x.split()[0]: x.split()[1:] for x in result.output.splitlines() if x.strip()}
    assert table["val/loss"] == ["101.5", "-"] and table["val/d_loss"] == ["-", "1.1"]
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert runner.invoke(app, ["compare", "runs"]).exit_code == 0  # a folder of runs counts as its runs
    one = runner.invoke(app, ["compare", "runs/vae-a"])
    assert one.exit_code == 2 and "two or more" in one.output
    missing = runner.invoke(app, ["compare", "runs/vae-a", "nowhere"])
    assert missing.exit_code == 2 and "nowhere" in missing.output
    bad = runner.invoke(app, ["compare", "runs/vae-a", "runs/gan-b", "--out", "c.bmp"])
    assert bad.exit_code == 2 and ".png" in bad.output


def test_summary_json_is_plain_json(tmp_path):
    run = _fake_run(tmp_path / "r", "vae", VAE_ROWS, summary={
        "iterations": 5, "seconds": 1.0, "metrics": {"val/loss": 1.0}, "monitor": None, "default_metric": [],
        "panels": LOSS})
    data = json.loads((run.path / "summary.json").read_text())
    assert data["panels"] == [["loss", ["loss"]]] and data["iterations"] == 5
    assert read_run(run.path).panels == LOSS
