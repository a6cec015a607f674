"""The run's loggers: TensorBoard event files beside metrics.csv, with the same scalars at the same steps, the sample
grids as images, the config as hyperparameters; ``logger`` picks them; a resume does not log a step twice."""

import csv

import lightning as L
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from genlab.errors import ConfigError
from genlab.training import TrainConfig, train
from genlab.training.config import parse_set, read_yaml, resolve

TINY = {"hidden": [16], "latent_dim": 2}


def _cfg(out, **kw):
    base = dict(model="vae", data="digits", epochs=50, batch_size=256, lr=1e-3, out=str(out), quiet=True,
                num_samples=16, model_options=dict(TINY))
    return TrainConfig(**{**base, **kw})


def _events(folder) -> EventAccumulator:
    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    return ea


def _csv_columns(path) -> dict[str, list[tuple[int, float]]]:
    """Each column of metrics.csv as its (step, value) pairs, in file order (empty cells left out)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [(int(r["step"]), float(r[k])) for r in rows if r[k] != ""] for k in rows[0] if k != "step"}


def test_tensorboard_holds_the_scalars_of_metrics_csv_at_the_same_steps_the_grids_and_the_config(tmp_path):
    run = train(_cfg(tmp_path / "run", epochs=2)).run_dir  # 5 iterations per epoch: rows at steps 4 and 9
    ea = _events(run / "tensorboard")
    columns = _csv_columns(run / "metrics.csv")
    assert {"train/loss", "val/loss", "val/kl"} <= set(columns) == set(ea.Tags()["scalars"])
    for tag, pairs in columns.items():
        logged = [(e.step, e.value) for e in ea.Scalars(tag)]
        assert [s for s, _ in logged] == [s for s, _ in pairs], tag
        assert [v for _, v in logged] == pytest.approx([v for _, v in pairs], rel=1e-6), tag
    val_steps = [s for s, _ in columns["val/loss"]]
    assert val_steps == [4, 9]
    for tag in ("samples", "reconstructions"):  # the grids SampleGrid wrote, at each validation's row
        images = ea.Images(tag)
        assert [i.step for i in images] == val_steps and images[0].width > 16 and images[0].height > 16, tag
    content = ea.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["model"].string_value == "vae" and hparams["epochs"].number_value == 2
    assert hparams["model_options/latent_dim"].number_value == 2 and hparams["logger"].string_value == "both"
    assert [p.name for p in (run / "tensorboard").iterdir() if not p.name.startswith("events.out.tfevents")] == []
    assert not list(run.rglob("hparams.yaml")) and not list(run.rglob("version_*"))


def test_logger_option_writes_only_the_chosen_logs(tmp_path):
    csv_only = train(_cfg(tmp_path / "csv", max_steps=2, logger="csv")).run_dir
    assert (csv_only / "metrics.csv").is_file() and not (csv_only / "tensorboard").exists()
    tb_only = train(_cfg(tmp_path / "tb", max_steps=2, logger="tensorboard")).run_dir
    assert not (tb_only / "metrics.csv").exists() and (tb_only / "report.md").is_file()
    assert "val/loss" in _events(tb_only / "tensorboard").Tags()["scalars"]


def test_logger_option_is_checked_and_read_from_set_and_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"logger must be one of \['csv', 'tensorboard', 'both'\], got 'wandb'"):
        TrainConfig(logger="wandb")
    assert TrainConfig().logger == "both"
    assert resolve({"model": "vae"}, parse_set(["logger=tensorboard"])).logger == "tensorboard"
    (tmp_path / "run.yaml").write_text("model: vae\nlogger: csv\n")
    assert resolve(read_yaml(tmp_path / "run.yaml")).logger == "csv"


class _Crash(L.Callback):
    """Fails the run before the Lightning call at optimizer step ``at``, as a kill would (no checkpoint)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_start(self, trainer, *args):
        if trainer.global_step == self.at:
            raise RuntimeError("crash")


def test_resume_logs_each_step_once_in_tensorboard_as_in_metrics_csv(tmp_path):
    # 22 iterations per epoch, a row every 10; last.ckpt every 4: the crash at 11 leaves the row of step 9 past it
    cfg = _cfg(tmp_path / "run", batch_size=64, max_steps=21, checkpoint_every=4, steps_per_call=1)
    with pytest.raises(RuntimeError, match="crash"):
        train(cfg, callbacks=[_Crash(at=11)])
    board = tmp_path / "run" / "tensorboard"
    assert [e.step for e in _events(board).Scalars("train/loss")] == [9]  # written past the checkpoint at 8
    train(cfg, resume=True)
    ea = _events(board)
    assert len(list(board.glob("events.out.tfevents*"))) >= 2
    for tag, pairs in _csv_columns(tmp_path / "run" / "metrics.csv").items():
        assert [e.step for e in ea.Scalars(tag)] == [s for s, _ in pairs], tag
    assert [e.step for e in ea.Scalars("train/loss")] == [9, 19]
