"""Lightning systems: they own the optimizer and the step choreography; the model stays a plain
``nn.Module`` (Lightning's "systems vs models" style).

``ObjectiveSystem`` trains any model whose ``forward(x, y)`` returns a ``ModelOutput`` with a
``loss`` (VAEs, diffusion models, classifiers): one objective, one optimizer (Adam, F5).

The step is written out (Lightning's manual optimization) and training metrics go straight to the
run's logger every ``log_every`` steps: Lightning's closure loop and its per-call ``self.log``
bookkeeping were a visible share of a small model's CPU step (spine overhead: benchmarks/vae.py).
For the same reason one ``training_step`` call may take several optimizer steps, one per mini-batch
of a ``StepChunk`` (``training.chunks``); callbacks that act after every optimizer step (EMA, NaN
guard) implement ``on_train_step_end(trainer, pl_module)``, which the system calls after each one.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from genlab.training.chunks import StepChunk, recount_chunks
from genlab.training.config import TrainConfig


def adam(params, *, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam (F5) with PyTorch's fused CPU kernel: one pass over all parameters per step."""
    return torch.optim.Adam(list(params), lr=lr, weight_decay=weight_decay, fused=True)


_STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def _implements(callback: L.Callback, hook: str) -> bool:
    """Whether ``callback`` overrides Lightning's no-op ``hook``."""
    return getattr(type(callback), hook, None) is not getattr(L.Callback, hook)


def cosine_factor(step: int, total: int) -> float:
    """Cosine decay of the learning rate (Loshchilov & Hutter 2017, no restarts): 1 at step 0, 0 at ``total``."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


class ObjectiveSystem(L.LightningModule):
    """Minimizes ``model(x, y).loss`` with Adam; logs every 0-d term as ``train/<name>``/``val/<name>``."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, total_steps: int | None = None,
                 steps_per_call: int = 1, log_every: int = 10) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.cfg = cfg
        self.total_steps = total_steps  # length of the cosine schedule
        self.steps_per_call = steps_per_call  # mini-batches per StepChunk (training.chunks.steps_per_call)
        self.log_every = log_every  # write train/<term> every this many optimizer steps
        self._step_callbacks: list = []  # callbacks with on_train_step_end
        self._hooks: dict[str, list] | None = None  # see _plain_step
        self._last_out = None  # the last step's ModelOutput (its terms: last_terms)
        self._val_sums: dict[str, Tensor] = {}
        self._val_count = 0

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_current_fx_name", "_last_out"):  # set several times a step: plain attributes
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @property
    def last_terms(self) -> dict[str, Tensor]:
        """The last training step's loss and terms, detached (NaN guard, progress bar, logging)."""
        out = self._last_out
        return {} if out is None else {k: v.detach() for k, v in out.scalars().items()}

    def forward(self, x: Tensor, y: Tensor | None = None) -> Any:
        return self.model(x, y)

    def _split(self, batch) -> tuple[Tensor, Tensor | None]:
        if isinstance(batch, (tuple, list)):
            return batch[0], (batch[1] if len(batch) > 1 else None)
        return batch, None

    def on_train_start(self) -> None:
        callbacks = self.trainer.callbacks
        self._step_callbacks = [cb for cb in callbacks if hasattr(cb, "on_train_step_end")]
        self._hooks = None
        if self._plain_step():  # the per-step hooks go to the callbacks that implement them only
            self._hooks = {h: [cb for cb in callbacks if _implements(cb, h)] for h in _STEP_HOOKS}

    def _plain_step(self) -> bool:
        """Whether Lightning's backward and optimizer-step plumbing would only dispatch hooks: one
        process, fp32 or bf16-mixed without a gradient scaler, and this module's own hooks are
        Lightning's no-ops. Lightning visits every callback for every hook (three per step): a
        visible share of a small model's step (benchmarks/vae.py)."""
        from lightning.pytorch.plugins.precision import MixedPrecision, Precision
        from lightning.pytorch.strategies import SingleDeviceStrategy

        trainer = self.trainer
        return (type(trainer.strategy) is SingleDeviceStrategy
                and type(trainer.precision_plugin) in (Precision, MixedPrecision)
                and getattr(trainer.precision_plugin, "scaler", None) is None
                and not any(getattr(type(self), h) is not getattr(L.LightningModule, h)
                            for h in (*_STEP_HOOKS, "backward")))

    def _backward(self, loss: Tensor) -> None:
        """``manual_backward(loss)``; see ``_plain_step``."""
        if self._hooks is None:
            self.manual_backward(loss)
            return
        for cb in self._hooks["on_before_backward"]:
            cb.on_before_backward(self.trainer, self, loss)
        loss.backward()
        for cb in self._hooks["on_after_backward"]:
            cb.on_after_backward(self.trainer, self)

    def _optimizer_step(self, opt) -> None:
        """``opt.step()`` (``opt`` a ``LightningOptimizer``); see ``_plain_step``. The manual loop's
        progress hooks around the step are kept: they count ``trainer.global_step``."""
        if self._hooks is None:
            opt.step()
            return
        opt._on_before_step()
        for cb in self._hooks["on_before_optimizer_step"]:
            cb.on_before_optimizer_step(self.trainer, self, opt.optimizer)
        opt.optimizer.step()
        opt._on_after_step()

    def training_step(self, batch, batch_idx: int) -> Tensor:
        opt = self.optimizers()
        scheduler = self.lr_schedulers()
        loss = None
        for mini_batch in (batch if isinstance(batch, StepChunk) else (batch,)):
            loss = self._step(opt, scheduler, mini_batch)
        return loss

    def _step(self, opt, scheduler, batch) -> Tensor:
        """One optimizer step on one mini-batch."""
        x, y = self._split(batch)
        out = self._last_out = self.model(x, y)
        opt.zero_grad(set_to_none=True)
        self._backward(out.loss)  # on_before_backward: the NaN guard checks the loss
        if self.cfg.grad_clip:
            self.clip_gradients(opt, gradient_clip_val=self.cfg.grad_clip, gradient_clip_algorithm="norm")  # F4
        self._optimizer_step(opt)  # counts trainer.global_step
        if scheduler is not None:
            scheduler.step()
        if self.global_step % self.log_every == 0 and self.logger is not None:
            self._log_train_terms()
        for cb in self._step_callbacks:
            cb.on_train_step_end(self.trainer, self)
        return out.loss.detach()

    def _log_train_terms(self) -> None:
        """Write ``train/<term>`` for the step just taken (rank 0 writes; see logger.RunCSVLogger)."""
        metrics = {f"train/{k}": float(v) for k, v in self.last_terms.items()}
        metrics["epoch"] = self.current_epoch
        self.logger.log_metrics(metrics, step=self.global_step - 1)

    def on_validation_epoch_start(self) -> None:
        self._val_sums, self._val_count = {}, 0

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = self._split(batch)
        out = self.model(x, y)
        for k, v in out.scalars().items():  # batch-size weighted sums, one log call per term per epoch
            self._val_sums[k] = self._val_sums.get(k, 0.0) + v.detach().float() * len(x)
        self._val_count += len(x)

    def on_validation_epoch_end(self) -> None:
        if self._val_count:
            self.log_dict({f"val/{k}": s / self._val_count for k, s in self._val_sums.items()},
                          on_step=False, on_epoch=True, sync_dist=True)

    def configure_optimizers(self):
        opt = adam(self.model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        if self.cfg.lr_schedule == "constant":
            return opt
        # not trainer.estimated_stepping_batches: it sets the data up before a resume restores its position
        if self.total_steps is None:
            raise ValueError("lr_schedule='cosine' needs ObjectiveSystem(total_steps=...)")
        total = max(1, self.total_steps)
        cosine = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: cosine_factor(step, total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": cosine, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["genlab"] = {"train_config": self.cfg.to_dict(),
                                "model_class": f"{type(self.model).__module__}.{type(self.model).__qualname__}",
                                "model_config": self.model.config.to_dict(),
                                "steps_per_call": self.steps_per_call}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resuming mid-epoch with another ``steps_per_call``: recount the epoch's chunks (see chunks)."""
        recount_chunks(checkpoint, self.steps_per_call)
