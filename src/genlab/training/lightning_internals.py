"""Every private Lightning detail the spine relies on, in one place, checked by ``check()``.

The systems' fast path (``systems.base``) steps optimizers without Lightning's per-step plumbing,
and chunked resume (``chunks``) edits the fit loop's saved progress. Both use attributes that are not
Lightning's public API. They are all named here; ``tests/test_lightning_internals.py`` calls
``check()``, which fails with a message naming what moved when a Lightning upgrade changes them.

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
    return problems
