"""``ObjectiveSystem``: one loss, one optimizer — VAEs, autoencoders, diffusion models, classifiers
(and the language models, forecasters and memory networks to come).

An iteration is one optimizer step on one mini-batch: ``model(**batch).loss`` minimized with Adam (F5),
the gradient norm optionally clipped (F4), the learning rate constant or cosine-decayed.
"""

from __future__ import annotations

from genlab.models.base import ModelOutput
from genlab.training.optim import adam, cosine_schedule
from genlab.training.systems.base import System


class ObjectiveSystem(System):
    """Minimizes ``model(**batch).loss``; logs every 0-d term as ``train/<name>`` / ``val/<name>``."""

    def train_iteration(self, batches: list) -> None:
        (batch,) = batches
        opt = self.optimizers()
        out = self.model(**batch, **self.carried())
        self.carry(out)  # a recurrent model's state for the next batch of the stream, detached (R2)
        self.record(out)
        opt.zero_grad(set_to_none=True)
        self._backward(out.loss)  # on_before_backward: the NaN guard checks the loss
        self._clip(opt)
        self._optimizer_step(opt)  # counts trainer.global_step
        self.model.after_step()  # e.g. a projection of the weights (TVAE's σ into its range)
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()

    def validation_terms(self, batch) -> ModelOutput:
        out = self.model(**batch, **self.carried(validation=True))  # (its units, if any, weight the means)
        self.carry(out, validation=True)
        return out

    def configure_optimizers(self):
        (params,) = self.model.parameter_groups().values()
        opt = adam(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        if self.cfg.lr_schedule == "constant":
            return opt
        # not trainer.estimated_stepping_batches: it sets the data up before a resume restores its position
        if self.total_iterations is None:
            raise ValueError("lr_schedule='cosine' needs ObjectiveSystem(total_iterations=...)")
        return {"optimizer": opt, "lr_scheduler": {"scheduler": cosine_schedule(opt, self.total_iterations),
                                                   "interval": "step"}}
