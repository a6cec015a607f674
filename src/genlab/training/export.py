"""The run's ``model/`` folder, written at every validation, when a run is interrupted and when it ends.

So a run can be sampled and evaluated whenever it stops — finished, interrupted by Ctrl-C or SIGTERM, or
killed after a validation — ``model/`` is rewritten (``save_pretrained``: each file atomic) whenever the
spine has weights worth keeping, with ``model/progress.json`` saying at which iteration and whether the run had
finished (``RunDir.model_progress``). The exported weights are the EMA's when an EMA is kept, and the model has
run its ``after_fit`` (e.g. an autoencoder's code prior) on ``fit_data``.
"""

from __future__ import annotations

import lightning as L
from torch import nn

from genlab.blocks.modes import eval_mode
from genlab.rundir import RunDir


def export_model(run: RunDir, model: nn.Module, fit_data, *, iteration: int, finished: bool,
                 final: bool = True) -> None:
    """``model.after_fit(fit_data, final=final)``, then ``model/`` and its ``progress.json`` (iteration, finished);
    ``final=False`` after a validation mid-run (a costly fit may be cheaper there: the final export redoes it)."""
    with eval_mode(model):
        model.after_fit(fit_data, final=final)
    model.save_pretrained(run.model_dir)
    run.write_model_progress(iteration=iteration, finished=finished)


class ExportAtValidation(L.Callback):
    """After each validation (rank 0): ``after_fit`` on ``fit_data`` for the weights validation saw (an EMA's
    weights are swapped in then), and during the fit ``model/`` with them, at the iteration the run is at. Runs
    before ``SampleGrid``, which draws from the model as fitted here."""

    def __init__(self, run: RunDir, fit_data) -> None:
        self.run = run
        self.fit_data = fit_data

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        from lightning.pytorch.trainer.states import TrainerFn

        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        if trainer.state.fn == TrainerFn.FITTING:
            export_model(self.run, pl_module.model, self.fit_data, iteration=pl_module.iteration, finished=False,
                         final=False)
        else:  # the final validation after a stop mid-epoch: the model is exported (final) once it ends
            with eval_mode(pl_module.model):
                pl_module.model.after_fit(self.fit_data, final=False)
