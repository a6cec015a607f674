"""``System``: what every Lightning system of genlab shares; a recipe (one objective, an adversarial
game, ...) subclasses it and writes one *iteration*.

The model stays a plain ``nn.Module`` (Lightning's "systems vs models" style); the system owns the
optimizers and the step choreography (manual optimization). What is shared lives here:

- **Step accounting.** An *iteration* is what ``max_steps``, ``checkpoint_every``, the cosine
  schedule's length, EMA warm-up, ``log_every``, metric rows and the progress bar count. It may
  hold several optimizer steps (a GAN: k critic steps, then a generator step) and read several
  mini-batches: ``optimizer_steps_per_iteration`` and ``batches_per_iteration``. Lightning's
  ``trainer.global_step`` counts optimizer steps, so ``iteration = global_step // steps`` and the
  trainer's limits are given in optimizer steps by ``StepClock``.
- **Chunks.** One Lightning ``training_step`` call may hold several iterations (``training.chunks``:
  Lightning's per-call bookkeeping is paid once per chunk).
- **The fast path.** In one process the backward pass and optimizer step dispatch the per-step
  hooks only to the callbacks that implement them (``lightning_internals.plain_step_possible``).
- **Per-iteration callbacks** (EMA, the NaN guard) implement ``on_train_iteration_end``.
- **The carry** of a ``CarriesState`` model (truncated BPTT, R2): ``carried()`` is the state to pass, ``carry(out)``
  keeps ``out.state`` detached; it restarts where the stream does (a training call at batch 0 of an epoch, each
  validation) and the training carry is saved in checkpoints (every process's, under DDP) for an exact resume.
- **Terms**: the last iteration's named losses (``last_terms``: NaN guard, progress bar, metric rows);
  **validation**: means of the model's terms weighted by each batch's units (its rows, or the tokens, steps or
  cells its ``ModelOutput.units`` counts), reduced over processes, written as
  one row at the iteration the run is at; the metric ``best`` checkpoints keep is the model's ``monitor``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from genlab.models.base import CarriesState, ModelOutput, detached
from genlab.training import lightning_internals as internals
from genlab.training.chunks import StepChunk, recount_chunks
from genlab.training.config import TrainConfig

_STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def _implements(callback: L.Callback, hook: str) -> bool:
    """Whether ``callback`` overrides Lightning's no-op ``hook``."""
    return getattr(type(callback), hook, None) is not getattr(L.Callback, hook)


def _pick(state: Any, rank: int) -> Any:
    """Process ``rank``'s part of a gathered carry (each tensor ``(W, ...)``)."""
    if isinstance(state, Tensor):
        return state[rank]
    return type(state)(_pick(s, rank) for s in state)


def _terms_of(out: ModelOutput | dict[str, Tensor] | None) -> dict[str, Tensor]:
    if out is None:
        return {}
    return out.scalars() if isinstance(out, ModelOutput) else out


@dataclasses.dataclass(frozen=True)
class StepClock:
    """Iterations ↔ Lightning's optimizer-step count: one iteration = ``optimizer_steps`` steps on
    ``batches`` mini-batches."""

    optimizer_steps: int = 1
    batches: int = 1

    def iteration(self, global_step: int) -> int:
        return global_step // self.optimizer_steps

    def trainer_steps(self, iterations: int) -> int:
        """Lightning's ``max_steps`` / ``every_n_train_steps`` for a number of iterations (-1 stays -1)."""
        return iterations if iterations < 0 else iterations * self.optimizer_steps


class System(L.LightningModule):
    """Base of the systems: subclasses implement ``train_iteration``, ``validation_terms`` and
    ``configure_optimizers`` (and set ``clock`` when an iteration is more than one step)."""

    clock = StepClock()
    #: DDP: whether some parameters get no gradient in a backward pass (a GAN's generator in D's step)
    find_unused_parameters = False

    def __init__(self, model: nn.Module, cfg: TrainConfig, *, total_iterations: int | None = None,
                 iterations_per_call: int = 1, log_every: int = 10, iterations_per_epoch: int | None = None,
                 command: str = "") -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.clock = self.clock_for(model)
        self.cfg = cfg
        self.total_iterations = total_iterations  # length of the cosine schedule
        self.iterations_per_call = iterations_per_call  # iterations per StepChunk (training.chunks)
        self.log_every = log_every  # write train/<term> every this many iterations
        self.iterations_per_epoch = iterations_per_epoch  # the epoch column of metric rows
        self.command = command  # the recipe that started the run (kept across resumes)
        self.continued: list[str] = []  # the commands that resumed it
        self.seconds_before = 0.0  # training time of the segments before a resume
        self._t0 = 0.0
        self._iteration_callbacks: list = []
        self._hooks: dict[str, list] | None = None  # see on_train_start
        self._last = None  # the last iteration's ModelOutput or terms
        self.validated_at = -1  # the iteration of the last validation
        self._val_sums: dict[str, Tensor] = {}
        self._val_count = 0
        self._rng: Tensor | None = None  # torch's RNG state when validation began
        self._carry: Any = None  # a CarriesState model's state after the last training batch (detached)
        self._val_carry: Any = None  # ... after the last validation batch

    def __setattr__(self, name: str, value: Any) -> None:
        if name in (internals.FX_NAME_ATTR, "_last"):  # set several times a step: plain attributes
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @classmethod
    def clock_for(cls, model: nn.Module) -> StepClock:
        """Optimizer steps and mini-batches per iteration for ``model`` (a GAN's depend on its ``n_critic``)."""
        return cls.clock

    # --- to implement ---------------------------------------------------------------------------
    def train_iteration(self, batches: list) -> None:
        """One iteration on ``clock.batches`` mini-batches; calls ``record(out)`` before its first backward."""
        raise NotImplementedError

    def validation_terms(self, batch) -> ModelOutput | dict[str, Tensor]:
        """The 0-d terms to average over the validation split: a ``ModelOutput`` (its ``units`` weight the
        batch's means) or a dict of terms (weighted by the batch's rows)."""
        raise NotImplementedError

    @property
    def ema_module(self) -> nn.Module:
        """The network whose weights an EMA averages (the whole model; a GAN's generator)."""
        return self.model

    # --- step accounting ------------------------------------------------------------------------
    @property
    def iteration(self) -> int:
        """Iterations completed (``trainer.global_step`` counts optimizer steps)."""
        return self.clock.iteration(self.trainer.global_step)

    @property
    def last_terms(self) -> dict[str, Tensor]:
        """The last iteration's loss and terms, detached (NaN guard, progress bar, logging)."""
        return {k: v.detach() for k, v in _terms_of(self._last).items()}

    def record(self, out: ModelOutput | dict[str, Tensor]) -> None:
        """Keep ``out`` as this iteration's terms (call before the backward pass: the NaN guard reads them)."""
        self._last = out

    # --- the loop -------------------------------------------------------------------------------
    @property
    def train_seconds(self) -> float:
        """Training time so far, over every segment of a resumed run."""
        import time

        return self.seconds_before + (time.perf_counter() - self._t0 if self._t0 else 0.0)

    def on_train_start(self) -> None:
        import time

        self._t0 = time.perf_counter()
        callbacks = self.trainer.callbacks
        self._iteration_callbacks = [cb for cb in callbacks if callable(getattr(cb, "on_train_iteration_end", None))]
        self._hooks = None
        if internals.plain_step_possible(self.trainer, self, _STEP_HOOKS):
            self._hooks = {h: [cb for cb in callbacks if _implements(cb, h)] for h in _STEP_HOOKS}

    def training_step(self, batch, batch_idx: int) -> None:
        if batch_idx == 0:  # the stream starts again with each epoch (a resume mid-epoch keeps its carry)
            self._carry = None
        batches = list(batch) if isinstance(batch, StepChunk) else [batch]
        b = self.clock.batches
        for i in range(0, len(batches) - b + 1, b):
            self.train_iteration(batches[i:i + b])
            self._end_iteration()

    def _end_iteration(self) -> None:
        if self.iteration % self.log_every == 0 and self.loggers:
            self.log_row({f"train/{k}": float(v) for k, v in self.last_terms.items()})
        for cb in self._iteration_callbacks:
            cb.on_train_iteration_end(self.trainer, self)

    def log_row(self, metrics: dict[str, float]) -> None:
        """One row of ``metrics.csv`` (and of every other logger) at the iteration just completed (every row of a run
        counts the same way)."""
        last = max(0, self.iteration - 1)  # the iteration just completed (0-based)
        # the epoch of that iteration (Lightning's counter runs one ahead after a resume from a max_steps stop)
        epoch = last // self.iterations_per_epoch if self.iterations_per_epoch else self.current_epoch
        for logger in self.loggers:  # self.logger would be only the first
            logger.log_metrics({**metrics, "epoch": epoch}, step=last)

    def _backward(self, loss: Tensor) -> None:
        """``manual_backward(loss)``, with the per-step hooks sent straight to their callbacks on the fast path."""
        if self._hooks is None:
            self.manual_backward(loss)
            return
        for cb in self._hooks["on_before_backward"]:
            cb.on_before_backward(self.trainer, self, loss)
        loss.backward()
        for cb in self._hooks["on_after_backward"]:
            cb.on_after_backward(self.trainer, self)

    def _optimizer_step(self, opt) -> None:
        """``opt.step()`` (``opt`` a ``LightningOptimizer``); on the fast path the raw step between the
        manual loop's progress hooks, which count ``trainer.global_step``."""
        if self._hooks is None:
            opt.step()
            return

        def step() -> None:
            for cb in self._hooks["on_before_optimizer_step"]:
                cb.on_before_optimizer_step(self.trainer, self, opt.optimizer)
            opt.optimizer.step()

        internals.count_optimizer_step(opt, step)

    def _clip(self, opt) -> None:
        if self.cfg.grad_clip:
            self.clip_gradients(opt, gradient_clip_val=self.cfg.grad_clip, gradient_clip_algorithm="norm")  # F4

    # --- the carry of a CarriesState model (R2) -------------------------------------------------
    def carried(self, *, validation: bool = False) -> dict[str, Any]:
        """``{"state": ...}`` for a ``CarriesState`` model (``None`` where its stream starts), ``{}`` for others."""
        if not isinstance(self.model, CarriesState):
            return {}
        return {"state": self._val_carry if validation else self._carry}

    def carry(self, out: ModelOutput, *, validation: bool = False) -> None:
        """Keep ``out.state``, detached, for the next batch of the stream (gradients stop at the batch's start)."""
        if isinstance(self.model, CarriesState):
            state = detached(out.state)
            if validation:
                self._val_carry = state
            else:
                self._carry = state

    # --- validation -----------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_carry = None  # validation reads its own stream from its start
        self._val_sums, self._val_count = {}, 0
        self._rng = torch.get_rng_state()  # the noise validation draws (a GAN's z) must not move training's

    def validation_step(self, batch, batch_idx: int) -> None:
        out = self.validation_terms(batch)
        units = out.units if isinstance(out, ModelOutput) else None
        n = float(batch.size if units is None else units)  # what the batch's means average over
        for k, v in _terms_of(out).items():  # weighted sums, one log call per term per epoch
            self._val_sums[k] = self._val_sums.get(k, 0.0) + v.detach().float() * n
        self._val_count += n

    def on_validation_epoch_end(self) -> None:
        if self._rng is not None:  # validating more or less often leaves the weights as they are
            torch.set_rng_state(self._rng)
            self._rng = None
        if not self._val_count:
            return
        keys = sorted(self._val_sums)
        totals = torch.stack([*(self._val_sums[k] for k in keys), torch.tensor(float(self._val_count))])
        totals = self.trainer.strategy.reduce(totals, reduce_op="sum")  # every process's examples
        means = {f"val/{k}": totals[i] / totals[-1] for i, k in enumerate(keys)}
        self.log_dict(means, on_step=False, on_epoch=True, logger=False)  # callback_metrics (best checkpoint)
        self.validated_at = self.iteration
        if self.loggers and not self.trainer.sanity_checking:
            self.log_row({k: float(v) for k, v in means.items()})

    # --- checkpoints ----------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        for logger in self.loggers:  # the rows up to the checkpoint reach metrics.csv with it (a resume keeps them)
            logger.save()
        checkpoint["genlab"] = {"train_config": self.cfg.to_dict(),
                                "model_class": f"{type(self.model).__module__}.{type(self.model).__qualname__}",
                                "model_config": self.model.config.to_dict(),
                                "steps_per_call": self.iterations_per_call,
                                "optimizer_steps_per_iteration": self.clock.optimizer_steps,
                                "batches_per_iteration": self.clock.batches,
                                "train_seconds": self.train_seconds, "command": self.command,
                                "continued": self.continued}
        if isinstance(self.model, CarriesState):  # every process's carry: an exact resume continues each stream
            carry = self._carry
            if self.trainer.world_size > 1 and carry is not None:
                carry = self.all_gather(carry)  # (W, ...) per tensor
            checkpoint["genlab"]["carry"] = {"state": carry, "world_size": self.trainer.world_size}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resuming mid-epoch with another chunk size: recount the epoch's chunks (see chunks)."""
        recount_chunks(checkpoint, self.iterations_per_call * self.clock.batches)
        meta = checkpoint.get("genlab", {})
        self.seconds_before = float(meta.get("train_seconds", 0.0))
        self.command = meta.get("command") or self.command
        self.continued = [*meta.get("continued", []), *self.continued]
        saved = meta.get("carry")
        if isinstance(self.model, CarriesState) and saved is not None:
            state, world = saved["state"], saved["world_size"]
            if state is not None and world > 1:  # this process's own stream (the same world size: resume checks it)
                state = _pick(state, self.trainer.global_rank)
            self._carry = state
