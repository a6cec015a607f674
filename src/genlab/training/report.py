"""The report of a run: what was trained, curves, final metrics, samples, how to reproduce.

``write_report`` gathers it once as a ``Report`` (a title and sections of blocks) and writes it twice:
``report.md`` (``markdown`` below) and ``report.html`` (``genlab.training.report_html``), so the two say the same.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from genlab.atomic import atomic_write_text
from genlab.models.base import ClosedForm, declared
from genlab.rundir import RunDir
from genlab.training.config import TrainConfig
from genlab.training.report_blocks import (
    Block,
    Bullets,
    Code,
    Excerpt,
    FileLink,
    Image,
    Paragraph,
    Report,
    Section,
    Table,
)

IMAGES = (".png", ".jpg", ".jpeg", ".svg")
TEXTS = (".txt", ".csv")
TEXT_LINES = 20  # lines of a text sample shown in the report


# --- gathering it --------------------------------------------------------------------------------------
def _latest(folder: Path, prefix: str) -> Path | None:
    """The last ``<prefix>_NNN.*`` file the renderers wrote (any format)."""
    files = sorted(folder.glob(f"{prefix}_*.*")) if folder.is_dir() else []
    return files[-1] if files else None


def _show(path: Path, run_dir: Path, prefix: str) -> Block:
    """A sample file, whatever its renderer wrote: an image, the first lines of a text or CSV file, a link
    otherwise (a ``.safetensors`` tensor file)."""
    rel = path.relative_to(run_dir).as_posix()
    if path.suffix.lower() in IMAGES:
        return Image(rel, prefix)
    if path.suffix.lower() in TEXTS:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return Excerpt(rel, tuple(lines[:TEXT_LINES]), max(0, len(lines) - TEXT_LINES))
    return FileLink(rel)


def _size(model: nn.Module) -> str:
    """Its parameters, and the values it fitted in closed form (buffers) when it has no parameters."""
    n_params = sum(p.numel() for p in model.parameters())
    if n_params:
        return f"{n_params:,} parameters"
    return f"no parameters, {sum(b.numel() for b in model.buffers()):,} fitted values"


def _how_trained(cfg: TrainConfig, steps: int, seconds: float, closed_form: bool) -> str:
    if closed_form:
        return f"fitted in closed form, one pass over the training split, in {seconds:.1f} s (seed {cfg.seed})"
    return (f"trained {steps} iterations in {seconds:.1f} s "
            f"({f'{cfg.epochs} epoch(s) max' if cfg.epochs > 0 else 'no epoch limit'}, batch {cfg.batch_size}, "
            f"lr {cfg.lr}, precision {cfg.precision}, devices {cfg.devices}, seed {cfg.seed})")


def build_report(run: RunDir, cfg: TrainConfig, model: nn.Module, metrics: dict[str, float], *, seconds: float,
                 command: str, steps: int, evaluation: dict | None = None, continued: list[str] = (),
                 curves: Path | None = None) -> Report:
    """The report's content (``write_report`` has the arguments); ``curves``: the curves image, if drawn."""
    run_dir = run.path
    closed_form = isinstance(model, ClosedForm)
    name = f"{type(model).__module__}.{type(model).__name__}"
    facts = [f"model: `{name}`, {_size(model)}", _how_trained(cfg, steps, seconds, closed_form)]
    if continued:
        facts.append(f"resumed {len(continued)} time(s): " + "; ".join(f"`{c}`" for c in continued))
    again = (f"or `genlab train --config {run_dir / 'config.yaml'} --out NEW_FOLDER`"
             + ("." if closed_form else f"; continue it with `genlab train --resume {run_dir} --epochs N`."))
    sections = [
        Section("", (Bullets(tuple(facts)),)),
        Section("Reproduce", (Code(command), Paragraph(again))),
        Section("Final validation metrics",
                (Table(("metric", "value"), tuple((k, f"{v:.4f}") for k, v in sorted(metrics.items()))),)),
    ]
    if evaluation:
        sections.append(Section("Evaluation (test split)", (Code(json.dumps(evaluation, indent=2), "json"),)))
    if curves:
        sections.append(Section("Curves", (Image(Path(curves).relative_to(run_dir).as_posix(), "curves"),)))
    recon = "Reconstructions (each data image, then its reconstruction)"
    for prefix, title in (("epoch", "Samples (last epoch)"), ("reconstructions", recon)):
        found = _latest(run.samples, prefix)
        if found:
            sections.append(Section(title, (_show(found, run_dir, prefix),)))
    sections.append(Section("Model config", (Code(json.dumps(model.config.to_dict(), indent=2), "json"),)))
    return Report(f"{cfg.model} on {cfg.data}", tuple(sections))


def _score_names(model: nn.Module) -> tuple[str, ...]:
    """The names of the evaluation metric(s) ``model`` declares (``default_metric``); () when it is a function of
    the data (a generative model's: FID on images, coverage on the toys)."""
    score = (declared(model, "default_metric") or (None, None))[1]  # a name, names, or a function of the data
    return (score,) if isinstance(score, str) else score if isinstance(score, tuple) else ()


# --- writing it ------------------------------------------------------------------------------------------
def _markdown_block(block: Block) -> list[str]:
    match block:
        case Bullets(items):
            return [f"- {item}" for item in items]
        case Paragraph(text):
            return [text]
        case Code(text, language):
            return [f"```{language}", text, "```"]
        case Table(header, rows):
            return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                    + ["| " + " | ".join(row) + " |" for row in rows])
        case Image(src, alt):
            return [f"![{alt}]({src})"]
        case Excerpt(src, lines, more):
            return ["```", *lines, "```", *([f"… ({more} more lines in [{src}]({src}))"] if more else [])]
        case FileLink(src):
            return [f"[{src}]({src})"]
    raise TypeError(f"not a report block: {block!r}")


def markdown(report: Report) -> str:
    """``report.md``'s text."""
    lines = [f"# {report.title}"]
    for section in report.sections:
        lines += ["", f"## {section.title}", ""] if section.title else [""]
        for i, block in enumerate(section.blocks):
            lines += ([""] if i else []) + _markdown_block(block)
    return "\n".join(lines + [""])


def write_report(run: RunDir, cfg: TrainConfig, model: nn.Module, metrics: dict[str, float], *,
                 seconds: float, command: str, steps: int, evaluation: dict | None = None,
                 continued: list[str] = ()) -> Path:
    """Write ``report.md``, ``report.html`` (and ``curves.png``) of ``run`` atomically; returns report.md's path.
    ``steps``: iterations, ``seconds``: training time, both over every segment of a resumed run; ``command``: the
    recipe that started it, ``continued``: the commands that resumed it."""
    from genlab.models.base import panels_of
    from genlab.panels import draw
    from genlab.runs import read_rows, write_summary
    from genlab.training.report_html import to_html

    panels = panels_of(model)  # the curves its family declares
    rows = read_rows(run)
    curve = draw([(None, rows)], panels, run.curves, title=f"{cfg.model} on {cfg.data}") if rows else None
    write_summary(run, model_name=cfg.model, data=cfg.data, iterations=steps, seconds=seconds, metrics=metrics,
                  monitor=model.monitor, default_metric=_score_names(model), panels=panels)
    report = build_report(run, cfg, model, metrics, seconds=seconds, command=command, steps=steps,
                          evaluation=evaluation, continued=continued, curves=curve)
    atomic_write_text(run.report_html, to_html(report))
    return atomic_write_text(run.report, markdown(report))
