"""The ``genlab`` Typer app and what its commands share: one-line user errors, loading a run's model.

``cli.main`` (list, train, sample, eval, demo) and ``cli.uses`` (embed, denoise, anomaly) register
their commands on ``app``; neither imports the other's commands, so there is no import circle.
Imports stay lazy: ``genlab --help`` and ``genlab list`` import no torch.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    name="genlab", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Models of a deep-learning course, from their equations: train, sample, evaluate.",
)


def friendly(fn):
    """Turn genlab's user errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from genlab.errors import GenlabError, TrainingInterrupted

        try:
            return fn(*args, **kwargs)
        except TrainingInterrupted as e:
            typer.echo(f"interrupted: {e}", err=True)
            raise typer.Exit(e.exit_code) from None
        except GenlabError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
        except OSError as e:  # an unwritable or missing path, a full disk: what was written before is intact
            where = f" {e.filename}" if e.filename else ""
            typer.echo(f"error: cannot write or read{where}: {e.strerror or e}; choose another path", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: the last checkpoint is intact; continue with --resume RUN", err=True)
            raise typer.Exit(130) from None

    return wrapper


def load_run_model(run: Path):
    """The trained model of a run folder (or of a bare model folder); a note on stderr when the run has not
    finished (its ``model/`` is from the last validation or the stop)."""
    from genlab.rundir import RunDir

    folder = RunDir(run)
    model = folder.load_model()
    progress = folder.read_model_progress()
    if progress is not None and not progress.get("finished", True):
        typer.echo(f"note: {run} has not finished: its model is from iteration {progress['iteration']}; "
                   f"genlab train --resume {run} continues it", err=True)
    return model


def echo_figures(title: str, figures: dict) -> None:
    if title:
        typer.echo(title)
    for key, v in figures.items():
        typer.echo(f"  {key} = {v:.4f}" if isinstance(v, float) else f"  {key} = {v}")


def train_config(flags: dict[str, Any], *, config: Path | None = None, sets: list[str] = (),
                 resume: Path | None = None):
    """The ``TrainConfig`` that `genlab train` runs: YAML file < flags < ``--set`` (or a run's own config
    for ``--resume``), completed with the model's defaults exactly as ``genlab.training.train`` does."""
    from genlab.errors import ConfigError
    from genlab.training.config import complete, parse_set, read_yaml, resolve

    flags = {k: v for k, v in flags.items() if v is not None}
    layer = parse_set(list(sets))
    file_layer = read_yaml(config) if config else {}
    if resume is not None:
        from genlab.training.run import resume_config

        if "model" in flags:
            raise ConfigError("--resume continues a run with its own model: drop the MODEL argument")
        cfg = resume_config(resume, file_layer, flags, layer)  # the file's options count as flags do
    else:
        if "model" not in flags and "model" not in file_layer:
            where = f" or a line `model: NAME` in {config}" + (" (it is empty)" if not file_layer else "") \
                if config else ""
            raise ConfigError(f"name a model: genlab train MODEL{where} (see `genlab list`)")
        cfg = resolve(file_layer, flags, layer)
    cfg = complete(cfg)  # unknown model names fail here, before Lightning is imported
    from genlab.data.options import check_options
    from genlab.data.registry import info as dataset_info

    check_options(cfg.data, dataset_info(cfg.data).options, cfg.data_options)  # unknown names and options too
    return cfg
