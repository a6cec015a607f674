"""``report.md`` of a run: what was trained, curves, final metrics, samples, how to reproduce."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from genlab.atomic import atomic_write_text
from genlab.models.base import ClosedForm
from genlab.rundir import RunDir
from genlab.training.config import TrainConfig

IMAGES = (".png", ".jpg", ".jpeg", ".svg")
TEXTS = (".txt", ".csv")
TEXT_LINES = 20  # lines of a text sample shown in the report


def _latest(folder: Path, prefix: str) -> Path | None:
    """The last ``<prefix>_NNN.*`` file the renderers wrote (any format)."""
    files = sorted(folder.glob(f"{prefix}_*.*")) if folder.is_dir() else []
    return files[-1] if files else None


def _show(path: Path, run_dir: Path, prefix: str) -> list[str]:
    """Markdown for a sample file, whatever its renderer wrote: an image inline, the first lines of a text or CSV
    file in a code block, a link otherwise (a ``.safetensors`` tensor file)."""
    rel = path.relative_to(run_dir)
    if path.suffix.lower() in IMAGES:
        return [f"![{prefix}]({rel})"]
    if path.suffix.lower() in TEXTS:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        more = [f"… ({len(lines) - TEXT_LINES} more lines in [{rel}]({rel}))"] if len(lines) > TEXT_LINES else []
        return ["```", *lines[:TEXT_LINES], "```", *more]
    return [f"[{rel}]({rel})"]


def _size(model: nn.Module) -> str:
    """Its parameters, and the values it fitted in closed form (buffers) when it has no parameters."""
    n_params = sum(p.numel() for p in model.parameters())
    if n_params:
        return f"{n_params:,} parameters"
    return f"no parameters, {sum(b.numel() for b in model.buffers()):,} fitted values"


def _how_trained(cfg: TrainConfig, steps: int, seconds: float, closed_form: bool) -> list[str]:
    if closed_form:
        return [f"- fitted in closed form, one pass over the training split, in {seconds:.1f} s (seed {cfg.seed})"]
    return [f"- trained {steps} iterations in {seconds:.1f} s "
            f"({f'{cfg.epochs} epoch(s) max' if cfg.epochs > 0 else 'no epoch limit'}, batch {cfg.batch_size}, "
            f"lr {cfg.lr}, precision {cfg.precision}, devices {cfg.devices}, seed {cfg.seed})"]


def write_report(run: RunDir, cfg: TrainConfig, model: nn.Module, metrics: dict[str, float], *,
                 seconds: float, command: str, steps: int, evaluation: dict | None = None,
                 continued: list[str] = ()) -> Path:
    """Write ``report.md`` (and ``curves.png``) of ``run`` atomically; returns its path. ``steps``: iterations,
    ``seconds``: training time, both over every segment of a resumed run; ``command``: the recipe that started
    it, ``continued``: the commands that resumed it."""
    from genlab.plots import curves

    run_dir = run.path
    keys = ["train/loss", "val/loss"] + [k for k in ("val/elbo", "val/accuracy", "val/kl") if k in metrics]
    curve = curves(run.metrics_csv, run.curves, keys) if run.metrics_csv.exists() else None
    closed_form = isinstance(model, ClosedForm)
    lines = [
        f"# {cfg.model} on {cfg.data}", "",
        f"- model: `{type(model).__module__}.{type(model).__name__}`, {_size(model)}",
        *_how_trained(cfg, steps, seconds, closed_form),
        *([f"- resumed {len(continued)} time(s): " + "; ".join(f"`{c}`" for c in continued)] if continued else []),
        "", "## Reproduce", "", "```", command, "```", "",
        f"or `genlab train --config {run_dir / 'config.yaml'} --out NEW_FOLDER`"
        + ("." if closed_form else f"; continue it with `genlab train --resume {run_dir} --epochs N`."), "",
        "## Final validation metrics", "",
    ]
    lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items())]
    if evaluation:
        lines += ["", "## Evaluation (test split)", "", "```json", json.dumps(evaluation, indent=2), "```"]
    if curve:
        lines += ["", "## Curves", "", "![curves](curves.png)"]
    recon = "Reconstructions (each data image, then its reconstruction)"
    for prefix, title in (("epoch", "Samples (last epoch)"), ("reconstructions", recon)):
        found = _latest(run.samples, prefix)
        if found:
            lines += ["", f"## {title}", "", *_show(found, run_dir, prefix)]
    lines += ["", "## Model config", "", "```json", json.dumps(model.config.to_dict(), indent=2), "```", ""]
    return atomic_write_text(run.report, "\n".join(lines))
