"""Nothing lost: Ctrl-C writes a checkpoint and resumes exactly; resume refuses what would change the run;
no folder is trained over without --overwrite; runs that would train nothing are errors, nothing written."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import lightning as L
import pytest
import torch
from safetensors.torch import load_file

from genlab.cli.app import train_config
from genlab.errors import ConfigError
from genlab.training import TrainConfig, train
from genlab.training.checkpoint import read_checkpoint

TINY = {"hidden": [8], "latent_dim": 2}


def _cfg(out, **kw):
    base = dict(model="vae", data="digits", epochs=50, batch_size=64, out=str(out), quiet=True, num_samples=0,
                model_options=dict(TINY))
    base.update(kw)
    return TrainConfig(**base)


CTRL_C = textwrap.dedent("""
    import os, signal
    from genlab.training import callbacks

    def press_ctrl_c(self, trainer, pl_module, *a):
        if pl_module.iteration == 5 and self.signal is None:
            os.kill(os.getpid(), signal.{signal})

    callbacks.StopOnInterrupt.on_train_batch_start = press_ctrl_c
    from genlab.cli.main import app
    app({args!r})
""")


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_or_sigterm_writes_a_checkpoint_says_how_to_resume_exits_128_plus_n_and_resumes_exactly(
        tmp_path, sig, code):
    n = 14
    ref = train(_cfg(tmp_path / "ref", max_steps=n))
    args = ["train", "vae", "--data", "digits", "--batch-size", "64", "--max-steps", str(n), "--quiet",
            "--out", str(tmp_path / "run"), "--set", "model.hidden=[8]", "--set", "model.latent_dim=2",
            "--set", "num_samples=0", "--set", "steps_per_call=1"]
    p = subprocess.run([sys.executable, "-c", CTRL_C.format(args=args, signal=sig)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == code, p.stderr[-2000:]
    assert f"interrupted: stopped by {sig}" in p.stderr and f"--resume {tmp_path / 'run'}" in p.stderr
    assert "Traceback" not in p.stderr
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 6  # after the call
    progress = json.loads((tmp_path / "run" / "model" / "progress.json").read_text())
    assert progress == {"iteration": 6, "finished": False}  # the model at the stop, for sample and eval
    from typer.testing import CliRunner

    from genlab.cli.main import app

    sampled = CliRunner().invoke(app, ["sample", str(tmp_path / "run"), "--n", "4", "--out", str(tmp_path / "s.png")])
    assert sampled.exit_code == 0 and (tmp_path / "s.png").is_file(), sampled.output
    assert "has not finished: its model is from iteration 6" in sampled.stderr
    resumed = train(train_config({}, resume=tmp_path / "run"), resume=True)
    assert resumed.steps == n
    a, b = (load_file(str(r.run_dir / "model" / "model.safetensors")) for r in (ref, resumed))
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_refuses_to_change_the_architecture_before_writing_anything(tmp_path):
    run = train(_cfg(tmp_path / "run", max_steps=2)).run_dir
    before = (run / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"cannot change model\.latent_dim"):
        train_config({}, sets=["model.latent_dim=4"], resume=run)
    with pytest.raises(ConfigError, match="cannot change batch_size, lr"):
        train_config({"lr": 0.1, "batch_size": 8}, resume=run)
    assert (run / "config.yaml").read_text() == before
    cfg = train_config({"max_steps": 4}, sets=["num_samples=2"], resume=run)  # how long it runs: allowed
    assert cfg.max_steps == 4 and cfg.num_samples == 2


def test_a_folder_with_other_files_is_not_trained_into_without_overwrite(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.md").write_text("my notes")
    with pytest.raises(ConfigError, match="holds other files.*--overwrite"):
        train(_cfg(out, max_steps=2))
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        train(_cfg(tmp_path / "file", max_steps=2))
    train(_cfg(out, max_steps=2, overwrite=True))
    assert (out / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize("options, message", [
    ({"max_steps": 0}, "trains nothing"),
    ({"max_time": "0s"}, "trains nothing"),
    ({"batch_size": 100_000}, "more than the .* training examples"),
])
def test_a_run_that_would_train_nothing_is_an_error_and_writes_nothing(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        train(_cfg(tmp_path / "run", **options))
    assert not (tmp_path / "run").exists()


KILL = textwrap.dedent("""
    import os, lightning as L
    from genlab.training import TrainConfig, train

    class KillAt(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, *a):
            if pl_module.iteration == 4:
                os._exit(9)  # like SIGKILL

    train(TrainConfig(**{cfg}), callbacks=[KillAt()])
""")


def test_a_kill_between_epochs_loses_at_most_the_wall_time_interval(tmp_path):
    cfg = _cfg(tmp_path / "run", max_steps=10, checkpoint_minutes=1e-6, steps_per_call=1)  # every call
    p = subprocess.run([sys.executable, "-c", KILL.format(cfg=repr(cfg.to_dict()))], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 4  # no epoch ended
    assert train(cfg, resume=True).steps == 10


def test_the_report_of_a_resumed_run_counts_every_segment_and_keeps_the_recipe(tmp_path):
    from genlab.runs import read_metrics

    cfg = _cfg(tmp_path / "run", max_steps=30, steps_per_call=1)
    first = train(cfg, command="genlab train vae --max-steps 30")
    again = train_config({"max_steps": 50}, resume=first.run_dir)
    resumed = train(again, resume=True, command="genlab train --resume RUN")
    report = (first.run_dir / "report.md").read_text()
    assert "trained 50 iterations" in report and "resumed 1 time(s): `genlab train --resume RUN`" in report
    assert "```\ngenlab train vae --max-steps 30\n```" in report  # the recipe, not the resume command
    rows = read_metrics(first.run_dir / "metrics.csv")
    per_epoch = len(__import__("genlab.data", fromlist=["load"]).load("digits", split="train")) // 64
    assert all(int(r["epoch"]) == int(r["step"]) // per_epoch for r in rows)  # the epoch of each row's iteration
    assert [r["step"] for r in rows if "val/loss" in r][-1] == 49  # the final weights were validated
    assert resumed.metrics["val/loss"] == pytest.approx([r for r in rows if "val/loss" in r][-1]["val/loss"])


class _DiskFullAt(L.Callback):
    """From iteration 3 on, every atomic write fails as on a full disk."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def on_train_batch_start(self, trainer, pl_module, *a):
        if pl_module.iteration == 3:
            import genlab.atomic

            def full(*a, **k):
                raise OSError(28, "No space left on device")

            self.monkeypatch.setattr(genlab.atomic.os, "fsync", full)


def test_a_checkpoint_write_on_a_full_disk_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path / "run", max_steps=8, checkpoint_every=2, steps_per_call=1)
    with pytest.raises(OSError, match="No space left"):
        train(cfg, callbacks=[_DiskFullAt(monkeypatch)])
    ck = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert ck["global_step"] == 2  # the write at 4 failed: the one at 2 is intact
    assert not [p for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert train(cfg, resume=True).steps == 8  # and the run resumes from it


def test_the_cli_reports_a_full_disk_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import genlab.atomic
    from genlab.cli.main import app

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(genlab.atomic.os, "fsync", full)
    out = CliRunner().invoke(app, ["sample", str(Path(__file__).parent / "fixtures" / "runs" / "vae-v0"),
                                   "--out", str(tmp_path / "s.png")])
    assert out.exit_code == 2 and "No space left on device" in out.stderr and len(out.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
