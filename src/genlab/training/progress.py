"""The training progress display: the run's iterations, its loss, epoch and time.

It counts *iterations* (``System.iteration``), whatever the chunk size ``k`` of a Lightning call
(``training.chunks``), against the run's total (``Schedule.total``: its epochs or ``max_steps``); with only
``max_time`` there is no total and it shows the time left instead. The epoch is Lightning's 0-based
``current_epoch``, the number in the sample files' names: ``epoch 0`` draws ``samples/epoch_000.png``.

- On a terminal: one tqdm bar for the whole run (its ETA is the run's), and a transient bar for each validation.
- Elsewhere (a file, a pipe, a CI log): no carriage returns; a plain line every ``LINE_SECONDS`` and one at the end,
  ``iteration 1200/8590 (13%)  loss 98.3  epoch 2 (0-9)  elapsed 1m05s  eta 6m20s``; nothing for validations.

It writes to ``sys.stdout`` (as Lightning's bar did), looked up at each write, so a redirect made after the Trainer
was built is followed. Under DDP only rank 0 shows it (Lightning disables the others: ``ProgressBar.setup``).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Any

from lightning.pytorch.callbacks import ProgressBar, Timer
from lightning.pytorch.trainer.states import RunningStage

from genlab.runs import duration

#: seconds between two lines when the output is not a terminal
LINE_SECONDS = 15.0


def epoch_text(epoch: int, last_epoch: int | None) -> str:
    """``epoch 2 (0-9)``: the 0-based epoch (as ``samples/epoch_002``) and the run's epochs, when it has a limit."""
    return f"epoch {epoch}" + (f" (0-{last_epoch})" if last_epoch is not None else "")


@dataclasses.dataclass(frozen=True)
class Status:
    """Where a run stands: ``iteration`` of ``total`` (None: only a time limit), the last iteration's ``loss``,
    the 0-based ``epoch`` of ``last_epoch`` (None: no epoch limit), seconds ``elapsed`` in this start and the
    estimated seconds ``left`` (None: not known yet)."""

    iteration: int
    total: int | None
    loss: float | None
    epoch: int
    last_epoch: int | None
    elapsed: float
    left: float | None

    def line(self) -> str:
        """``iteration 1200/8590 (13%)  loss 98.3  epoch 2 (0-9)  elapsed 1m05s  eta 6m20s``."""
        parts = [f"iteration {self.iteration}" + (f"/{self.total} ({100 * self.iteration // self.total}%)"
                                                  if self.total else "")]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        parts.append(epoch_text(self.epoch, self.last_epoch))
        parts.append(f"elapsed {duration(self.elapsed)}")
        if self.left is not None:
            parts.append(f"eta {duration(self.left)}")
        return "  ".join(parts)


class IterationProgress(ProgressBar):
    """The run's progress in iterations: a bar on a terminal, plain lines elsewhere (module docstring).

    ``total``: the run's iterations (None: only ``max_time`` limits it); ``per_epoch``: iterations per epoch."""

    def __init__(self, total: int | None, per_epoch: int) -> None:
        super().__init__()
        self.total = total if total and total > 0 else None
        self.last_epoch = math.ceil(self.total / per_epoch) - 1 if self.total else None
        self._enabled = True
        self._bar: Any = None  # the training tqdm bar (terminal only)
        self._val_bar: Any = None
        self._t0 = 0.0  # when this start's training began (time.monotonic)
        self._i0 = 0  # the iteration it began at (a resume begins mid-run)
        self._last_line = 0.0
        self._timer: Timer | None = None  # Lightning's max_time clock, when the run has one
        self._epoch = 0  # the epoch of the last training call (Lightning's counter moves past the last at the end)

    # --- ProgressBar's switch ---------------------------------------------------------------------
    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    # --- what it shows ----------------------------------------------------------------------------
    @staticmethod
    def _terminal() -> bool:
        return sys.stdout.isatty()

    def status(self, pl_module, *, final: bool = False) -> Status:
        """The run's ``Status`` now: the ETA from this start's rate, or the time limit's, whichever is sooner
        (none once ``final``)."""
        now, it = time.monotonic(), pl_module.iteration
        rate = (it - self._i0) / (now - self._t0) if it > self._i0 and now > self._t0 else None
        lefts = [(self.total - it) / rate] if self.total and rate and not final else []
        if self._timer is not None and not final:
            lefts.append(max(0.0, self._timer.time_remaining(RunningStage.TRAINING) or 0.0))
        loss = pl_module.last_terms.get("loss")
        return Status(iteration=it, total=self.total, loss=None if loss is None else float(loss),
                      epoch=self._epoch, last_epoch=self.last_epoch, elapsed=now - self._t0,
                      left=min(lefts) if lefts else None)

    def _write(self, text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    # --- training ---------------------------------------------------------------------------------
    def on_train_start(self, trainer, pl_module) -> None:
        if not self.is_enabled:
            return
        self._t0 = self._last_line = time.monotonic()
        self._i0 = pl_module.iteration
        self._timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        if self._terminal():
            from tqdm import tqdm

            desc = epoch_text(trainer.current_epoch, self.last_epoch)
            self._bar = tqdm(total=self.total, initial=self._i0, desc=desc, unit="it", file=sys.stdout,
                             dynamic_ncols=True)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self._bar is not None:
            self._bar.set_description(epoch_text(trainer.current_epoch, self.last_epoch), refresh=False)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.is_enabled:
            return
        self._epoch = trainer.current_epoch
        if self._bar is not None:
            loss = pl_module.last_terms.get("loss")
            left = self._timer.time_remaining(RunningStage.TRAINING) if self._timer is not None else None
            self._bar.set_postfix_str(", ".join(([f"loss {float(loss):.4g}"] if loss is not None else [])
                                                + ([f"time left {duration(left)}"] if left is not None else [])),
                                      refresh=False)
            self._bar.update(pl_module.iteration - self._bar.n)  # tqdm redraws at most every 0.1 s
        elif time.monotonic() - self._last_line >= LINE_SECONDS:
            self._write(self.status(pl_module).line())
            self._last_line = time.monotonic()

    def on_train_end(self, trainer, pl_module) -> None:
        if not self.is_enabled:
            return
        if self._bar is not None:
            self._bar.update(pl_module.iteration - self._bar.n)
            self._close("_bar")
        else:
            self._write(self.status(pl_module, final=True).line())

    # --- validation: a transient bar on a terminal, nothing elsewhere -------------------------------
    def on_validation_start(self, trainer, pl_module) -> None:
        if self.is_enabled and not trainer.sanity_checking and self._terminal():
            from tqdm import tqdm

            total = sum(trainer.num_val_batches)
            self._val_bar = tqdm(total=None if math.isinf(total) else total, desc="validation", leave=False,
                                 unit="batch", file=sys.stdout, dynamic_ncols=True)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if self._val_bar is not None:
            self._val_bar.update(1)

    def on_validation_end(self, trainer, pl_module) -> None:
        self._close("_val_bar")

    def on_exception(self, trainer, pl_module, exception) -> None:
        """Close the bars (ending their line), so the error the CLI prints next starts a line of its own."""
        self._close("_val_bar")
        self._close("_bar")

    def _close(self, name: str) -> None:
        bar = getattr(self, name)
        if bar is not None:
            bar.close()
            setattr(self, name, None)
