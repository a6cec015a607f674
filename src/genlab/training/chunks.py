"""Several optimizer steps per Lightning ``training_step`` call, with the same result as one per call.

Lightning's loop costs about 0.3–0.5 ms of Python per batch on this machine (fetcher, hook dispatch,
progress tracking): 5–7 % of a small model's 7 ms CPU step (benchmarks/vae.py). ``ChunkedLoader``
hands Lightning ``k`` consecutive mini-batches at a time, and the system takes one optimizer step
per mini-batch (Keras' ``steps_per_execution`` idea). The mini-batches, their order, the optimizer
steps and ``trainer.global_step`` are those of the plain loop, so the weights are identical.

Lightning can only stop or checkpoint between its calls, so ``k`` is reduced (``steps_per_call``)
until every place a run may stop or write ``last.ckpt`` mid-epoch is a chunk boundary: exact resume
stays exact. Lightning counts an epoch's progress in its batches (here chunks); a run resumed
mid-epoch with another ``k`` has that count converted (``recount_chunks``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from genlab.training.lightning_internals import fit_loop_progress, shift_batch_progress


class StepChunk(list):
    """``k`` consecutive mini-batches (each a ``genlab.data.Batch``) that one ``training_step`` call trains on."""


class ChunkedLoader:
    """Yields ``StepChunk``s of ``k`` consecutive batches of ``loader`` (the last one of an epoch may
    be shorter). ``state_dict``/``load_state_dict`` are the wrapped loader's (in mini-batches), so
    a checkpoint taken at a chunk boundary resumes at that exact mini-batch."""

    def __init__(self, loader, k: int) -> None:
        if k < 1:
            raise ValueError(f"k must be ≥ 1, got {k}")
        self.loader, self.k = loader, k

    def __len__(self) -> int:
        """Chunks per epoch (from an epoch's start)."""
        return math.ceil(len(self.loader) / self.k)

    def __iter__(self) -> Iterator[StepChunk]:
        chunk = StepChunk()
        for batch in self.loader:
            chunk.append(batch)
            if len(chunk) == self.k:
                yield chunk
                chunk = StepChunk()
        if chunk:
            yield chunk

    def state_dict(self) -> dict[str, Any]:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loader.load_state_dict(state)

    def __getattr__(self, name: str) -> Any:  # set_epoch, batch_size, ...: the wrapped loader's
        if name == "loader":
            raise AttributeError(name)
        return getattr(self.loader, name)


def steps_per_call(requested: int, *, steps_per_epoch: int, max_steps: int = -1,
                   checkpoint_every: int | None = None, resume_step: int = 0, world_size: int = 1) -> int:
    """The largest ``k ≤ requested`` whose chunks end wherever this run can stop or checkpoint.

    Chunks start at each epoch's first step, so ``k`` must divide the in-epoch position of the
    ``max_steps`` stop and of the resumed checkpoint, and (for ``checkpoint_every``) both the interval
    and the epoch length. Under DDP it is 1: each backward pass must follow its own DDP forward.
    """
    if world_size > 1:
        return 1
    positions = [resume_step % steps_per_epoch]
    if max_steps >= 0:
        positions.append(max_steps % steps_per_epoch)
    if checkpoint_every:
        positions += [checkpoint_every, steps_per_epoch]
    return math.gcd(max(1, requested), *positions)


def recount_chunks(checkpoint: dict[str, Any], k: int) -> None:
    """Express the epoch progress saved in a Lightning ``checkpoint`` in chunks of ``k`` mini-batches (in place).

    The saved train-loader position (mini-batches of the epoch already trained) is exact whatever
    chunk size the run had; Lightning's batch counters are shifted so the epoch's chunks done are the
    ``ceil(position / k)`` the resumed run will count (keeping the counters' offsets, which tell
    Lightning where in a step the checkpoint was written).
    """
    progress, loaders = fit_loop_progress(checkpoint)
    if not progress or not loaders or "batch" not in loaders[0]:
        return  # not a training checkpoint of a genlab run
    shift_batch_progress(progress, math.ceil(int(loaders[0]["batch"]) / k) - progress["current"]["ready"])
