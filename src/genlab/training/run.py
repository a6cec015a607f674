"""One training run, start to finish: data, model, Lightning Trainer, run folder, export, report.

``train(cfg)`` is the Python API behind ``genlab train``. The run folder (DESIGN.md, "Runs")::

    runs/<name>/config.yaml  metrics.csv  checkpoints/{last,best}.ckpt  model/  samples/  report.md
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch

from genlab.errors import ConfigError, LoadError
from genlab.registry import get_model
from genlab.training.callbacks import EMA, LossProgressBar, NonFiniteGuard, RNGState, RunCheckpoint, SampleGrid
from genlab.training.checkpoint import AtomicCheckpointIO
from genlab.training.chunks import steps_per_call
from genlab.training.config import TrainConfig, parse_duration, read_yaml, resolve, write_yaml
from genlab.training.datamodule import TensorDataModule
from genlab.training.logger import RunCSVLogger
from genlab.training.system import ObjectiveSystem

log = logging.getLogger(__name__)
# Lightning 2.6 calls a torch API that torch 2.13 deprecates; nothing for a user to act on
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
# the system steps the optimizer itself; a checkpoint holds the state after the step, as intended
warnings.filterwarnings("ignore", message=r"Using ModelCheckpoint with manual optimization.*")
# train() refuses a used run folder unless resuming, where the old checkpoints are meant to be there
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty.*")


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    model: torch.nn.Module  # the trained model (EMA weights when EMA is on)
    metrics: dict[str, float]  # final validation metrics
    seconds: float
    steps: int  # optimizer steps taken in total


def model_config(cls: type, data, options: dict[str, Any]):
    """The model's config for this dataset: shapes (and class counts) read from the data, then the
    model's own data-dependent defaults (``defaults_for_data``), then the user's options."""
    names = {f.name for f in dataclasses.fields(cls.config_class)}
    auto: dict[str, Any] = {}
    if "data_shape" in names:
        auto["data_shape"] = tuple(data.x.shape[1:])
    if "num_classes" in names and data.y is not None:
        auto["num_classes"] = int(data.y.max()) + 1
    if hasattr(cls, "defaults_for_data"):
        auto.update(cls.defaults_for_data(data))
    return cls.config_class.from_dict({**auto, **options})


def default_run_dir(cfg: TrainConfig, data_name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg.model}-{data_name}-{stamp}"


def resume_config(run_dir: str | Path, overrides: dict[str, Any]) -> TrainConfig:
    """The config of an existing run, with ``overrides`` (e.g. more epochs) applied."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise LoadError(f"{run_dir} is not a genlab run folder (no config.yaml): pass the folder "
                        f"that `genlab train` wrote")
    if not (run_dir / "checkpoints" / "last.ckpt").is_file():
        raise LoadError(f"{run_dir}/checkpoints/last.ckpt is missing: nothing to resume; train anew")
    return resolve(read_yaml(run_dir / "config.yaml"), {**overrides, "out": str(run_dir)})


def train(cfg: TrainConfig, *, resume: bool = False, callbacks: list[L.Callback] | None = None,
          command: str | None = None) -> RunResult:
    """Train ``cfg.model`` on ``cfg.data``; write and return the run folder (see module docstring).

    With ``resume=True``, ``cfg.out`` must be an existing run: training continues exactly from its
    ``checkpoints/last.ckpt`` (weights, optimizer, EMA, RNG and data order).
    """
    from genlab.data import load as load_data

    entry = get_model(cfg.model)
    data_name = cfg.data or entry.default_data
    cfg = dataclasses.replace(cfg, data=data_name)
    run_dir = Path(cfg.out) if cfg.out else default_run_dir(cfg, data_name)
    ckpt_path = run_dir / "checkpoints" / "last.ckpt"
    if resume and not ckpt_path.is_file():
        raise LoadError(f"cannot resume {run_dir}: {ckpt_path} is missing")
    if not resume and (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        raise ConfigError(f"{run_dir} already holds a run: pass --resume {run_dir} to continue it, "
                          f"or choose another --out")

    train_data = load_data(data_name, split="train").without_labels(cfg.exclude_labels)
    val_data = load_data(data_name, split="val").without_labels(cfg.exclude_labels)
    cls = entry.load_class()
    L.seed_everything(cfg.seed, verbose=False)
    model = cls(model_config(cls, train_data, cfg.model_options))
    if cfg.init_from and not resume:  # before the run folder exists: a bad folder leaves nothing behind
        from genlab.hub import init_weights_from

        init_weights_from(model, cfg.init_from)  # fine-tuning: a saved model's weights, same networks
    cfg = dataclasses.replace(cfg, model_options={**cfg.model_options})

    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(cfg, run_dir / "config.yaml")
    command = command or "genlab train " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    keep_until = torch.load(ckpt_path, map_location="cpu", weights_only=False)["global_step"] if resume else None

    if cfg.quiet:
        for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
            logging.getLogger(name).setLevel(logging.WARNING)
    steps_per_epoch = max(1, len(train_data) // (cfg.batch_size * cfg.devices))
    k = steps_per_call(cfg.steps_per_call, steps_per_epoch=steps_per_epoch, max_steps=cfg.max_steps,
                       checkpoint_every=cfg.checkpoint_every, resume_step=keep_until or 0, world_size=cfg.devices)
    ema = EMA(cfg.ema_decay) if cfg.ema_decay else None
    ref = val_data.x[:2000] if val_data.x.dim() == 2 else val_data.x[:32]  # scatter backdrop / recon inputs
    cbs: list[L.Callback] = [
        RunCheckpoint(dirpath=run_dir / "checkpoints", save_top_k=0, save_last=True,
                      every_n_train_steps=cfg.checkpoint_every, enable_version_counter=False),
        RunCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor="val/loss", mode="min",
                      save_top_k=1, enable_version_counter=False, save_on_train_epoch_end=False),
        RNGState(), NonFiniteGuard(),
        SampleGrid(run_dir / "samples", cfg.num_samples, reference=ref, fit_data=train_data.x[:5000]),
        *([ema] if ema else []), *(callbacks or []),
    ]
    if not cfg.quiet:
        cbs.append(LossProgressBar(refresh_rate=max(1, 10 // k)))
    trainer = L.Trainer(
        accelerator="cpu", devices=cfg.devices,
        strategy="ddp_spawn" if cfg.strategy == "ddp_spawn" else ("ddp" if cfg.strategy == "ddp" else "auto"),
        precision="bf16-mixed" if cfg.precision == "bf16-mixed" else "32-true",
        max_epochs=cfg.epochs, max_steps=cfg.max_steps,
        max_time=parse_duration(cfg.max_time) if cfg.max_time else None,
        logger=RunCSVLogger(run_dir, keep_until_step=keep_until), callbacks=cbs,
        plugins=[AtomicCheckpointIO()], num_sanity_val_steps=0, enable_model_summary=False,
        enable_progress_bar=not cfg.quiet, log_every_n_steps=min(10, math.ceil(steps_per_epoch / k)),
        default_root_dir=str(run_dir),
    )
    if not resume and not cfg.init_from and hasattr(model, "before_fit"):
        model.before_fit(train_data.x)  # e.g. greedy layer-wise pre-training (stacked autoencoder)
    total_steps = cfg.epochs * steps_per_epoch if cfg.epochs > 0 else cfg.max_steps  # the cosine schedule's length
    if cfg.max_steps >= 0:
        total_steps = min(total_steps, cfg.max_steps)
    system = ObjectiveSystem(model, cfg, total_steps=total_steps, steps_per_call=k,
                             log_every=min(10, steps_per_epoch))
    dm = TensorDataModule(train_data, val_data, cfg, steps_per_call=k)
    t0 = time.perf_counter()
    trainer.fit(system, datamodule=dm, ckpt_path=str(ckpt_path) if resume else None)
    seconds = time.perf_counter() - t0
    if not any(k.startswith("val/") for k in trainer.callback_metrics) and cfg.strategy != "ddp_spawn":
        trainer.validate(system, datamodule=dm, verbose=False)  # stopped before an epoch ended

    final = ema.ema_model(model) if ema and ema.shadow is not None else model
    final.eval()
    if hasattr(final, "after_fit"):
        final.after_fit(train_data.x)  # e.g. fit a Gaussian mixture to an autoencoder's codes (X1)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    if trainer.is_global_zero:
        final.save_pretrained(run_dir / "model")
        from genlab.training.report import write_report

        write_report(run_dir, cfg, final, metrics, seconds=seconds, command=command, steps=trainer.global_step)
    return RunResult(run_dir=run_dir, model=final, metrics=metrics, seconds=seconds, steps=trainer.global_step)
