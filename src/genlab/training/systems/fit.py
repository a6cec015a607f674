"""``FitSystem``: trains a closed-form model (``models.base.ClosedForm``: PCA, PPCA) without the Lightning Trainer.

A closed-form model takes no gradient steps: its maximum-likelihood (or least-squares) state is a function of
the whole training split. So a run of one is a single pass, with the same run folder as any other run:

1. ``model.fit(train_data)`` once, before the folder is written (a fit that fails leaves nothing behind);
2. ``config.yaml``; then validation: the mean of each of the model's loss terms over the validation split,
   weighted by each batch's units (its rows unless ``ModelOutput.units`` says otherwise) as ``System`` weights
   them, on the batches a Trainer run validates on (``TensorDataModule.val_dataloader``: ``val_size``, one
   seeded draw of dynamically binarized data);
3. one row of ``metrics.csv`` (``val/<term>``, epoch 0, step 0) by the run's loggers (and TensorBoard's), so every
   tool that reads ``metrics.csv`` reads it as a Trainer run's;
4. ``samples/`` (the sample grid a Trainer run draws after each validation), ``model/`` (``export_model``),
   ``report.md`` (``write_report``), and last ``model/progress.json`` marked finished (iteration 1).

What the Trainer's options mean here: ``epochs``, ``max_steps``, ``max_time``, ``lr``, ``lr_schedule``,
``weight_decay``, ``grad_clip``, ``ema_decay``, ``precision``, ``steps_per_call``, ``checkpoint_*``,
``val_every_epochs`` and ``strategy`` are irrelevant and ignored (nothing is iterated, no ``checkpoints/`` is
written); ``batch_size`` sizes the validation batches only (at least 500, as for the Trainer). More than one
process (``devices`` or ``num_nodes`` > 1) and ``init_from`` are refused in one line, and ``--resume`` of such a
run says that it finished in one pass (``refuse_resume``).
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import torch
from torch import nn

from genlab.blocks.modes import eval_mode
from genlab.errors import ConfigError
from genlab.models.base import ClosedForm
from genlab.rundir import RunDir
from genlab.training.config import TrainConfig


class FitSystem:
    """Fits a ``ClosedForm`` model in one pass and validates it (see the module's docstring); a registry row
    names it as its ``system`` like any other, and ``training.run.train`` hands such a row to ``fit_run``."""

    #: trained by ``fit_run`` in one pass, not by the Lightning Trainer (what ``train`` dispatches on)
    closed_form: ClassVar[bool] = True

    def __init__(self, model: nn.Module, cfg: TrainConfig, *, command: str = "") -> None:
        if not isinstance(model, ClosedForm):
            raise ConfigError(f"{type(model).__name__} is not fitted in closed form (models.base.ClosedForm), but "
                              f"its registry row names FitSystem: name the system that trains it "
                              f"(genlab.training.systems:ObjectiveSystem)")
        self.model, self.cfg, self.command = model, cfg, command
        self.seconds = 0.0  # the fit's wall-clock time

    def fit(self, train_data) -> None:
        """``model.fit`` on the whole training split, timed."""
        t0 = time.perf_counter()
        self.model.fit(train_data)
        self.seconds = time.perf_counter() - t0

    @torch.no_grad()
    def validate(self, train_data, val_data) -> dict[str, float]:
        """``{"val/<term>": mean}`` of each 0-d term of ``model(**batch)`` over the validation split, each batch's
        means weighted by its units (``ModelOutput.units``, else its rows), as ``System`` validates."""
        from genlab.training.datamodule import TensorDataModule

        sums: dict[str, float] = {}
        count = 0.0
        with eval_mode(self.model):
            for batch in TensorDataModule(train_data, val_data, self.cfg).val_dataloader():
                out = self.model(**batch)
                n = float(batch.size if out.units is None else out.units)  # what the batch's means average over
                for key, value in out.scalars().items():
                    sums[key] = sums.get(key, 0.0) + float(value) * n
                count += n
        return {f"val/{key}": total / count for key, total in sorted(sums.items())}

    def write(self, run: RunDir, train_data, val_data, metrics: dict[str, float]) -> None:
        """``metrics.csv``'s row, ``samples/``, ``model/``, ``report.md``, then ``progress.json`` finished (last, as
        a Trainer run writes it)."""
        from genlab.training.export import export_model
        from genlab.training.logger import run_loggers
        from genlab.training.report import write_report

        loggers = run_loggers(run, self.cfg.logger, hparams=self.cfg.to_dict(), resumed_at=None)  # as a Trainer run's
        for logger in loggers:
            logger.log_metrics({**metrics, "epoch": 0}, step=0)  # the row of iteration 1 (rows count from 0)
            logger.finalize("success")
        self._draw(run, val_data)
        export_model(run, self.model, train_data, iteration=1, finished=False)
        write_report(run, self.cfg, self.model, metrics, seconds=self.seconds, command=self.command, steps=1)
        run.write_model_progress(iteration=1, finished=True)

    def _draw(self, run: RunDir, val_data) -> None:
        """``samples/epoch_000.png`` (and reconstructions of images) as a Trainer run draws them after its validation:
        the ``SampleGrid`` callback's own drawing, handed the state it reads (epoch 0, this process writes)."""
        from genlab.training.samples import SampleGrid

        trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, current_epoch=0)
        system = SimpleNamespace(model=self.model, device=self.model.device, iteration=0)
        SampleGrid(run, self.cfg.num_samples or 0, reference=val_data).on_validation_epoch_end(trainer, system)


def fit_run(cfg: TrainConfig, run: RunDir, model: nn.Module, train_data, val_data, *,
            command: str | None = None) -> dict[str, Any]:
    """A closed-form model's run into ``run`` (``training.run.train`` calls it for a row whose system is
    ``FitSystem``, with the model built and the data loaded); returns ``RunResult``'s fields."""
    processes = cfg.devices * cfg.num_nodes
    if processes > 1:
        raise ConfigError(f"{cfg.model} is fitted in closed form, in one pass and one process: devices "
                          f"{cfg.devices} × num_nodes {cfg.num_nodes} is {processes} processes; drop --devices and "
                          f"--num-nodes")
    if cfg.init_from:
        raise ConfigError(f"{cfg.model} is fitted in closed form from the data alone: init_from "
                          f"({cfg.init_from}) has nothing to start; drop it")
    command = command or "genlab train " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    system = FitSystem(model, cfg, command=command)
    system.fit(train_data)  # before the folder is written: a fit that fails leaves nothing behind
    created = not run.path.exists()
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config(cfg.to_dict())
    try:
        metrics = system.validate(train_data, val_data)
        system.write(run, train_data, val_data, metrics)
    except BaseException:
        if created:  # nothing worth keeping: leave no folder behind, as a Trainer run that fails before a checkpoint
            import shutil

            shutil.rmtree(run.path, ignore_errors=True)
        raise
    return {"run_dir": Path(run.path), "model": model.eval(), "metrics": metrics, "seconds": system.seconds,
            "steps": 1}


def refuse_resume(run: RunDir) -> None:
    """``ConfigError`` when ``run`` is a closed-form model's (its registry row's system is ``closed_form``): such a
    run finished in one pass and keeps no checkpoint, so there is nothing to resume. Nothing for other runs."""
    from genlab.registry import MODELS

    name = run.read_config().get("model") if run.is_run() else None
    if isinstance(name, str) and name in MODELS and getattr(MODELS[name].load_system(), "closed_form", False):
        raise ConfigError(f"a closed-form fit ({name}) finished in one pass: nothing to resume in {run.path} (it "
                          f"keeps no checkpoint); to fit it again, train anew: genlab train {name} --out NEW_FOLDER")
