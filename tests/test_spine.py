"""The spine's contract: iterations of several optimizer steps count, log, checkpoint and resume exactly;
the registry chooses the system; train() and the CLI resolve one config; checkpoints never unpickle code;
nested config sections; fitted state saved without pickle; Lightning internals where the spine expects them."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import spine_toys
import torch
from safetensors.torch import load_file

from genlab.errors import ConfigError, LoadError
from genlab.registry import MODELS
from genlab.runs import read_metrics
from genlab.training import TrainConfig, train
from genlab.training.checkpoint import read_checkpoint

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def two_nets():
    spine_toys.register()
    yield spine_toys.ENTRY
    MODELS.pop(spine_toys.ENTRY.name, None)


def _cfg(out, **kw):
    base = dict(model="two-nets", epochs=50, out=str(out), quiet=True, num_samples=0)
    base.update(kw)
    return TrainConfig(**base)


def _weights(run_dir: Path) -> dict:
    return load_file(str(run_dir / "model" / "model.safetensors"))


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_an_iteration_of_three_optimizer_steps_counts_logs_and_checkpoints_as_one(two_nets, tmp_path):
    r = train(_cfg(tmp_path / "run", max_steps=10, checkpoint_every=5))
    assert r.steps == 10  # iterations: max_steps counts them, not optimizer steps
    ck = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert ck["global_step"] == 30  # 3 optimizer steps per iteration: 2 of the first network, 1 of the second
    assert ck["genlab"]["optimizer_steps_per_iteration"] == 3 and ck["genlab"]["batches_per_iteration"] == 2
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    steps = [r["step"] for r in rows]
    assert max(steps) == 9 and {"train/first", "train/second", "val/loss"} <= set().union(*rows)
    assert [r["step"] for r in rows if "val/loss" in r] == [9]  # the validation row counts iterations too
    assert r.model.config.vocabulary == ("a", "b") and r.model.config.first.hidden == 8  # config_for_data


def test_the_registry_chooses_each_models_system(two_nets):
    from genlab.training.systems import ObjectiveSystem

    assert two_nets.load_system() is spine_toys.TwoOptimizerSystem
    assert MODELS["vae"].load_system() is ObjectiveSystem and MODELS["ddpm"].load_system() is ObjectiveSystem


KILL_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    import lightning as L
    import spine_toys
    from genlab.training import TrainConfig, train

    class KillAt(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, *a):
            if pl_module.iteration == {kill}:
                os._exit(9)  # like SIGKILL: no cleanup, no final checkpoint

    spine_toys.register()
    train(TrainConfig(**{cfg}), callbacks=[KillAt()])
""")


@pytest.mark.parametrize("steps_per_call", [1, 8])
def test_a_two_optimizer_run_killed_mid_epoch_resumes_to_identical_weights(two_nets, tmp_path, steps_per_call):
    n, kill = 16, 6  # digits: 1,437 rows / batch 64 / 2 batches per iteration = 11 iterations per epoch
    ref = train(_cfg(tmp_path / "ref", max_steps=n, steps_per_call=1))
    cfg = _cfg(tmp_path / "killed", max_steps=n, checkpoint_every=3, steps_per_call=steps_per_call)
    script = KILL_SCRIPT.format(tests=str(TESTS), kill=kill, cfg=repr(cfg.to_dict()))
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    assert read_checkpoint(tmp_path / "killed" / "checkpoints" / "last.ckpt")["global_step"] == 3 * kill
    resumed = train(cfg, resume=True)
    assert resumed.steps == n
    _assert_same_weights(_weights(ref.run_dir), _weights(resumed.run_dir))
    steps = [r["step"] for r in read_metrics(tmp_path / "killed" / "metrics.csv") if "train/loss" in r]
    assert steps == sorted(set(steps))  # rows before the checkpoint kept, the rest appended, none twice


def test_train_and_the_cli_resolve_the_same_config(tmp_path):
    from genlab.cli.app import train_config
    from genlab.training.config import complete

    python = complete(TrainConfig(model="ddpm"))
    cli = train_config({"model": "ddpm"})
    assert python == cli
    assert (python.ema_decay, python.grad_clip, python.lr, python.num_samples, python.data) == (
        0.999, 1.0, 2e-4, 36, "mnist")
    # the user's layers win over the model's defaults the same way in both
    (tmp_path / "run.yaml").write_text("model: ddpm\nlr: 0.001\nmodel_options:\n  channels: 16\n")
    cli = train_config({"batch_size": 32}, config=tmp_path / "run.yaml", sets=["ema_decay=0", "model.num_classes=0"])
    python = complete(TrainConfig(model="ddpm", lr=1e-3, batch_size=32, ema_decay=0.0,
                                  model_options={"channels": 16, "num_classes": 0}))
    assert cli == python and cli.ema_decay == 0.0 and cli.grad_clip == 1.0
    vae = complete(TrainConfig(model="vae"))
    assert (vae.lr, vae.batch_size, vae.ema_decay, vae.grad_clip) == (1e-3, 128, 0.0, 0.0)


def test_nested_config_sections_from_set_and_yaml_round_trip_through_config_json(tmp_path):
    from genlab.training.config import parse_set, resolve

    sets = parse_set(["model.first.hidden=5", "model.second.noise=0.5"])
    assert sets == {"model_options": {"first": {"hidden": 5}, "second": {"noise": 0.5}}}
    cfg = resolve({"model": "vae", "model_options": {"first": {"noise": 0.2}}}, sets)
    model_cfg = spine_toys.TwoNetsConfig.from_dict(cfg.model_options)
    assert (model_cfg.first.hidden, model_cfg.first.noise, model_cfg.second.noise) == (5, 0.2, 0.5)
    assert model_cfg.second.hidden == 4  # a section's unset fields keep the section's default
    assert spine_toys.TwoNetsConfig.from_dict(json.loads(json.dumps(model_cfg.to_dict()))) == model_cfg
    assert model_cfg.replace(first={"noise": 0.3}).first == spine_toys.NetConfig(hidden=5, noise=0.3)
    with pytest.raises(ConfigError, match=r"NetConfig has no option\(s\) \['width'\]"):
        spine_toys.TwoNetsConfig.from_dict({"first": {"width": 3}})
    with pytest.raises(ConfigError, match="is a section of options"):
        spine_toys.TwoNetsConfig.from_dict({"first": 3})


def test_fitted_statistics_and_a_vocabulary_are_saved_with_the_model_without_pickle(tmp_path, monkeypatch):
    import genlab.hub
    from genlab.data import TensorData

    monkeypatch.setattr(genlab.hub, "_resolve_class", lambda path: spine_toys.TwoNets)  # a test class, outside genlab
    data = TensorData(x=torch.rand(32, 1, 4, 4), name="t", split="train")
    model = spine_toys.TwoNets(spine_toys.TwoNets.config_for_data(data, {"second": {"hidden": 3}}))
    model.before_fit(data)
    model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = genlab.load(tmp_path / "m")
    assert loaded.config.vocabulary == ("a", "b") and loaded.config.second.hidden == 3
    assert torch.equal(loaded.mean, data.x.flatten(1).mean(0))


class _Payload:
    """Stands for code someone hid in a checkpoint: unpickling it would construct this class."""


def test_resume_refuses_a_checkpoint_that_would_unpickle_objects_and_writes_nothing(tmp_path):
    from genlab.training.checkpoint import atomic_torch_save

    run = tmp_path / "run"
    train(TrainConfig(model="vae", data="digits", max_steps=2, out=str(run), quiet=True, num_samples=0,
                      model_options={"hidden": [8], "latent_dim": 2}))
    ck = read_checkpoint(run / "checkpoints" / "last.ckpt")
    ck["callbacks"]["evil"] = _Payload()
    atomic_torch_save(ck, run / "checkpoints" / "last.ckpt")
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    with pytest.raises(LoadError, match="refusing to unpickle"):
        train(TrainConfig(model="vae", data="digits", max_steps=4, out=str(run), quiet=True), resume=True)
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before


def test_a_truncated_checkpoint_is_a_one_line_load_error(tmp_path):
    path = tmp_path / "last.ckpt"
    path.write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.raises(LoadError, match="truncated or not a checkpoint"):
        read_checkpoint(path)


def test_lightning_internals_the_spine_uses_are_in_place():
    from genlab.training import lightning_internals

    problems = lightning_internals.check()
    assert problems == [], "a Lightning upgrade moved what training/lightning_internals.py uses: " + "; ".join(problems)
    old = read_checkpoint(TESTS / "fixtures" / "runs" / "vae-v0" / "checkpoints" / "last.ckpt")
    progress, loaders = lightning_internals.fit_loop_progress(old)
    assert progress is not None and "batch" in loaders[0], "the fit loop's saved progress moved"
    assert set(lightning_internals.PROGRESS_COUNTERS) <= set(progress["current"])


def test_every_metric_row_counts_iterations_whatever_steps_per_call(tmp_path):
    r = train(TrainConfig(model="vae", data="digits", epochs=2, batch_size=64, out=str(tmp_path / "run"), quiet=True,
                          num_samples=0, steps_per_call=8, model_options={"hidden": [8], "latent_dim": 2}))
    rows = read_metrics(r.run_dir / "metrics.csv")
    per_epoch = r.steps // 2
    assert [row["step"] for row in rows if "val/loss" in row] == [per_epoch - 1, 2 * per_epoch - 1]
    assert max(row["step"] for row in rows if "train/loss" in row) <= r.steps - 1


def test_a_model_without_samples_is_refused_by_sample_with_one_line(tmp_path):
    from typer.testing import CliRunner

    from genlab.cli.main import app
    from genlab.models.cnn import LeNet

    LeNet(image_size=8, in_channels=1, padding=(2, 2), channels=(4, 4), hidden=8).save_pretrained(tmp_path / "m")
    out = CliRunner().invoke(app, ["sample", str(tmp_path / "m")])
    assert out.exit_code == 2 and "draws no samples" in out.output and "Traceback" not in out.output
