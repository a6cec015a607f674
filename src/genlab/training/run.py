"""One training run, start to finish: data, model, its system, the Lightning Trainer, the run folder, export, report.

``train(cfg)`` is the Python API behind ``genlab train``: both resolve the same config (the model's
registry defaults included, ``config.complete``). The run folder's layout is ``genlab.rundir.RunDir``'s.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shlex
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch

from genlab.config import require
from genlab.errors import ConfigError, LoadError, NonFiniteError, TrainingDiverged, TrainingInterrupted
from genlab.registry import get_model
from genlab.rundir import RunDir
from genlab.training.callbacks import (
    EMA,
    NonFiniteGuard,
    RNGState,
    RunCheckpoint,
    StopOnInterrupt,
    TimedCheckpoint,
)
from genlab.training.checkpoint import AtomicCheckpointIO, read_checkpoint
from genlab.training.chunks import steps_per_call
from genlab.training.config import (
    TrainConfig,
    check_resumable,
    check_unedited,
    complete,
    merge_layers,
    parse_duration,
    read_yaml,
    resolve,
)
from genlab.training.datamodule import TensorDataModule, train_policy
from genlab.training.export import ExportAtValidation, export_model
from genlab.training.logger import SampleImages, run_loggers
from genlab.training.progress import IterationProgress
from genlab.training.samples import SampleGrid
from genlab.training.systems.fit import fit_run, refuse_resume
from genlab.training.validation import validation_interval

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
    steps: int  # iterations taken in total (an iteration may hold several optimizer steps)


def resume_config(run_dir: str | Path, *layers: dict[str, Any]) -> TrainConfig:
    """The config of an existing run, with the option ``layers`` (a YAML file's, flags, ``--set``; e.g. more
    epochs) applied. Refuses, before anything is written: a folder that is not a run or has no ``last.ckpt``,
    another ``out``, an option a resume cannot change, a ``config.yaml`` edited since the checkpoint, and a run
    that has already reached the limits it would be resumed to."""
    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise LoadError(f"no run folder at {run.path}: pass the folder that `genlab train` wrote (genlab list)")
    if not run.is_run():
        raise LoadError(f"{run.path} is not a genlab run folder (no config.yaml): pass the folder "
                        f"that `genlab train` wrote")
    if not run.last_checkpoint.is_file():
        refuse_resume(run)  # a closed-form fit (PCA, PPCA) finished in one pass and keeps no checkpoint
        raise LoadError(f"{run.last_checkpoint} is missing: nothing to resume; train anew with --out {run.path} "
                        f"--overwrite (or another --out)")
    overrides = merge_layers(*layers)
    out = overrides.pop("out", None)
    if out is not None and Path(out).resolve() != run.path.resolve():
        raise ConfigError(f"--resume {run.path} continues training in {run.path}, not in --out {out}: drop --out "
                          f"(to start a new run from its weights: genlab train MODEL --out {out} "
                          f"--set init_from={run.model_dir})")
    current = read_yaml(run.config_yaml)
    checkpoint = read_checkpoint(run.last_checkpoint)
    trained = checkpoint.get("genlab", {}).get("train_config")
    if isinstance(trained, dict):
        check_unedited(current, trained, str(run.config_yaml))
    check_resumable(overrides, current)  # before anything is written
    cfg = resolve(current, {**overrides, "out": str(run.path)})
    reached = limit_reached(cfg, checkpoint)
    if reached and run.finished():  # (not finished: stopped after its last step; the resume writes model/, report)
        raise ConfigError(f"{run.path} has finished ({reached}): nothing to resume; to train it longer, pass a larger "
                          f"--epochs, --max-steps or --max-time")
    return cfg


def limit_reached(cfg: TrainConfig, checkpoint: dict[str, Any]) -> str | None:
    """Which of ``cfg``'s limits (epochs, max_steps, max_time) the run of ``checkpoint`` has already reached, in
    words; None when training from it would take a step."""
    from genlab.training.lightning_internals import completed_epochs, timer_seconds

    meta = checkpoint.get("genlab", {})
    iteration = int(checkpoint.get("global_step", 0)) // int(meta.get("optimizer_steps_per_iteration", 1))
    epochs = completed_epochs(checkpoint)
    seconds = timer_seconds(checkpoint)
    if cfg.max_steps >= 0 and iteration >= cfg.max_steps:
        return f"iteration {iteration} of max_steps {cfg.max_steps}"
    if cfg.epochs > 0 and epochs is not None and epochs >= cfg.epochs:
        return f"epoch {epochs} of epochs {cfg.epochs}"
    if cfg.max_time is not None and seconds is not None and seconds >= parse_duration(cfg.max_time).total_seconds():
        return f"{seconds:.0f} s trained of max_time {cfg.max_time}"
    return None


def _strategy(cfg: TrainConfig, system_cls: type):
    """Lightning's strategy for ``cfg.strategy``; DDP told whether the system leaves parameters unused."""
    if cfg.strategy == "auto":
        return "auto"
    from lightning.pytorch.strategies import DDPStrategy

    return DDPStrategy(find_unused_parameters=system_cls.find_unused_parameters,
                       start_method="spawn" if cfg.strategy == "ddp_spawn" else "popen")


def launch_rank(cfg: TrainConfig) -> int:
    """This process's global DDP rank, known before the Trainer exists (Lightning numbers it the same way):
    ``RANK`` (torchrun) or ``SLURM_PROCID`` (srun) if set, else ``NODE_RANK × devices + LOCAL_RANK`` (Lightning's own
    launch: the user sets ``NODE_RANK``, Lightning sets ``LOCAL_RANK`` in the processes it starts)."""
    env = os.environ
    for key in ("RANK", "SLURM_PROCID"):
        if key in env:
            return int(env[key])
    return int(env.get("NODE_RANK", env.get("GROUP_RANK", 0))) * cfg.devices + int(env.get("LOCAL_RANK", 0))


def train(cfg: TrainConfig, *, resume: bool = False, callbacks: list[L.Callback] | None = None,
          command: str | None = None) -> RunResult:
    """Train ``cfg.model`` on ``cfg.data``; write and return the run folder (``genlab.rundir``).

    With ``resume=True``, ``cfg.out`` must be an existing run: training continues exactly from its
    ``checkpoints/last.ckpt`` (weights, optimizer, EMA, RNG and data order).
    """
    cfg = complete(cfg)  # the model's defaults, exactly as `genlab train` resolves them
    entry = get_model(cfg.model)
    run = RunDir(cfg.out) if cfg.out else RunDir.new(cfg.model, cfg.data)
    if resume and not run.last_checkpoint.is_file():
        refuse_resume(run)
        raise LoadError(f"cannot resume {run.path}: {run.last_checkpoint} is missing")
    first = launch_rank(cfg) == 0  # DDP: the other processes find rank 0's folder and write nothing to it
    if first and not resume:
        check_new_folder(run, overwrite=cfg.overwrite)
    checkpoint = read_checkpoint(run.last_checkpoint) if resume else None  # refuses code: before anything is written

    cfg = dataclasses.replace(cfg, data_options=data_options(cfg.data, cfg.data_options))  # recorded in full
    train_data, val_data = training_splits(cfg)
    cls = entry.load_class()
    check_inputs(cls, cfg.model, train_data)
    check_keep(cfg, cls, closed_form=getattr(entry.load_system(), "closed_form", False))
    L.seed_everything(cfg.seed, verbose=False)
    model = cls.for_data(train_data, cfg.model_options)  # its preprocessing fitted on the training split, if any
    train_data, val_data = model.prepare(train_data), model.prepare(val_data)  # once, before any loader
    if getattr(entry.load_system(), "closed_form", False):  # PCA, PPCA: one fit, no Trainer (systems.fit)
        return RunResult(**fit_run(cfg, run, model, train_data, val_data, command=command))
    if cfg.init_from and not resume:  # before the run folder exists: a bad folder leaves nothing behind
        from genlab.hub import init_weights_from

        init_weights_from(model, cfg.init_from)  # fine-tuning: a saved model's weights, same networks
    clock = entry.load_system().clock_for(model)

    created = first and not run.path.exists()
    if first:
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_config(cfg.to_dict())
    try:
        return _fit(cfg, run, entry, model, clock, train_data, val_data, checkpoint, resume=resume,
                    callbacks=callbacks, command=command)
    except (NonFiniteError, TrainingDiverged):  # the metrics that show it stay in the folder
        raise
    except BaseException:
        if created and not run.holds_checkpoints():  # failed before anything worth keeping: leave no folder behind
            shutil.rmtree(run.path, ignore_errors=True)
        raise


def check_keep(cfg: TrainConfig, cls: type, *, closed_form: bool = False) -> None:
    """``ConfigError`` for ``keep=best`` where no best checkpoint stands for the model: none is kept (no validation
    metric ranks it, or a closed-form fit writes no checkpoints), or the run hands over an EMA average, which
    best.ckpt's weights are not."""
    if cfg.keep != "best":
        return
    require(not closed_form, f"keep=best: {cfg.model} is fitted in closed form in one pass and keeps no best "
            f"checkpoint: use keep=last")
    require(cls.monitor is not None, f"keep=best needs a validation metric to choose by, and {cfg.model} has none "
            f"(it keeps last.ckpt only): use keep=last")
    require(not cfg.ema_decay, f"keep=best takes best.ckpt's weights, not the EMA average this run hands over "
            f"(ema_decay={cfg.ema_decay:g}): set ema_decay=0, or keep=last")


def check_new_folder(run: RunDir, *, overwrite: bool) -> None:
    """``ConfigError`` unless a fresh run may be written to ``run``: not a run already, not a file, and empty unless
    ``overwrite``."""
    if run.holds_checkpoints():
        raise ConfigError(f"{run.path} already holds a run: pass --resume {run.path} to continue it, "
                          f"or choose another --out")
    if run.path.exists() and not run.path.is_dir():
        raise ConfigError(f"--out {run.path} is a file: name a folder for the run")
    if run.path.is_dir() and any(run.path.iterdir()) and not overwrite:
        raise ConfigError(f"--out {run.path} holds other files: choose an empty or new folder, or pass --overwrite "
                          f"to train into it anyway")


def training_splits(cfg: TrainConfig):
    """The run's train and validation splits (its dataset options, left-out labels, examples per class); refuses a
    batch larger than the training split."""
    from genlab.data import load

    train_data = load(cfg.data, split="train", **cfg.data_options).without_labels(cfg.exclude_labels)
    if cfg.train_per_class is not None:
        train_data = train_data.per_class(cfg.train_per_class, seed=cfg.seed)
    val_data = load(cfg.data, split="val", **cfg.data_options).without_labels(cfg.exclude_labels)
    if cfg.batch_size * cfg.devices * cfg.num_nodes > len(train_data):
        raise ConfigError(f"batch_size {cfg.batch_size} × {cfg.devices * cfg.num_nodes} process(es) is more than the "
                          f"{len(train_data)} training examples of {cfg.data}: one step would never be taken; "
                          f"lower --batch-size")
    return train_data, val_data


def data_options(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options of dataset ``name``: ``given`` checked, with every default filled in (``data.options``)."""
    from genlab.data.options import check_options
    from genlab.data.registry import info

    return check_options(name, info(name).options, given)


def check_inputs(cls: type, name: str, data) -> None:
    """``ConfigError`` unless ``data`` is of a kind model ``cls`` takes (``kinds``) and its fields are what the
    model declares it reads (``inputs``, plus ``optional_inputs`` when present; a model whose fitted preprocessing
    turns the data's fields into others: what the preprocessor declares it ``reads``), naming the datasets that fit."""
    from genlab.data.registry import fitting

    inputs, optional = cls.data_fields()
    fields = set(data.fields)
    missing = [f for f in inputs if f not in fields]
    unread = sorted(fields - set(inputs) - set(optional))
    wrong_kind = cls.kinds is not None and data.kind not in cls.kinds
    if not missing and not unread and not wrong_kind:
        return
    reads = ", ".join(inputs) + (f" (and {', '.join(optional)} when present)" if optional else "")
    if wrong_kind:
        what = f"{name} takes {' or '.join(cls.kinds)} data, but {data.name} is {data.kind} data"
    else:
        what = f"{name} reads the fields {reads}, but {data.name} holds {', '.join(sorted(fields))}" + (
            f": it lacks {', '.join(missing)}" if missing else f": {name} does not read {', '.join(unread)}")
    fit = fitting(inputs, optional, cls.kinds)
    raise ConfigError(f"{what}; " + (f"pass a dataset that fits: --data {', '.join(fit)}" if fit
                                     else "no dataset fits it yet"))


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How a run counts: the train loader's ``policy``, iterations ``per_epoch``, iterations per Lightning call
    (``k``, ``training.chunks``), epochs between validations, and the cosine schedule's length (``total``)."""

    policy: Any
    per_epoch: int
    k: int
    val_every: int
    total: int


def schedule_for(cfg: TrainConfig, model: torch.nn.Module, clock, train_data, val_data,
                 resumed_at: int | None) -> Schedule:
    """The run's ``Schedule`` from its config, the model's loader policy and the two splits."""
    world = cfg.devices * cfg.num_nodes
    policy = train_policy(type(model), cfg.data, train_data, cfg.batch_size)  # the train loader's order, drop_last
    per_epoch = max(1, policy.batches_per_epoch(len(train_data), cfg.batch_size, world) // clock.batches)
    k = steps_per_call(cfg.steps_per_call, steps_per_epoch=per_epoch, max_steps=cfg.max_steps,
                       checkpoint_every=cfg.checkpoint_every, resume_step=resumed_at or 0, world_size=world)
    val_examples = len(val_data) if cfg.val_size is None else min(len(val_data), cfg.val_size)
    val_every = validation_interval(cfg.val_every_epochs, epochs=cfg.epochs, val_examples=val_examples,
                                    train_examples=per_epoch * clock.batches * cfg.batch_size * world,
                                    iterations=per_epoch, max_steps=cfg.max_steps)
    total = cfg.epochs * per_epoch if cfg.epochs > 0 else cfg.max_steps
    if cfg.max_steps >= 0:
        total = min(total, cfg.max_steps)
    return Schedule(policy, per_epoch, k, val_every, total)


def _callbacks(cfg: TrainConfig, run: RunDir, model: torch.nn.Module, clock, plan: Schedule, train_data, val_data,
               extra: list[L.Callback] | None) -> tuple[list[L.Callback], EMA | None, StopOnInterrupt]:
    """The run's callbacks (what keeps it: checkpoints, RNG, the NaN guard, signals, ``model/``, samples, EMA), its
    EMA (None when off) and its signal handler."""
    ema = EMA(cfg.ema_decay) if cfg.ema_decay else None
    interrupt = StopOnInterrupt(run.last_checkpoint)
    fit_data = train_data.subset(torch.arange(min(5000, len(train_data))))
    cbs: list[L.Callback] = [
        RunCheckpoint(dirpath=run.checkpoints, save_top_k=0, save_last=True,
                      every_n_train_steps=clock.trainer_steps(cfg.checkpoint_every) if cfg.checkpoint_every else None,
                      every_n_epochs=None if cfg.checkpoint_every else plan.val_every, enable_version_counter=False),
        *([RunCheckpoint(dirpath=run.checkpoints, filename="best", monitor=model.monitor, mode=model.monitor_mode,
                         save_top_k=1, enable_version_counter=False, save_on_train_epoch_end=False)]
          if model.monitor else []),
        *([TimedCheckpoint(run.last_checkpoint, cfg.checkpoint_minutes)] if cfg.checkpoint_minutes else []),
        RNGState(), NonFiniteGuard(), interrupt,
        ExportAtValidation(run, fit_data), SampleGrid(run, cfg.num_samples, reference=val_data), SampleImages(run),
        *([ema] if ema else []), *(extra or []),
    ]
    if not cfg.quiet:
        cbs.append(IterationProgress(plan.total, plan.per_epoch))
    return cbs, ema, interrupt


def _trainer(cfg: TrainConfig, run: RunDir, system_cls: type, clock, plan: Schedule, cbs: list[L.Callback],
             resumed_at: int | None) -> L.Trainer:
    """The Lightning Trainer of the run: its limits in optimizer steps (``clock``), validation interval, loggers."""
    if cfg.quiet:
        for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return L.Trainer(
        accelerator="cpu", devices=cfg.devices, num_nodes=cfg.num_nodes,
        strategy=_strategy(cfg, system_cls),
        precision="bf16-mixed" if cfg.precision == "bf16-mixed" else "32-true",
        max_epochs=cfg.epochs, max_steps=clock.trainer_steps(cfg.max_steps),
        max_time=parse_duration(cfg.max_time) if cfg.max_time else None, check_val_every_n_epoch=plan.val_every,
        logger=run_loggers(run, cfg.logger, hparams=cfg.to_dict(), resumed_at=resumed_at), callbacks=cbs,
        plugins=[AtomicCheckpointIO()], num_sanity_val_steps=0, enable_model_summary=False,
        enable_progress_bar=not cfg.quiet, log_every_n_steps=min(10, math.ceil(plan.per_epoch / plan.k)),
        default_root_dir=str(run.path),
    )


def _fit(cfg: TrainConfig, run: RunDir, entry, model: torch.nn.Module, clock, train_data, val_data,
         checkpoint: dict[str, Any] | None, *, resume: bool, callbacks: list[L.Callback] | None,
         command: str | None) -> RunResult:
    """The Trainer's part of ``train``: its schedule, callbacks and Trainer, the data-derived hooks, ``fit``, then
    the final validation, ``model/`` and the report (or, when a signal stopped it, ``model/`` at the stop and
    ``TrainingInterrupted``)."""
    system_cls = entry.load_system()
    command = command or "genlab train " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    resumed_at = clock.iteration(checkpoint["global_step"]) if checkpoint else None
    plan = schedule_for(cfg, model, clock, train_data, val_data, resumed_at)
    cbs, ema, interrupt = _callbacks(cfg, run, model, clock, plan, train_data, val_data, callbacks)
    trainer = _trainer(cfg, run, system_cls, clock, plan, cbs, resumed_at)
    if not resume and not cfg.init_from:
        model.before_fit(train_data)  # e.g. greedy layer-wise pre-training (stacked autoencoder)
    model.at_start(train_data)  # every start, a resume included: data-derived state no checkpoint holds
    system = system_cls(model, cfg, total_iterations=plan.total, iterations_per_call=plan.k,
                        log_every=min(10, plan.per_epoch), iterations_per_epoch=plan.per_epoch, command=command)
    if resume:
        system.continued = [command]  # the recipe itself comes back from the checkpoint (on_load_checkpoint)
    dm = TensorDataModule(train_data, val_data, cfg, steps_per_call=plan.k * clock.batches, policy=plan.policy)
    t0 = time.perf_counter()
    _trainer_call(trainer.fit, run, "while the run was starting", resume, system, datamodule=dm,
                  ckpt_path=str(run.last_checkpoint) if resume else None, weights_only=True)
    seconds = time.perf_counter() - t0  # this call's fit (RunResult); the report counts every segment
    if interrupt.stopped_at is not None:
        _stopped(run, model, ema, train_data, interrupt, write=trainer.is_global_zero)
    if cfg.strategy != "ddp_spawn" and system.validated_at != system.iteration:  # stopped mid-epoch: the final
        _trainer_call(trainer.validate, run, "in the final validation", True, system, datamodule=dm, verbose=False)
    return _finish(cfg, run, trainer, system, clock, model, ema, train_data, seconds)


def _trainer_call(call, run: RunDir, when: str, resumable: bool, *args, **kwargs) -> None:
    """``call(*args, **kwargs)`` (``trainer.fit`` or ``validate``); a SIGTERM that Lightning's own handler caught
    before ours took over (it saves nothing) becomes ``TrainingInterrupted`` with exit code 143."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    try:
        call(*args, **kwargs)
    except SIGTERMException:
        what = (f"{run.last_checkpoint} holds the last iteration; continue with: genlab train --resume {run.path}"
                if resumable else "nothing trained in this start; train again")
        raise TrainingInterrupted(f"stopped by SIGTERM {when}: {what}", exit_code=143) from None


def _finish(cfg: TrainConfig, run: RunDir, trainer: L.Trainer, system, clock, model: torch.nn.Module,
            ema: EMA | None, train_data, seconds: float) -> RunResult:
    """The end of a run: ``model/`` (EMA weights, ``after_fit``), the final metrics, the report, then
    ``progress.json`` finished — last, so a kill before it leaves a run that ``--resume`` finishes."""
    iterations = clock.iteration(trainer.global_step)
    best = _restore_best(run, trainer, system) if cfg.keep == "best" else None
    final = _export(run, model, ema, train_data, iteration=iterations, finished=False, write=trainer.is_global_zero)
    metrics = {key: float(v) for key, v in trainer.callback_metrics.items() if key.startswith("val/")}
    if best is not None:  # the figure of the weights handed over
        metrics[model.monitor] = best
    if trainer.is_global_zero:
        from genlab.training.report import write_report

        write_report(run, cfg, final, metrics, seconds=system.train_seconds, command=system.command, steps=iterations,
                     continued=system.continued)
        run.write_model_progress(iteration=iterations, finished=True)
    return RunResult(run_dir=run.path, model=final, metrics=metrics, seconds=seconds, steps=iterations)


def _restore_best(run: RunDir, trainer: L.Trainer, system) -> float | None:
    """``keep=best``: the weights of ``checkpoints/best.ckpt`` back into the model; their validation score (None,
    and the last weights kept, when no validation ran)."""
    monitored = [cb for cb in trainer.checkpoint_callbacks if getattr(cb, "monitor", None)]
    path = run.checkpoints / "best.ckpt"
    if not monitored or monitored[0].best_model_score is None or not path.is_file():
        return None
    system.load_state_dict(read_checkpoint(path)["state_dict"])
    return float(monitored[0].best_model_score)


def _stopped(run: RunDir, model: torch.nn.Module, ema: EMA | None, train_data, interrupt: StopOnInterrupt, *,
             write: bool) -> None:
    """A signal stopped the run: its checkpoint back in place, ``model/`` at the stop, ``TrainingInterrupted``
    (exit code 128 + the signal's number)."""
    import signal

    interrupt.put_back()
    _export(run, model, ema, train_data, iteration=interrupt.stopped_at, finished=False, write=write)
    raise TrainingInterrupted(f"stopped by {interrupt.signal} at iteration {interrupt.stopped_at}, "
                              f"{run.last_checkpoint} and {run.model_dir} written; continue with: genlab train "
                              f"--resume {run.path}", exit_code=128 + getattr(signal, interrupt.signal))


def _export(run: RunDir, model: torch.nn.Module, ema: EMA | None, train_data, *, iteration: int, finished: bool,
            write: bool) -> torch.nn.Module:
    """The model a run hands over (its EMA's weights when it keeps one), in eval mode, fitted after training
    (``after_fit``: e.g. a Gaussian mixture on an autoencoder's codes, X1); with ``write``, saved as ``model/``."""
    final = ema.ema_model(model) if ema and ema.shadow is not None else model
    if write:
        export_model(run, final, train_data, iteration=iteration, finished=finished)
    else:
        final.after_fit(train_data)
    return final.eval()
