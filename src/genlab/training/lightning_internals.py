"""Every private Lightning detail the spine relies on, in one place, checked by ``check()``.

The systems' fast path (``systems.base``) steps optimizers without Lightning's per-step plumbing,
and chunked resume (``chunks``) edits the fit loop's saved progress. Both use attributes that are not
Lightning's public API. They are all named here;
``tests/test_spine.py::test_lightning_internals_the_spine_uses_are_in_place`` calls ``check()``, which
fails with a message naming what moved when a Lightning upgrade changes them.

Pinned against Lightning 2.6 (``pyproject.toml``: ``lightning>=2.6``).
"""

from __future__ import annotations

from typing import Any

#: set by Lightning on a LightningModule several times per step (the system keeps it a plain attribute)
FX_NAME_ATTR = "_current_fx_name"
#: the manual-optimization loop's progress hooks on a LightningOptimizer: they count ``global_step``
BEFORE_STEP, AFTER_STEP = "_on_before_step", "_on_after_step"
#: the fit loop's saved state: the epoch's batch progress and the train loader's position
BATCH_PROGRESS_KEY = "epoch_loop.batch_progress"
PROGRESS_COUNTERS = ("ready", "started", "processed", "completed")
#: ``ModelCheckpoint``'s private parts that ``callbacks.RunCheckpoint`` overrides or calls: the global step of its
#: last save (it writes ``last.ckpt`` at a validation only when this equals the trainer's step), its top-k save,
#: its ``last.ckpt`` save and the metrics it formats names from
CHECKPOINT_LAST_STEP_SAVED = "_last_global_step_saved"
CHECKPOINT_METHODS = ("_save_topk_checkpoint", "_save_last_checkpoint", "_monitor_candidates")
#: the CSV logger's writer methods ``logger._ResumableWriter`` overrides: the check of an existing file at start
#: (Lightning deletes it; a resume keeps its rows) and the rewrite when the header grows (made atomic)
CSV_WRITER_METHODS = ("_check_log_dir_exists", "_rewrite_with_new_header")
#: where a Lightning checkpoint keeps the fit loop's count of completed epochs
EPOCH_PROGRESS_KEY = "epoch_progress"


#: the name Lightning keeps its ``Timer`` callback's state under in a checkpoint (``max_time``)
TIMER_STATE_KEY = "Timer"


def timer_seconds(checkpoint: dict[str, Any]) -> float | None:
    """The training seconds Lightning's ``Timer`` (``max_time``) had counted in ``checkpoint`` (None: no timer)."""
    state = checkpoint.get("callbacks", {}).get(TIMER_STATE_KEY)
    try:
        return float(state["time_elapsed"]["train"])
    except (TypeError, KeyError, ValueError):
        return None


def completed_epochs(checkpoint: dict[str, Any]) -> int | None:
    """The epochs whose every batch a Lightning training ``checkpoint``'s run had trained (None: not recorded).

    Lightning marks an epoch completed only after its end-of-epoch hooks, and a checkpoint written in those hooks
    (at the last validation, at the end) still counts it as under way; its batch progress then says the epoch's
    last batch is done."""
    fit_loop = checkpoint.get("loops", {}).get("fit_loop", {})
    try:
        completed = int(fit_loop[EPOCH_PROGRESS_KEY]["current"]["completed"])
        return completed + bool(fit_loop[BATCH_PROGRESS_KEY].get("is_last_batch", False))
    except (TypeError, KeyError, ValueError):
        return None


def count_optimizer_step(opt: Any, step: Any) -> None:
    """Run ``step()`` (the raw optimizer step) between the manual loop's progress hooks of the
    ``LightningOptimizer`` ``opt``: ``trainer.global_step`` counts it, as ``opt.step()`` would."""
    getattr(opt, BEFORE_STEP)()
    step()
    getattr(opt, AFTER_STEP)()


def fit_loop_progress(checkpoint: dict[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The epoch's batch progress and the saved train-loader states of a Lightning training ``checkpoint``."""
    fit_loop = checkpoint.get("loops", {}).get("fit_loop", {})
    progress = fit_loop.get(BATCH_PROGRESS_KEY)
    loaders = (fit_loop.get("state_dict") or {}).get("combined_loader") or []
    return progress, loaders


def shift_batch_progress(progress: dict[str, Any], shift: int) -> None:
    """Move every counter of a saved batch progress by ``shift`` (keeping their offsets), in place."""
    for part in ("current", "total"):
        for key in PROGRESS_COUNTERS:
            progress[part][key] += shift


def plain_step_possible(trainer: Any, module: Any, hooks: tuple[str, ...]) -> bool:
    """Whether Lightning's backward and optimizer-step plumbing would only dispatch hooks: one
    process, fp32 or bf16-mixed without a gradient scaler, and ``module`` overrides none of ``hooks``
    (nor ``backward``)."""
    import lightning as L
    from lightning.pytorch.plugins.precision import MixedPrecision, Precision
    from lightning.pytorch.strategies import SingleDeviceStrategy

    return (type(trainer.strategy) is SingleDeviceStrategy
            and type(trainer.precision_plugin) in (Precision, MixedPrecision)
            and getattr(trainer.precision_plugin, "scaler", None) is None
            and not any(getattr(type(module), h) is not getattr(L.LightningModule, h) for h in (*hooks, "backward")))


def check() -> list[str]:
    """What of the above this Lightning no longer has (``[]`` when all is in place)."""
    import lightning as L
    import torch
    from lightning.pytorch.core.optimizer import LightningOptimizer
    from lightning.pytorch.loops.optimization.manual import _ManualOptimization

    problems = []
    opt = LightningOptimizer(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    for name in (BEFORE_STEP, AFTER_STEP):
        if not callable(getattr(opt, name, None)):
            problems.append(f"LightningOptimizer has no {name}() (the manual loop's step counter hooks)")
        if not callable(getattr(_ManualOptimization, name, None)):
            problems.append(f"_ManualOptimization has no {name}() (it counts global_step)")
    if not hasattr(L.LightningModule(), FX_NAME_ATTR):
        problems.append(f"LightningModule no longer sets {FX_NAME_ATTR}")
    from lightning.pytorch.callbacks import ModelCheckpoint

    if not hasattr(ModelCheckpoint(), CHECKPOINT_LAST_STEP_SAVED):
        problems.append(f"ModelCheckpoint no longer keeps {CHECKPOINT_LAST_STEP_SAVED}")
    for name in CHECKPOINT_METHODS:
        if not callable(getattr(ModelCheckpoint, name, None)):
            problems.append(f"ModelCheckpoint has no {name}() (RunCheckpoint overrides or calls it)")
    from lightning.fabric.loggers.csv_logs import _ExperimentWriter

    for name in CSV_WRITER_METHODS:
        if not callable(getattr(_ExperimentWriter, name, None)):
            problems.append(f"the CSV logger's _ExperimentWriter has no {name}() (_ResumableWriter overrides it)")
    return problems
