"""Lightning systems: they own the optimizer and the step choreography; the model stays a plain
``nn.Module`` (Lightning's "systems vs models" style).

``ObjectiveSystem`` trains any model whose ``forward(x, y)`` returns a ``ModelOutput`` with a
``loss`` (VAEs, diffusion models, classifiers): one objective, one optimizer (Adam, F5).

The step is written out (Lightning's manual optimization) and training metrics go straight to the
run's logger every ``log_every_n_steps``: Lightning's closure loop and its per-call ``self.log``
bookkeeping were a visible share of a small model's CPU step (spine overhead: benchmarks/vae.py).
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from genlab.training.config import TrainConfig


def adam(params, *, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam (F5) with PyTorch's fused CPU kernel: one pass over all parameters per step."""
    return torch.optim.Adam(list(params), lr=lr, weight_decay=weight_decay, fused=True)


def cosine_factor(step: int, total: int) -> float:
    """Cosine decay of the learning rate (Loshchilov & Hutter 2017, no restarts): 1 at step 0, 0 at ``total``."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


class ObjectiveSystem(L.LightningModule):
    """Minimizes ``model(x, y).loss`` with Adam; logs every 0-d term as ``train/<name>``/``val/<name>``."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, total_steps: int | None = None) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.cfg = cfg
        self.total_steps = total_steps  # length of the cosine schedule
        self.last_terms: dict[str, Tensor] = {}  # the last step's terms (NaN guard, progress bar)
        self._val_sums: dict[str, Tensor] = {}
        self._val_count = 0

    def forward(self, x: Tensor, y: Tensor | None = None) -> Any:
        return self.model(x, y)

    def _split(self, batch) -> tuple[Tensor, Tensor | None]:
        if isinstance(batch, (tuple, list)):
            return batch[0], (batch[1] if len(batch) > 1 else None)
        return batch, None

    def training_step(self, batch, batch_idx: int) -> Tensor:
        opt = self.optimizers()
        x, y = self._split(batch)
        out = self.model(x, y)
        self.last_terms = {k: v.detach() for k, v in out.scalars().items()}
        opt.zero_grad(set_to_none=True)
        self.manual_backward(out.loss)  # on_before_backward: the NaN guard checks the terms
        if self.cfg.grad_clip:
            self.clip_gradients(opt, gradient_clip_val=self.cfg.grad_clip, gradient_clip_algorithm="norm")  # F4
        opt.step()  # on_before_optimizer_step: the NaN guard checks the gradients
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        if (self.global_step % self.trainer.log_every_n_steps == 0) and self.logger is not None:
            self._log_train_terms()
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
                                "model_config": self.model.config.to_dict()}
