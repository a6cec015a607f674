"""The ``genlab`` command. Imports stay lazy: ``genlab --help`` and ``genlab list`` import no torch.

Bad input (unknown model or dataset, malformed YAML, bad ``--set``, wrong shapes, corrupt model
folders) prints one line ``error: ...`` that says what to do, and exits with code 2, no traceback.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import app, echo_figures, friendly, load_run_model, train_config


@app.command("list")
@friendly
def list_(runs: Annotated[Path, typer.Option(help="folder of run folders")] = Path("runs")) -> None:
    """List models, datasets and the runs found under ./runs."""
    from genlab.data.registry import datasets
    from genlab.registry import MODELS

    typer.echo("Models (genlab train NAME):")
    width = max(len(e.name) for e in MODELS.values())
    for e in MODELS.values():
        typer.echo(f"  {e.name:<{width}}  {e.summary} [default data: {e.default_data}]")
    typer.echo("\nDatasets (--data NAME):")
    typer.echo(f"  {'name':<16}{'kind':<10}{'shape':<14}{'size':<22}{'source':<28}licence")
    for d in datasets():
        typer.echo(f"  {d.name:<16}{d.kind:<10}{str(d.shape):<14}{d.size:<22}{d.source:<28}{d.licence}")
    from genlab.rundir import RunDir

    found = sorted(RunDir(p.parent) for p in runs.glob("*/config.yaml")) if runs.is_dir() else []
    if found:
        typer.echo(f"\nRuns ({runs}/):")
        for r in found:
            c = r.read_config()
            done = "model saved" if (r.model_dir / "config.json").is_file() else "no model yet"
            typer.echo(f"  {r.path.name:<40} {c.get('model', '?')} on {c.get('data', '?')}, {done}")


@app.command()
@friendly
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
    devices: Annotated[int | None, typer.Option(help="processes per machine (CPU) for DDP")] = None,
    num_nodes: Annotated[int | None, typer.Option(help="machines for multi-node DDP (docs/scaling.md)")] = None,
    strategy: Annotated[str | None, typer.Option(help="auto, ddp or ddp_spawn")] = None,
    out: Annotated[str | None, typer.Option(help="run folder (default runs/<model>-<data>-<time>)")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of options")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value, e.g. model.latent_dim=16")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue this run folder exactly")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="train into an --out folder that holds other "
                                            "files (never over a resumable run)")] = False,
) -> None:
    """Train MODEL on a dataset and write a run folder (config, metrics, checkpoints, model, samples, report)."""
    flags = {"model": model, "data": data, "epochs": epochs, "max_time": max_time, "max_steps": max_steps,
             "batch_size": batch_size, "lr": lr, "seed": seed, "precision": precision, "devices": devices,
             "num_nodes": num_nodes, "strategy": strategy, "out": out, "quiet": quiet or None,
             "overwrite": overwrite or None}
    cfg = train_config(flags, config=config, sets=set_ or [], resume=resume)
    from genlab.training.run import train as run_train

    command = "genlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_train(cfg, resume=resume is not None, command=command)
    typer.echo(f"run folder: {result.run_dir}")
    for k, v in sorted(result.metrics.items()):
        typer.echo(f"  {k} = {v:.4f}")
    typer.echo(f"report: {result.run_dir / 'report.md'}")


def _generative(model, run: Path):
    """``model`` if it draws samples (``Generative``), else a ``ConfigError`` saying which runs do."""
    from genlab.errors import ConfigError
    from genlab.models.base import Generative

    if not isinstance(model, Generative):
        raise ConfigError(f"{run} holds {type(model).__name__}, which draws no samples: sample or evaluate "
                          f"samples of a generative model's run (genlab list)")
    return model


@app.command()
@friendly
def sample(
    run: Annotated[Path, typer.Argument(help="run folder (or a model folder)")],
    n: Annotated[int, typer.Option(help="number of samples")] = 64,
    seed: Annotated[int, typer.Option()] = 0,
    sampler: Annotated[str | None, typer.Option(help="diffusion sampler: ddpm or ddim")] = None,
    steps: Annotated[int | None, typer.Option(help="diffusion sampling steps")] = None,
    eta: Annotated[float | None, typer.Option(
        help="DDIM eta: 0 = deterministic (default), 1 = DDPM-like noise (better FID on small models)")] = None,
    y: Annotated[int | None, typer.Option("--y", help="class label of a conditional model's samples")] = None,
    out: Annotated[Path | None, typer.Option(help="output path (default RUN/samples/sample-<time>.png)")] = None,
) -> None:
    """Draw samples from a trained model into a file (image grid or 2-D scatter PNG, as the model renders them)."""
    import time

    import torch

    from genlab.errors import ConfigError
    from genlab.rundir import RunDir

    if n < 1:
        raise ConfigError(f"--n must be ≥ 1, got {n}")
    model = _generative(load_run_model(run), run)
    extra = model.check_sample_options({"sampler": sampler, "steps": steps, "eta": eta, "y": y})
    t0 = time.perf_counter()
    x = model.sample(n, generator=torch.Generator().manual_seed(seed), **extra)
    dt = time.perf_counter() - t0
    written = model.renderer().write(x, out or RunDir(run).new_samples())
    typer.echo(f"{n} samples in {dt:.2f} s ({dt / n * 1000:.1f} ms each) → {written}")


@app.command("eval")
@friendly
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
    from genlab.evaluation import evaluate, parse_metrics
    from genlab.rundir import RunDir

    names = parse_metrics(metrics)
    folder = RunDir(run)
    data = folder.dataset(data)
    model = load_run_model(run)
    sampling = {"sampler": sampler, "steps": steps, "eta": eta}
    given = any(v is not None for v in sampling.values())
    extra = _generative(model, run).check_sample_options(sampling) if given else {}
    options = {"sample_kwargs": extra} if extra else {}
    result = evaluate(model, data, names, k=k, terms=terms, n=n, limit=limit, seed=seed, progress=True, **options)
    echo_figures("", result)
    typer.echo(f"written to {folder.write_eval(result)}")


@app.command()
@friendly
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
