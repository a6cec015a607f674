"""A run is never lost on the default path (issue: last.ckpt at every validation, SIGTERM, resume that refuses what
it would ignore, interrupted runs that can be sampled, nothing lost quietly)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import lightning as L
import pytest
import torch
from test_validation_interval import _cfg  # (100 digits, batch 10: 10 iterations an epoch)

from genlab.errors import ConfigError
from genlab.training import train
from genlab.training.checkpoint import read_checkpoint


class _CheckpointAtEpochStart(L.Callback):
    """The iteration of ``last.ckpt`` as each epoch starts (None: no checkpoint yet)."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer, pl_module):
        self.seen.append(read_checkpoint(self.path)["global_step"] if self.path.is_file() else None)


@pytest.mark.parametrize("val_every, expected", [(1, [None, 10, 20, 30]), (2, [None, None, 20, 20])])
def test_the_default_path_writes_last_ckpt_at_every_validation(tmp_path, val_every, expected):
    # 100 digits, batch 10: 10 iterations an epoch; no checkpoint_every, no timed checkpoint within the run
    run = tmp_path / "run"
    seen = _CheckpointAtEpochStart(run / "checkpoints" / "last.ckpt")
    train(_cfg(run, epochs=4, val_every_epochs=val_every), callbacks=[seen])
    assert seen.seen == expected


# --- genlab list with many runs ------------------------------------------------------------------------------------
def test_list_shows_every_run_when_there_are_several(tmp_path):
    from typer.testing import CliRunner

    from genlab.cli.main import app

    for name, model in [("b-run", "gan"), ("a-run", "vae"), ("c-run", "ddpm")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text(f"model: {model}\ndata: digits\n")
    res = CliRunner().invoke(app, ["list", "--runs", str(tmp_path)])
    assert res.exit_code == 0, res.output
    header, *rows = [line.split() for line in res.output.split("Runs (")[1].splitlines()[1:] if line.strip()]
    assert header[:3] == ["run", "model", "data"]
    assert [(r[0], r[1]) for r in rows] == [("a-run", "vae"), ("b-run", "gan"), ("c-run", "ddpm")]


# --- resume refuses what it would ignore ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run trained to its end (3 epochs of 10 iterations)."""
    return train(_cfg(tmp_path_factory.mktemp("finished") / "run", epochs=3)).run_dir


def _copy(run, tmp_path):
    import shutil

    return Path(shutil.copytree(run, tmp_path / "copy"))


def _resume(run, **kw):
    from genlab.cli.app import train_config

    return train_config(kw.pop("flags", {}), resume=run, **kw)


def test_resume_into_another_out_is_refused(finished_run, tmp_path):
    with pytest.raises(ConfigError, match=r"continues training in .*not in --out .*drop --out"):
        _resume(finished_run, flags={"out": str(tmp_path / "other"), "epochs": 6})
    assert _resume(finished_run, flags={"out": str(finished_run), "epochs": 6}).epochs == 6  # its own folder: fine
    assert not (tmp_path / "other").exists()


def test_resume_reads_the_config_file_it_is_given(finished_run, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [6,\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        _resume(finished_run, config=bad)
    longer = tmp_path / "longer.yaml"
    longer.write_text("model: vae\nepochs: 6\nlr: 0.001\n")  # restating the run's own values is no change
    assert _resume(finished_run, config=longer).epochs == 6
    other = tmp_path / "other.yaml"
    other.write_text("epochs: 6\nlr: 0.5\n")
    with pytest.raises(ConfigError, match="cannot change lr"):
        _resume(finished_run, config=other)


def test_a_hand_edited_config_yaml_is_detected_before_resuming(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    text = (run / "config.yaml").read_text()
    assert "lr: 0.001\n" in text
    (run / "config.yaml").write_text(text.replace("lr: 0.001\n", "lr: 0.01\n"))
    with pytest.raises(ConfigError, match=r"config.yaml was edited since its checkpoint was written \(lr: 0.001 → "
                                          r"0.01\)"):
        _resume(run, flags={"epochs": 6})
    (run / "config.yaml").write_text(text.replace("epochs: 3\n", "epochs: 5\n"))  # how long it runs: applied
    assert _resume(run).epochs == 5


def test_resuming_a_finished_run_says_there_is_nothing_to_do_and_writes_nothing(finished_run):
    before = {p: p.read_bytes() for p in finished_run.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=r"has finished \(epoch 3 of epochs 3\): nothing to resume"):
        _resume(finished_run)
    with pytest.raises(ConfigError, match=r"has finished \(epoch 3 of epochs 2\)"):
        _resume(finished_run, flags={"epochs": 2})
    assert {p: p.read_bytes() for p in finished_run.rglob("*") if p.is_file()} == before
    assert _resume(finished_run, flags={"epochs": 4}).epochs == 4  # a longer run is something to do


def test_a_run_stopped_by_max_steps_or_max_time_is_finished_too(tmp_path):
    from genlab.training.run import limit_reached

    run = train(_cfg(tmp_path / "run", epochs=-1, max_steps=12)).run_dir
    ckpt = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert limit_reached(_resume_cfg(run), ckpt) == "iteration 12 of max_steps 12"
    assert limit_reached(_resume_cfg(run, max_steps=20), ckpt) is None
    ckpt["callbacks"]["Timer"] = {"time_elapsed": {"train": 61.0}}
    assert limit_reached(_resume_cfg(run, max_steps=-1, max_time="1m"), ckpt) == "61 s trained of max_time 1m"
    assert limit_reached(_resume_cfg(run, max_steps=-1, max_time="2m"), ckpt) is None


def _resume_cfg(run, **kw):
    import dataclasses

    from genlab.training.config import read_yaml, resolve

    return dataclasses.replace(resolve(read_yaml(run / "config.yaml")), **kw)


# --- a stopped run can be sampled and evaluated --------------------------------------------------------------------
def test_a_run_killed_before_its_first_validation_says_how_to_continue(tmp_path):
    from genlab.errors import LoadError
    from genlab.rundir import RunDir

    run = train(_cfg(tmp_path / "run", epochs=1)).run_dir
    import shutil

    shutil.rmtree(run / "model")  # as a kill before the first validation leaves it: config and last.ckpt only
    with pytest.raises(LoadError, match=r"has no model yet: it stopped before its first validation.*"
                                        r"genlab train --resume"):
        RunDir(run).load_model()


def test_every_validation_writes_the_model_with_its_iteration(tmp_path):
    import json

    run = tmp_path / "run"

    class _ModelAtEpochStart(L.Callback):
        def __init__(self):
            self.seen = []

        def on_train_epoch_start(self, trainer, pl_module):
            p = run / "model" / "progress.json"
            self.seen.append(json.loads(p.read_text()) if p.is_file() else None)

    seen = _ModelAtEpochStart()
    r = train(_cfg(run, epochs=3, ema_decay=0.9, val_every_epochs=1), callbacks=[seen])
    assert seen.seen == [None, {"iteration": 10, "finished": False}, {"iteration": 20, "finished": False}]
    assert json.loads((run / "model" / "progress.json").read_text()) == {"iteration": 30, "finished": True}
    from genlab.hub import load

    saved = load(run / "model").state_dict()
    assert all(torch.equal(saved[k], v) for k, v in r.model.state_dict().items())  # the EMA weights, as at the end


# --- nothing lost quietly ------------------------------------------------------------------------------------------
def test_two_samples_in_the_same_second_get_two_files(tmp_path):
    from typer.testing import CliRunner

    from genlab.cli.main import app

    old_vae = Path(__file__).resolve().parent / "fixtures" / "runs" / "vae-v0"
    for _ in range(3):
        res = CliRunner().invoke(app, ["sample", str(old_vae), "--n", "4", "--out", str(tmp_path)])
        assert res.exit_code == 0, res.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3, names  # (a clock tick between calls also gives distinct names; never fewer)


def test_new_sample_names_never_repeat_within_a_second(tmp_path, monkeypatch):
    import datetime as dt

    import genlab.rundir
    from genlab.rundir import RunDir

    class _Frozen(dt.datetime):  # every call in the same second, as two quick `genlab sample` calls are
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 12, 6, 3, 0, 0)

    monkeypatch.setattr(genlab.rundir.dt, "datetime", _Frozen)
    run = RunDir(tmp_path)
    first = run.new_samples(tmp_path)
    first.write_text("x")
    second = run.new_samples(tmp_path)
    assert second != first and second.name.startswith(first.stem)
    second.with_suffix(".txt").write_text("x")  # another suffix still takes the name
    third = run.new_samples(tmp_path)
    assert third.stem not in {first.stem, second.stem}


KILL_AFTER_VALIDATION = textwrap.dedent("""
    import os, lightning as L
    from genlab.training import TrainConfig, train

    class KillAt(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, *a):
            if pl_module.iteration == 25:
                os._exit(9)  # like SIGKILL, after the validation (and checkpoint) at iteration 20

    train(TrainConfig(**{cfg}), callbacks=[KillAt()])
""")


def test_metrics_logged_before_the_checkpoint_survive_a_kill_and_resume(tmp_path):
    from genlab.runs import read_metrics

    ref = train(_cfg(tmp_path / "ref", epochs=4, steps_per_call=1, val_every_epochs=1)).run_dir
    cfg = _cfg(tmp_path / "run", epochs=4, steps_per_call=1, checkpoint_minutes=None, val_every_epochs=1)
    p = subprocess.run([sys.executable, "-c", KILL_AFTER_VALIDATION.format(cfg=repr(cfg.to_dict()))],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 20
    train(cfg, resume=True)

    def rows(run):
        return [(int(r["step"]), sorted(k for k in r if k.startswith(("train/", "val/")))) for r in
                read_metrics(run / "metrics.csv")]

    assert rows(tmp_path / "run") == rows(ref)


def test_a_row_cut_short_by_a_kill_is_dropped_on_resume_not_misread(tmp_path):
    from genlab.training.logger import _ResumableWriter

    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train/loss\n0,9,1.5\n0,19,1.2\n1,2")  # the last row was cut mid-write
    writer = _ResumableWriter(str(tmp_path), keep_until_step=30)
    assert path.read_text().splitlines() == ["epoch,step,train/loss", "0,9,1.5", "0,19,1.2"]
    assert writer.metrics_keys == ["epoch", "step", "train/loss"]


# --- one line, not a traceback; one line that says what is wrong --------------------------------------------------
def _one_line_error(args, cwd):
    import os

    from typer.testing import CliRunner

    from genlab.cli.main import app

    old = os.getcwd()
    os.chdir(cwd)
    try:
        res = CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", r"is not UTF-8 text \(byte 0\)"),
    (b"model: vae\nepochs: 3\xff\n", r"is not UTF-8 text \(byte 20\)"),
    (b"modle: vae\n", r"unknown option 'modle' \(did you mean 'model'\?\)"),
    (b"model: vae\nepoch: 3\n", r"unknown option 'epoch' \(did you mean 'epochs'\?\)"),
    (b"", r"name a model: genlab train MODEL or a line `model: NAME` in run.yaml \(it is empty\)"),
    (b"model: vae\nseed: -1\n", "seed must be a whole number"),
])
def test_a_config_file_that_cannot_be_used_is_named_with_what_is_wrong(tmp_path, content, message):
    import re

    (tmp_path / "run.yaml").write_bytes(content)
    line = _one_line_error(["train", "--config", "run.yaml", "--max-steps", "1"], tmp_path)
    assert re.search(message, line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]  # no run folder


def test_eval_of_a_run_with_a_damaged_config_yaml_says_which_file(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    (run / "config.yaml").write_bytes(b"model: [vae\n")
    line = _one_line_error(["eval", run, "--limit", "4"], tmp_path)
    assert f"{run / 'config.yaml'} is not valid YAML: the run folder is damaged" in line


def test_random_bytes_in_last_ckpt_are_called_corrupt_not_code(finished_run, tmp_path):
    import random

    run = _copy(finished_run, tmp_path)
    # seeded: about 1 in 150 random files reads as "truncated or not a checkpoint" (a text decoding error) instead
    (run / "checkpoints" / "last.ckpt").write_bytes(random.Random(0).randbytes(4096))
    line = _one_line_error(["train", "--resume", run, "--epochs", "6"], tmp_path)
    assert "is corrupt or not a checkpoint" in line and "could run code" not in line


def test_a_checkpoint_that_names_code_is_refused_naming_the_class(tmp_path):
    from genlab.errors import LoadError

    torch.save({"state_dict": {}, "hook": _CheckpointAtEpochStart}, tmp_path / "last.ckpt")
    with pytest.raises(LoadError, match=r"holds objects other than tensors .*\((tests\.)?test_reliability\."
                                        r"_CheckpointAtEpochStart\).*could run code"):
        read_checkpoint(tmp_path / "last.ckpt")


FAIL_DURING_TRAINING = textwrap.dedent("""
    from genlab.errors import ConfigError
    from genlab.training import callbacks

    def fail(self, trainer, pl_module, *a):
        if pl_module.iteration == 16:
            raise ConfigError("something went wrong")

    callbacks.StopOnInterrupt.on_train_batch_start = fail
    from genlab.cli.main import app
    app({args!r})
""")


def test_an_error_during_training_starts_a_line_of_its_own_after_the_progress_bar(tmp_path):
    args = ["train", "vae", "--data", "digits", "--batch-size", "64", "--max-steps", "40", "--out",
            str(tmp_path / "run"), "--set", "model.hidden=[8]", "--set", "model.latent_dim=2",
            "--set", "num_samples=0", "--set", "steps_per_call=1"]  # with the progress bar
    p = subprocess.run([sys.executable, "-c", FAIL_DURING_TRAINING.format(args=args)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)  # one stream, as a terminal shows both
    out = p.stdout.decode()
    assert p.returncode == 2, out[-2000:]
    assert "\nerror: something went wrong" in out.replace("\r", "\n"), out[-2000:]
    assert "it/s]error:" not in out and "]error:" not in out, out[-500:]


def test_the_readme_says_which_models_keep_a_best_checkpoint_and_by_which_metric():
    from genlab.registry import MODELS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("`checkpoints/last.ckpt` (to resume)")
    text = " ".join(readme[start:start + 800].split())
    for entry in MODELS.values():
        monitor = entry.load_class().monitor
        if monitor is None:
            assert f"`{entry.name}`" in text.split("keep `last.ckpt` only")[0].split("the GANs")[1], entry.name
        else:
            assert f"`{monitor}`" in text, (entry.name, monitor)


def test_devices_help_says_more_processes_than_cores_are_allowed():
    from typer.testing import CliRunner

    from genlab.cli.main import app

    help_text = " ".join(CliRunner().invoke(app, ["train", "--help"], terminal_width=200).output.split())
    assert "at most the machine's cores" not in help_text
    assert "more than the machine's cores is allowed but slower" in help_text.replace("│ ", "")


def test_a_run_killed_after_its_last_step_but_before_its_final_save_can_still_be_finished(finished_run, tmp_path):
    import json

    run = _copy(finished_run, tmp_path)
    (run / "model" / "progress.json").write_text(json.dumps({"iteration": 20, "finished": False}))
    (run / "report.md").unlink()
    cfg = _resume(run)  # not refused: the last step was taken, the final export and report were not
    result = train(cfg, resume=True)
    assert result.steps == 30 and (run / "report.md").is_file()
    assert json.loads((run / "model" / "progress.json").read_text()) == {"iteration": 30, "finished": True}
    with pytest.raises(ConfigError, match="nothing to resume"):
        _resume(run)


def test_sigterm_to_every_process_of_a_ddp_run_writes_a_checkpoint_exits_143_and_resumes(tmp_path):
    # as SLURM or Kubernetes stop a job: SIGTERM to every process of the group (Lightning's launch: ddp, 2 processes)
    import json
    import os
    import signal
    import time

    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "NODE_RANK")}
    args = [sys.executable, "-m", "genlab.cli.main", "train", "vae", "--data", "digits", "--batch-size", "16",
            "--epochs", "40", "--set", "model.hidden=[8]", "--set", "model.latent_dim=2", "--set", "num_samples=0",
            "--quiet", "--devices", "2", "--strategy", "ddp", "--out", str(run)]
    p = subprocess.Popen(args, env={**env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while not (run / "model" / "progress.json").is_file() and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)  # the first validation (and its checkpoint) is done
    os.killpg(p.pid, signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err.decode()[-2000:]
    assert "stopped by SIGTERM" in err.decode()
    at = json.loads((run / "model" / "progress.json").read_text())
    assert at["finished"] is False
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] == at["iteration"]
    resumed = subprocess.run([sys.executable, "-m", "genlab.cli.main", "train", "--resume", str(run), "--quiet",
                              "--epochs", str(1 + at["iteration"] // 42)], env=env, capture_output=True,
                             timeout=300)  # 42 iterations an epoch: one epoch more
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert json.loads((run / "model" / "progress.json").read_text())["finished"] is True


def test_any_random_bytes_are_a_load_error_never_another_exception(tmp_path):
    """Random bytes fail torch's unpickler in many ways (IndexError 'pop from empty list', KeyError, ...): every one
    is a ``LoadError`` saying the file is corrupt or truncated, whatever the bytes."""
    from genlab.errors import LoadError

    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        n = int(torch.randint(1, 4096, (), generator=g))
        data = torch.randint(0, 256, (n,), generator=g, dtype=torch.uint8).numpy().tobytes()
        (tmp_path / "last.ckpt").write_bytes(data)
        with pytest.raises(LoadError, match="corrupt|truncated|not a"):
            read_checkpoint(tmp_path / "last.ckpt")
