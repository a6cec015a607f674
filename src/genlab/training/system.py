"""Lightning systems: they own the optimizer and the step choreography; the model stays a plain
``nn.Module`` (Lightning's "systems vs models" style).

``ObjectiveSystem`` trains any model whose ``forward(x, y)`` returns a ``ModelOutput`` with a
``loss`` (VAEs, diffusion models, classifiers): one objective, one optimizer (Adam, F5).
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
        self.model = model
        self.cfg = cfg
        self.total_steps = total_steps  # length of the cosine schedule
        self.last_terms: dict[str, Tensor] = {}

    def forward(self, x: Tensor, y: Tensor | None = None) -> Any:
        return self.model(x, y)

    def _split(self, batch) -> tuple[Tensor, Tensor | None]:
        if isinstance(batch, (tuple, list)):
            return batch[0], (batch[1] if len(batch) > 1 else None)
        return batch, None

    def training_step(self, batch, batch_idx: int) -> Tensor:
        x, y = self._split(batch)
        out = self.model(x, y)
        self.last_terms = {k: v.detach() for k, v in out.scalars().items()}
        if (self.global_step + 1) % self.trainer.log_every_n_steps:
            return out.loss  # Lightning writes step metrics every log_every_n_steps: skip the bookkeeping
        self.log_dict({f"train/{k}": v.float() for k, v in self.last_terms.items()}, prog_bar=False,
                      on_step=True, on_epoch=False, batch_size=len(x))
        self.log("loss", self.last_terms["loss"].float(), prog_bar=True, on_step=True, on_epoch=False,
                 logger=False, batch_size=len(x))
        return out.loss

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = self._split(batch)
        out = self.model(x, y)
        self.log_dict({f"val/{k}": v.float() for k, v in out.scalars().items()}, on_step=False,
                      on_epoch=True, prog_bar=False, batch_size=len(x), sync_dist=True)

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
