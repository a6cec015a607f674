"""Callbacks of the training spine: RNG state for exact resume, NaN/Inf guard, EMA (the sample grids:
``training.samples``; the progress display: ``training.progress``)."""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from genlab.errors import NonFiniteError
from genlab.training import lightning_internals as internals

log = logging.getLogger(__name__)


class RNGState(L.Callback):
    """Saves torch's and Python's RNG state in the checkpoint and restores it when training resumes,
    so the noise a model draws (reparameterization, diffusion timesteps) continues exactly."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
                "python_version": random.getstate()[0], "python_gauss": random.getstate()[2]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending = state

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:
            s = self._pending
            torch.set_rng_state(s["torch"])
            random.setstate((s["python_version"], tuple(s["python"]), s["python_gauss"]))
            self._pending = None


def non_finite_parameters(module: nn.Module) -> list[str]:
    """Names of the parameters of ``module`` holding a NaN or Inf (one fused pass when all are finite)."""
    params = [p for p in module.parameters()]
    if not params or torch.isfinite(torch.stack(torch._foreach_norm([p.detach() for p in params]))).all():
        return []
    return [name for name, p in module.named_parameters() if not torch.isfinite(p).all()]


class NonFiniteGuard(L.Callback):
    """Stops training with ``NonFiniteError`` when the loss, a gradient or the weights turn NaN/Inf.

    The loss is checked every step, before the backward pass; when it is not finite the error names
    the loss terms that are not. Gradients are not read every step (a pass over all gradients every
    step was a visible share of a small model's step): a non-finite gradient makes the weights it
    updates non-finite (Adam divides ``m̂ / √v̂``: NaN), which the next loss shows; the weights are
    also checked every ``every`` steps and before every checkpoint is written. The error names the
    step and the term or parameter; no checkpoint is written with non-finite weights, so the
    last good ``last.ckpt`` stays intact.
    """

    def __init__(self, every: int = 100) -> None:
        self.every = every  # a pass over all weights: ~0.25 ms for a 1M-parameter MLP on this CPU
        self._steps = 0  # steps seen by this callback (the weight check's clock)

    def _stop(self, trainer, what: str) -> None:
        raise NonFiniteError(f"training stopped at iteration {trainer.lightning_module.iteration}: {what}; lower --lr, "
                             f"set --set "
                             f"grad_clip=1.0, or check the data for NaNs (the last good checkpoint is kept)")

    def _bad_weights(self, pl_module) -> str | None:
        bad = non_finite_parameters(pl_module)
        return f"the weights of {', '.join(repr(b) for b in bad[:3])} are not finite" if bad else None

    def _check_weights(self, trainer, pl_module) -> None:
        bad = self._bad_weights(pl_module)
        if bad:
            self._stop(trainer, f"{bad} (a non-finite gradient at an earlier step)")

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        if loss.numel() == 1 and math.isfinite(loss.item()):  # every step: a Python float check (~0.3 µs)
            return  # name the culprit term only when the loss is not finite
        terms = {**pl_module.last_terms, "loss": loss.detach()}
        for name, value in terms.items():
            if not torch.isfinite(value).all():
                bad = self._bad_weights(pl_module)  # name the weights too when they are the cause
                self._stop(trainer, f"loss term '{name}' is {value.item()}" + (f"; {bad}" if bad else ""))

    def on_train_iteration_end(self, trainer, pl_module) -> None:  # after each iteration (systems.base)
        self._steps += 1
        if self._steps % self.every == 0:
            self._check_weights(trainer, pl_module)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        self._check_weights(trainer, pl_module)  # raising here writes nothing (atomic save)


class TimedCheckpoint(L.Callback):
    """Writes ``last.ckpt`` after the first Lightning call that ends ``minutes`` or more after the last write,
    so a kill between epochs loses at most about that much training. (Lightning's own
    ``ModelCheckpoint(train_time_interval=...)`` ignores the interval under manual optimization.)"""

    def __init__(self, path: str | Path, minutes: float) -> None:
        self.path = Path(path)
        self.seconds = 60.0 * minutes
        self._last = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self._last = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        due = trainer.strategy.broadcast(time.monotonic() - self._last >= self.seconds)  # every rank decides alike
        if due:
            trainer.save_checkpoint(self.path, weights_only=False)
            self._last = time.monotonic()


class StopOnInterrupt(L.Callback):
    """Ctrl-C (SIGINT) or SIGTERM (``docker stop``, Kubernetes, SLURM, systemd) during training: finish the Lightning
    call under way (a chunk of whole iterations), write ``last.ckpt`` there — a point an exact resume starts from —
    and stop; ``stopped_at`` is then the iteration and ``signal`` the signal's name. A second signal stops at once
    (the checkpoint written last stays intact).

    The handler only notes the signal. Under DDP the processes then agree after each training call whether any of
    them received one (``reduce_boolean_decision``), and all of them write the checkpoint and stop there together:
    a signal may reach one process (``docker stop``) or all of them (SLURM), at different moments. This replaces
    Lightning's SIGTERM handler for the fit, which stops without a checkpoint, exits 0, and under DDP runs a
    collective inside the signal handler (runs hung when the processes were signalled mid-validation)."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.stopped_at: int | None = None
        self.signal: str | None = None  # the first signal this process received (or, under DDP, another did)
        self._saved = b""
        self._previous = self._handlers()  # as they are before the Trainer installs its own: put back at the end
        self._installed = False

    @classmethod
    def _handlers(cls) -> dict[int, Any]:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return {}
        return {getattr(signal, name): signal.getsignal(getattr(signal, name)) for name in cls.SIGNALS}

    def _handler(self, signum, frame) -> None:
        import signal

        if self.signal is not None:  # the second signal: stop now
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)
        self.signal = signal.Signals(signum).name

    def on_train_start(self, trainer, pl_module) -> None:
        """Take the signals as training starts (Lightning installs its SIGTERM handler just before; a SIGTERM in
        between raises Lightning's ``SIGTERMException``, which ``training.run`` reports)."""
        import signal
        import threading

        if self._installed or threading.current_thread() is not threading.main_thread():
            return
        for name in self.SIGNALS:
            signal.signal(getattr(signal, name), self._handler)
        self._installed = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.stopped_at is not None:
            return
        requested = self.signal is not None
        if trainer.world_size > 1:  # every process stops at the same call, whichever received the signal
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if requested:
            self.signal = self.signal or "SIGTERM"  # (a process that received none stops as the others do)
            trainer.save_checkpoint(self.path, weights_only=False)
            self._saved = self.path.read_bytes() if trainer.is_global_zero else b""
            self.stopped_at = pl_module.iteration
            trainer.should_stop = True

    def put_back(self) -> None:
        """Write the checkpoint taken at the stop back to ``path``: Lightning's end-of-epoch hooks (and the
        validation they run, which draws from the RNG) write another ``last.ckpt`` after it."""
        if self.stopped_at is not None and self._saved:
            from genlab.atomic import atomic_write_bytes

            atomic_write_bytes(self.path, self._saved)

    def _restore(self) -> None:
        import signal

        if self._installed:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            self._installed = False

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._restore()

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self._restore()


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` with its ``state_key`` formatted once, not at every hook call, and
    (with ``save_last``) a ``last.ckpt`` at the end of training whatever epoch the run stops at: epoch ends
    write it only every ``every_n_epochs`` (``training.validation``).

    Lightning names each callback by ``state_key`` for every hook it dispatches (three per optimizer
    step) and ``ModelCheckpoint`` formats it from a dict of its settings each time: a visible share
    of a small model's step. The settings are fixed at construction, so the key is too; it is the
    key a plain ``ModelCheckpoint`` has, so runs checkpointed before this class existed resume with
    their best score.
    """

    def _save_topk_checkpoint(self, trainer, monitor_candidates) -> None:
        """Lightning 2.6 writes ``last.ckpt`` at a validation or epoch end only when a top-k checkpoint was just
        written; a last-only callback (``save_top_k=0``) writes none, so it would never write ``last.ckpt`` there.
        Here its trigger counts as that save, and Lightning then writes ``last.ckpt``."""
        if self.save_top_k == 0 and self.save_last:
            setattr(self, internals.CHECKPOINT_LAST_STEP_SAVED, trainer.global_step)
            return
        super()._save_topk_checkpoint(trainer, monitor_candidates)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.save_last and getattr(self, internals.CHECKPOINT_LAST_STEP_SAVED) != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    @property
    def state_key(self) -> str:
        key = self.__dict__.get("_state_key")
        if key is None:  # named as a ModelCheckpoint: checkpoints of earlier runs restore its state
            key = super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)
            self.__dict__["_state_key"] = key
        return key


def ema_decay_at(step: int, decay: float) -> float:
    """The EMA decay after ``step`` optimizer steps: ``min(d, (1 + n) / (10 + n))``.

    The warm-up (as diffusers' ``EMAModel``) lets the average follow the weights early on: with a
    fixed ``d = 0.999`` the average of a 100-step run would still be 90 % the initial weights.
    """
    return min(decay, (1.0 + step) / (10.0 + step))


class EMA(L.Callback):
    """Exponential moving average of the weights: ``θ̄ ← d_n·θ̄ + (1 − d_n)·θ`` after iteration ``n``,
    ``d_n = ema_decay_at(n, decay)`` (warm-up, then ``decay``).

    It averages the system's ``ema_module`` (the whole model; a GAN's generator). The average is saved
    in the checkpoint (exact resume) and swapped in for validation and for the exported model
    (``ema_model``). Used by diffusion models (Ho et al. 2020, arXiv:2006.11239).
    """

    def __init__(self, decay: float = 0.999) -> None:
        self.decay = decay
        self.shadow: dict[str, torch.Tensor] | None = None
        self._backup: dict[str, torch.Tensor] | None = None
        self._path = ""  # where the averaged module sits in the model ("" = the model itself)

    def on_fit_start(self, trainer, pl_module) -> None:
        target = pl_module.ema_module
        self._path = next(name for name, m in pl_module.model.named_modules() if m is target)
        if self.shadow is None:
            self.shadow = {k: v.detach().clone() for k, v in target.state_dict().items()}

    @torch.no_grad()
    def on_train_iteration_end(self, trainer, pl_module) -> None:  # after each iteration (systems.base)
        d = ema_decay_at(pl_module.iteration - 1, self.decay)  # the iteration just taken counts already
        for k, v in pl_module.ema_module.state_dict().items():
            s = self.shadow[k]
            if v.dtype.is_floating_point:
                s.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                s.copy_(v)

    def _swap_in(self, pl_module) -> None:
        if self.shadow is not None and self._backup is None:
            self._backup = {k: v.detach().clone() for k, v in pl_module.ema_module.state_dict().items()}
            pl_module.ema_module.load_state_dict(self.shadow)

    def _swap_out(self, pl_module) -> None:
        if self._backup is not None:
            pl_module.ema_module.load_state_dict(self._backup)
            self._backup = None

    def on_validation_start(self, trainer, pl_module) -> None:
        self._swap_in(pl_module)

    def on_validation_end(self, trainer, pl_module) -> None:
        self._swap_out(pl_module)

    def ema_model(self, model: nn.Module) -> nn.Module:
        """A copy of ``model`` whose averaged module holds the averaged weights."""
        m = copy.deepcopy(model)
        if self.shadow is not None:
            m.get_submodule(self._path).load_state_dict(self.shadow)
        return m

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = state["decay"]
        self.shadow = state["shadow"]
