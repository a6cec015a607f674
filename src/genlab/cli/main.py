"""The ``genlab`` command. Imports stay lazy: ``genlab --help`` and ``genlab list`` import no torch.

Bad input (unknown model or dataset, malformed YAML, bad ``--set``, wrong shapes, corrupt model
folders) prints one line ``error: ...`` that says what to do, and exits with code 2, no traceback.
"""

from __future__ import annotations

import functools
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="genlab", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Models of a deep-learning course, from their equations: train, sample, evaluate.",
)


def _friendly(fn):
    """Turn genlab's user errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from genlab.errors import GenlabError

        try:
            return fn(*args, **kwargs)
        except GenlabError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: the last checkpoint is intact; continue with --resume RUN", err=True)
            raise typer.Exit(130) from None

    return wrapper


@app.command("list")
@_friendly
def list_(runs: Annotated[Path, typer.Option(help="folder of run folders")] = Path("runs")) -> None:
    """List models, datasets and the runs found under ./runs."""
    from genlab.data.registry import datasets
    from genlab.registry import MODELS

    typer.echo("Models (genlab train NAME):")
    for e in MODELS.values():
        typer.echo(f"  {e.name:<8} {e.summary} [default data: {e.default_data}]")
    typer.echo("\nDatasets (--data NAME):")
    typer.echo(f"  {'name':<16}{'kind':<10}{'shape':<14}{'size':<22}{'source':<28}licence")
    for d in datasets():
        typer.echo(f"  {d.name:<16}{d.kind:<10}{str(d.shape):<14}{d.size:<22}{d.source:<28}{d.licence}")
    found = sorted(p.parent for p in runs.glob("*/config.yaml")) if runs.is_dir() else []
    if found:
        import yaml

        typer.echo(f"\nRuns ({runs}/):")
        for r in found:
            c = yaml.safe_load((r / "config.yaml").read_text()) or {}
            done = "model saved" if (r / "model" / "config.json").is_file() else "no model yet"
            typer.echo(f"  {r.name:<40} {c.get('model', '?')} on {c.get('data', '?')}, {done}")


@app.command()
@_friendly
def train(
    model: Annotated[str | None, typer.Argument(help="model name (see `genlab list`)")] = None,
    data: Annotated[str | None, typer.Option(help="dataset name (see `genlab list`)")] = None,
    epochs: Annotated[int | None, typer.Option(help="passes over the training data")] = None,
    max_time: Annotated[str | None, typer.Option(help="wall-clock limit, e.g. 10m, 90s")] = None,
    max_steps: Annotated[int | None, typer.Option(help="stop after this many steps")] = None,
    batch_size: Annotated[int | None, typer.Option()] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    precision: Annotated[str | None, typer.Option(help="32 or bf16-mixed")] = None,
    devices: Annotated[int | None, typer.Option(help="processes (CPU) for DDP")] = None,
    strategy: Annotated[str | None, typer.Option(help="auto, ddp or ddp_spawn")] = None,
    out: Annotated[str | None, typer.Option(help="run folder (default runs/<model>-<data>-<time>)")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of options")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value, e.g. model.latent_dim=16")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue this run folder exactly")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Train MODEL on a dataset and write a run folder (config, metrics, checkpoints, model, samples, report)."""
    from genlab.errors import ConfigError
    from genlab.training.config import parse_set, read_yaml, resolve

    flags = {"model": model, "data": data, "epochs": epochs, "max_time": max_time, "max_steps": max_steps,
             "batch_size": batch_size, "lr": lr, "seed": seed, "precision": precision, "devices": devices,
             "strategy": strategy, "out": out, "quiet": quiet or None}
    flags = {k: v for k, v in flags.items() if v is not None}
    sets = parse_set(set_ or [])
    if resume is not None:
        from genlab.training.run import resume_config

        if model is not None:
            raise ConfigError("--resume continues a run with its own model: drop the MODEL argument")
        cfg = resume_config(resume, {**flags, **sets})
    else:
        file_layer = read_yaml(config) if config else {}
        if "model" not in flags and "model" not in file_layer:
            raise ConfigError("name a model: genlab train MODEL (see `genlab list`)")
        from genlab.registry import get_model

        entry = get_model(flags.get("model") or file_layer["model"])  # fail fast, before Lightning
        cfg = resolve(entry.train_defaults, file_layer, flags, sets)
    from genlab.data.registry import info as dataset_info

    if cfg.data:
        dataset_info(cfg.data)  # unknown names fail here, before Lightning is imported

    from genlab.training.run import train as run_train

    command = "genlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_train(cfg, resume=resume is not None, command=command)
    typer.echo(f"run folder: {result.run_dir}")
    for k, v in sorted(result.metrics.items()):
        typer.echo(f"  {k} = {v:.4f}")
    typer.echo(f"report: {result.run_dir / 'report.md'}")


def _load_run_model(run: Path):
    from genlab.errors import LoadError
    from genlab.hub import load

    folder = run / "model" if (run / "model").is_dir() else run
    if not (folder / "config.json").exists() and not run.exists():
        raise LoadError(f"no run folder at {run}: pass a folder written by `genlab train`")
    return load(folder)


def _sampler_options(model, **options) -> dict:
    """The sampler options that were given (diffusion: sampler, steps, eta), checked against ``model.sample``."""
    import inspect

    from genlab.errors import ConfigError

    extra = {k: v for k, v in options.items() if v is not None}
    accepted = inspect.signature(model.sample).parameters if hasattr(model, "sample") else {}
    bad = [k for k in extra if k not in accepted]
    if bad:
        opts = ", ".join("--" + b for b in bad)
        raise ConfigError(f"{type(model).__name__}.sample takes no {opts}: --sampler, --steps and --eta are "
                          f"options of diffusion models (ddpm, vdm); drop them for this model")
    return extra


@app.command()
@_friendly
def sample(
    run: Annotated[Path, typer.Argument(help="run folder (or a model folder)")],
    n: Annotated[int, typer.Option(help="number of samples")] = 64,
    seed: Annotated[int, typer.Option()] = 0,
    sampler: Annotated[str | None, typer.Option(help="diffusion sampler: ddpm or ddim")] = None,
    steps: Annotated[int | None, typer.Option(help="diffusion sampling steps")] = None,
    eta: Annotated[float | None, typer.Option(
        help="DDIM eta: 0 = deterministic (default), 1 = DDPM-like noise (better FID on small models)")] = None,
    out: Annotated[Path | None, typer.Option(help="PNG path (default RUN/samples/sample-<time>.png)")] = None,
) -> None:
    """Draw samples from a trained model into a PNG (image grid or 2-D scatter)."""
    import time

    import torch

    from genlab.errors import ConfigError
    from genlab.plots import image_grid, scatter2d

    if n < 1:
        raise ConfigError(f"--n must be ≥ 1, got {n}")
    model = _load_run_model(run)
    extra = _sampler_options(model, sampler=sampler, steps=steps, eta=eta)
    t0 = time.perf_counter()
    x = model.sample(n, generator=torch.Generator().manual_seed(seed), **extra).float()
    dt = time.perf_counter() - t0
    out = out or run / "samples" / f"sample-{time.strftime('%Y%m%d-%H%M%S')}.png"
    if x.dim() == 2 and x.shape[1] == 2:
        scatter2d(x, out)
    elif x.dim() == 4:
        image_grid(x, out)
    else:
        out = out.with_suffix(".pt")
        torch.save(x, out)
    typer.echo(f"{n} samples in {dt:.2f} s ({dt / n * 1000:.1f} ms each) → {out}")


@app.command("eval")
@_friendly
def eval_(
    run: Annotated[Path, typer.Argument(help="run folder")],
    metrics: Annotated[str, typer.Option(help="comma-separated: elbo, nll, bpd, fid, coverage, accuracy")] = "elbo",
    data: Annotated[str | None, typer.Option(help="dataset (default: the run's)")] = None,
    k: Annotated[int, typer.Option(help="importance samples for nll")] = 5000,
    terms: Annotated[int | None, typer.Option(
        help="bpd: denoising terms per example (ddpm; default 50, stratified) or time samples (vdm; default 1)",
    )] = None,
    n: Annotated[int, typer.Option(help="samples for fid/kid and coverage")] = 10000,
    sampler: Annotated[str | None, typer.Option(help="diffusion sampler for fid/coverage: ddpm or ddim")] = None,
    steps: Annotated[int | None, typer.Option(help="diffusion sampling steps for fid/coverage")] = None,
    eta: Annotated[float | None, typer.Option(help="DDIM eta for fid/coverage (0 deterministic, 1 DDPM-like)")] = None,
    limit: Annotated[int | None, typer.Option(help="evaluate on the first N test examples")] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Evaluate a run's model on the test split; results go to RUN/eval.json."""
    from genlab.cli.uses import _dataset
    from genlab.evaluate import evaluate, parse_metrics, write_eval

    names = parse_metrics(metrics)
    data = _dataset(run, data)
    model = _load_run_model(run)
    extra = _sampler_options(model, sampler=sampler, steps=steps, eta=eta)
    options = {"sample_kwargs": extra} if extra else {}
    result = evaluate(model, data, names, k=k, terms=terms, n=n, limit=limit, seed=seed, progress=True, **options)
    path = write_eval(run, result)
    for key, v in result.items():
        typer.echo(f"  {key} = {v:.4f}" if isinstance(v, float) else f"  {key} = {v}")
    typer.echo(f"written to {path}")


@app.command()
@_friendly
def demo(
    out: Annotated[Path | None, typer.Option(help="run folder")] = None,
    minutes: Annotated[float, typer.Option(help="training time budget")] = 2.0,
    quiet: Annotated[bool, typer.Option("--quiet")] = False,
) -> None:
    """The main job: train a small VAE on binarized MNIST in ~2 minutes, evaluate it, show where to look."""
    from genlab.cli.demo import run_demo

    run_demo(out=out, minutes=minutes, quiet=quiet, echo=typer.echo)


from genlab.cli import uses as _uses  # noqa: E402, F401  (registers embed, denoise, anomaly: AE6)


def main() -> None:
    import os

    # OpenMP threads that spin while they wait made training ~50x slower on a busy 2-core machine
    # (an MLP DDPM step: 220 ms instead of 4.5 ms); passive waiting costs nothing when it is idle.
    # Must be set before torch is imported; a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()


if __name__ == "__main__":
    main()
