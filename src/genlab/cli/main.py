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

#: genlab's training defaults below the registry rows' ``train_defaults`` (``training.config.DEFAULTS``, which a
#: test holds equal; importing it here would import Lightning into `genlab list`)
GENLAB_TRAIN_DEFAULTS = {"batch_size": 128, "lr": 1e-3, "grad_clip": 0.0, "ema_decay": 0.0, "num_samples": 64}


def _describe_train_defaults(defaults: dict) -> str:
    """``{"lr": 2e-4, "ema_decay": 0.999}`` → ``"lr 0.0002, EMA 0.999"`` (0 reads "off")."""
    names = {"batch_size": "batch size {}", "lr": "lr {}", "ema_decay": "EMA {}", "grad_clip": "grad clip {}",
             "num_samples": "{} samples"}
    parts = []
    for key in names:
        if key in defaults:
            v = defaults[key]
            parts.append(names[key].format("off" if v == 0 and key in ("ema_decay", "grad_clip") else f"{v:g}"))
    return ", ".join(parts)


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
    typer.echo("\nTraining defaults (--batch-size, --lr, --ema-decay, --grad-clip, --num-samples; flags and "
               "--set win):")
    groups: dict[str, list[str]] = {}
    for e in MODELS.values():
        if e.train_defaults:
            groups.setdefault(_describe_train_defaults(e.train_defaults), []).append(e.name)
    rows = [("every model", _describe_train_defaults(GENLAB_TRAIN_DEFAULTS) + ", except"),
            *((", ".join(names), text) for text, names in groups.items())]
    width = max(len(r[0]) for r in rows)
    for who, text in rows:
        typer.echo(f"  {who:<{width}}  {text}")
    typer.echo("\nDatasets (--data NAME; options: --set data.OPTION=VALUE; `genlab train MODEL --data NAME --help` "
               "describes them):")
    table = [("name", "kind", "shape", "size", "options")] + [
        (d.name, d.kind, "(D,)" if d.shape == (-1,) else str(d.shape), f"{d.size:,}" if d.size else "the file's",
         ", ".join(o.name for o in d.options) or "-") for d in datasets()]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for i, row in enumerate(table):
        typer.echo("  " + "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=True)).rstrip())
        if i:  # where it comes from on a line of its own: long sources no longer run into the licence
            d = datasets()[i - 1]
            typer.echo(f"  {'':<{widths[0]}}  from {d.source}; licence: {d.licence}")
    _list_runs(runs)


def _list_runs(root: Path) -> None:
    """The runs under ``root``: model, data, iterations, training time, headline metric (``genlab.runs``)."""
    from genlab.runs import duration, figure, find_runs, read_run

    found = [read_run(p) for p in find_runs(root)]
    if not found:
        return
    typer.echo(f"\nRuns ({root}/; compare them with `genlab compare RUN RUN ...`):")
    table = [("run", "model", "data", "iterations", "time", "headline", "status")] + [
        (r.path.name, r.model, r.data, f"{r.iterations:,}" if r.iterations is not None else "?", duration(r.seconds),
         f"{r.headline[0]} {figure(r.headline[1])}" if r.headline else "-",
         "finished" if r.finished else ("model saved" if (r.path / "model" / "config.json").is_file() else
                                        "no model yet"))
        for r in found]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        typer.echo("  " + "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=True)).rstrip())


@app.command()
@friendly
def compare(
    runs: Annotated[list[Path], typer.Argument(help="run folders (two or more; a folder of runs counts as its runs)",
                                               show_default=False)],
    out: Annotated[Path, typer.Option(help="the picture of their curves overlaid (.png, .svg, .pdf, .jpg)")]
    = Path("compare.png"),
) -> None:
    """Compare runs: a table of their final metrics (validation; test where `genlab eval` ran) and one picture of
    their curves overlaid, panel by panel."""
    from genlab.errors import ConfigError
    from genlab.runs import find_runs, read_run

    folders = [p for r in runs for p in (find_runs(r) or [r])]
    missing = [str(p) for p in folders if not (p / "config.yaml").is_file()]
    if missing:
        raise ConfigError(f"not a run folder (no config.yaml): {', '.join(missing)}; see `genlab list` for runs")
    if len(folders) < 2:
        raise ConfigError("name two or more run folders to compare (genlab compare RUN RUN ...)")
    from genlab.plots import FIGURE_FORMATS, file_format

    file_format(out, FIGURE_FORMATS, "the comparison")  # a bad suffix fails before anything is read
    infos = [read_run(p) for p in folders]
    typer.echo(_compare_table(infos))
    path = _compare_curves(infos, out)
    typer.echo(f"curves: {path}" if path else "curves: none (no run has metrics.csv)")


def _labels(paths: list[Path]) -> list[str]:
    """Short distinct labels of run folders: their names, or their paths where two names are the same."""
    names = [p.name for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def _compare_table(infos) -> str:
    from genlab.runs import duration, figure

    labels = _labels([r.path for r in infos])
    keys = sorted({k for r in infos for k in r.metrics}, key=lambda k: (not k.startswith("test/"), k))
    header = [("", *labels), ("model", *(r.model for r in infos)), ("data", *(r.data for r in infos)),
              ("iterations", *(f"{r.iterations:,}" if r.iterations is not None else "?" for r in infos)),
              ("time", *(duration(r.seconds) for r in infos)),
              ("headline", *(f"{r.headline[0]} {figure(r.headline[1])}" if r.headline else "-" for r in infos))]
    body = [(k, *(figure(r.metrics[k]) if k in r.metrics else "-" for r in infos)) for k in keys]
    table = header + body
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(f"{cell:<{w}}" if i == 0 else f"{cell:>{w}}" for i, (cell, w) in
                               enumerate(zip(row, widths, strict=True))).rstrip() for row in table)


def _compare_curves(infos, out: Path):
    """``out``: the panels of every run (the union, in the order the runs declare them), each run one colour."""
    from genlab.panels import draw
    from genlab.rundir import RunDir
    from genlab.runs import read_rows

    panels = list(dict.fromkeys(p for r in infos for p in r.panels))
    series = [(label, read_rows(RunDir(r.path))) for label, r in zip(_labels([r.path for r in infos]), infos,
                                                                     strict=True)]
    return draw(series, panels, out, title="  vs  ".join(label for label, _ in series))


#: the help's default of an option that the model's registry row sets (training.config.complete)
MODELS_DEFAULT = "the model's, see genlab list"
#: what --max-time counts: Lightning's max_time (its Timer callback, checked after each training call)
MAX_TIME_HELP = ("wall-clock limit of the training loop (Lightning's max_time), e.g. 10m, 90s, 1h30m: counted from "
                 "the first step, validation and sample grids during training included, and checked every "
                 "steps_per_call steps (on --resume, the time trained before counts too); loading the data "
                 "before it and the final validation, the model save and the report after it are not counted")


@app.command(context_settings={"help_option_names": []})  # --help is ours: with MODEL it lists the model's options
@friendly
def train(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="model name (see `genlab list`)", show_default=False)] = None,
    data: Annotated[str | None, typer.Option(help="dataset name (see `genlab list`)",
                                             show_default=MODELS_DEFAULT)] = None,
    epochs: Annotated[int | None, typer.Option(help="passes over the training data (-1: no limit)",
                                               show_default="10, or no limit with --max-time alone")] = None,
    max_time: Annotated[str | None, typer.Option(help=MAX_TIME_HELP, show_default="no limit")] = None,
    max_steps: Annotated[int | None, typer.Option(help="stop after this many optimizer steps",
                                                  show_default="no limit")] = None,
    batch_size: Annotated[int | None, typer.Option(help="examples per optimizer step (per process under DDP)",
                                                   show_default=MODELS_DEFAULT)] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate", show_default=MODELS_DEFAULT)] = None,
    ema_decay: Annotated[float | None, typer.Option(help="decay of the average of the weights that is saved "
                                                         "(0: off)", show_default=MODELS_DEFAULT)] = None,
    grad_clip: Annotated[float | None, typer.Option(help="clip the gradient norm to this value (0: off)",
                                                    show_default=MODELS_DEFAULT)] = None,
    num_samples: Annotated[int | None, typer.Option(help="samples drawn into samples/ each epoch (0: none)",
                                                    show_default=MODELS_DEFAULT)] = None,
    seed: Annotated[int | None, typer.Option(show_default="0")] = None,
    precision: Annotated[str | None, typer.Option(help="32 or bf16-mixed", show_default="32")] = None,
    devices: Annotated[int | None, typer.Option(help="processes per machine (CPU) for DDP; more than the machine's "
                                                     "cores is allowed but slower (a warning says so)",
                                                show_default="1")] = None,
    num_nodes: Annotated[int | None, typer.Option(help="machines for multi-node DDP (docs/scaling.md)",
                                                  show_default="1")] = None,
    strategy: Annotated[str | None, typer.Option(help="auto, ddp or ddp_spawn", show_default="auto")] = None,
    out: Annotated[str | None, typer.Option(help="run folder", show_default="runs/<model>-<data>-<time>")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of options (flags and --set win over it)",
                                                show_default="none")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value, e.g. model.latent_dim=16",
                                                   show_default="none")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue this run folder exactly",
                                                show_default="none")] = None,
    logger: Annotated[str | None, typer.Option(help="csv (metrics.csv), tensorboard (RUN/tensorboard/) or both",
                                               show_default="both")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar", show_default="off")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="train into an --out folder that holds other "
                                            "files (never over a resumable run)", show_default="off")] = False,
    print_config: Annotated[bool, typer.Option("--print-config", help="print the resolved config as YAML (defaults < "
                                               "model < --config < flags < --set) and exit; creates nothing",
                                               show_default="off")] = False,
    help_: Annotated[bool, typer.Option("--help", "-h", help="show this message; with MODEL, also every option of the "
                                        "model and its dataset (--set model.NAME=VALUE, --set data.NAME=VALUE)",
                                        show_default="off")] = False,
) -> None:
    """Train MODEL on a dataset and write a run folder (config, metrics, checkpoints, model, samples, report).

    `genlab train MODEL --help` lists the model's own options; `--print-config` shows what a run would use."""
    if help_:
        typer.echo(ctx.get_help())
        if model is not None:
            from genlab.cli.options_help import model_help

            typer.echo("\n" + model_help(model, data))
        raise typer.Exit(0)
    flags = {"model": model, "data": data, "epochs": epochs, "max_time": max_time, "max_steps": max_steps,
             "batch_size": batch_size, "lr": lr, "ema_decay": ema_decay, "grad_clip": grad_clip,
             "num_samples": num_samples, "seed": seed, "precision": precision, "devices": devices,
             "num_nodes": num_nodes, "strategy": strategy, "out": out, "logger": logger, "quiet": quiet or None,
             "overwrite": overwrite or None}
    cfg = train_config(flags, config=config, sets=set_ or [], resume=resume)
    if print_config:
        from genlab.cli.options_help import resolved_yaml

        typer.echo(resolved_yaml(cfg), nl=False)
        return
    _warn_oversubscribed(cfg.devices)
    from genlab.training.run import train as run_train

    command = "genlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_train(cfg, resume=resume is not None, command=command)
    typer.echo(f"run folder: {result.run_dir}")
    for k, v in sorted(result.metrics.items()):
        typer.echo(f"  {k} = {v:.4f}")
    typer.echo(f"report: {result.run_dir / 'report.md'}")


def _warn_oversubscribed(devices: int) -> None:
    """A warning on stderr when ``devices`` processes outnumber the machine's cores (``os.cpu_count()``)."""
    import os

    cores = os.cpu_count() or 1
    if devices > cores:
        typer.echo(f"warning: --devices {devices} starts {devices} processes on {cores} core"
                   f"{'s' if cores > 1 else ''}: each process gets fewer than one core and the run slows down; "
                   f"pass --devices {cores}", err=True)


def _generative(model, run: Path):
    """``model`` if it draws samples (``Generative``), else a ``ConfigError`` saying which runs do."""
    from genlab.errors import ConfigError
    from genlab.models.base import Generative

    if not isinstance(model, Generative):
        raise ConfigError(f"{run} holds {type(model).__name__}, which draws no samples: sample or evaluate "
                          f"samples of a generative model's run (genlab list)")
    return model


def _predict_test(model, run: Path, n: int, seed: int, out: Path | None) -> None:
    """``genlab sample`` of a model that predicts (``Predicts``: pix2pix, a QA model): ``n`` random test examples
    of the run's dataset (seeded), each as its inputs, the model's ``output`` and the ``truth``, written by the
    model's renderer (an image grid of (source, output, truth) rows, a text file of stories and answers)."""
    import time

    import torch

    from genlab.data import load
    from genlab.evaluation.metrics import outputs_all
    from genlab.render import caption
    from genlab.rundir import RunDir

    folder = RunDir(run)
    renderer = model.renderer()
    if out is not None and out.is_dir():
        out = folder.new_samples(out, suffix=renderer.suffix)
    target = renderer.check(out) if out is not None else folder.new_samples(suffix=renderer.suffix)
    test = model.prepare(load(folder.dataset(None), split="test", **folder.data_options()))
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    examples = test.subset(pick)
    t0 = time.perf_counter()
    output = outputs_all(model, examples, seed=seed)
    dt = time.perf_counter() - t0
    fields = {**model.inputs_of(examples.fields), "output": output, "truth": examples.fields[model.target]}
    written = renderer.write(fields, target, title=caption(folder, type(model).__name__, f"test examples, seed {seed}"))
    typer.echo(f"{len(pick)} test examples in {dt:.2f} s ({dt / len(pick) * 1000:.1f} ms each); "
               f"({', '.join(fields)}) of each → {written}")


def _validation_split(run: Path):
    """The validation split of the run's dataset with the run's options (``TensorData``), or None for a bare model
    folder or data that cannot be loaded here (a note on stderr: the picture is drawn without it)."""
    from genlab.data import load
    from genlab.errors import GenlabError
    from genlab.rundir import RunDir

    folder = RunDir(run)
    if not folder.config_yaml.is_file():
        return None
    try:
        return load(folder.dataset(None), split="val", **folder.data_options())
    except GenlabError as e:
        typer.echo(f"note: drawn without the data behind it ({e})", err=True)
        return None


def _transduce_inputs(model, run: Path, args: list[str], out: Path | None) -> None:
    """``genlab sample RUN --input TEXT [--input TEXT ...] [--beam K]`` of a sequence-to-sequence model: each input's
    output printed, and the attention maps written (``RUN/samples/`` or ``--out``)."""
    import torch

    from genlab.errors import ConfigError
    from genlab.rundir import RunDir

    inputs, beam, i = [], 1, 0
    while i < len(args):
        flag, _, value = args[i].partition("=")
        if flag not in ("--input", "--beam"):
            raise ConfigError(f"unexpected argument {args[i]!r}: {type(model).__name__} takes --input TEXT (one per "
                              f"input, repeatable) and --beam K")
        if not _:
            if i + 1 >= len(args):
                raise ConfigError(f"{flag} needs a value: {flag} VALUE")
            value, i = args[i + 1], i + 1
        if flag == "--beam":
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"--beam must be a whole number ≥ 1 (1: greedy), got {value!r}")
            beam = int(value)
        else:
            inputs.append(value)
        i += 1
    if not inputs:
        raise ConfigError("give the texts to transduce with --input TEXT (repeatable)")
    source = model.source_ids(inputs)  # refuses unknown symbols, naming them
    outputs = model.transduce(source, beam=beam)
    for text, ids in zip(inputs, outputs, strict=True):
        typer.echo(f"{text} → {model.output_text(ids)}")
    renderer = model.renderer()
    target = renderer.check(out) if out is not None else RunDir(run).new_samples(suffix=renderer.suffix)
    padded = torch.zeros(len(outputs), max(1, *map(len, outputs)), dtype=torch.int64)  # (B, T), 0 = <pad>
    for r, ids in enumerate(outputs):
        padded[r, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
    typer.echo(f"attention maps → {renderer.write({'source': source, 'output': padded}, target)}")


def parse_sample_options(model, args: list[str]) -> dict:
    """``--name value`` pairs after the known flags (``--prompt "And God said" --tokens 300 --top-p 0.9``) as the
    model's own sample options: names checked against its ``sample_options``, values converted to the types its
    ``sample`` declares (``config.coerce``); one-line ``ConfigError`` for anything else."""
    import typing

    from genlab.config import coerce
    from genlab.errors import ConfigError

    options, i = {}, 0
    while i < len(args):
        flag = args[i]
        if not flag.startswith("--") or len(flag) < 3:
            raise ConfigError(f"unexpected argument {flag!r}: sample options are given as --name value")
        name, _, value = flag[2:].partition("=")
        name = name.replace("-", "_")
        if not _:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise ConfigError(f"--{name.replace('_', '-')} needs a value: --{name.replace('_', '-')} VALUE")
            value, i = args[i + 1], i + 1
        options[name] = value
        i += 1
    model.check_sample_options(options)  # names it does not take: one line naming the ones it does
    hints = typing.get_type_hints(type(model).sample)
    return {k: coerce(v, hints.get(k, str), k) for k, v in options.items()}


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@friendly
def sample(
    ctx: typer.Context,
    run: Annotated[Path, typer.Argument(help="run folder (or a model folder)")],
    n: Annotated[int, typer.Option(help="number of samples")] = 64,
    seed: Annotated[int, typer.Option()] = 0,
    sampler: Annotated[str | None, typer.Option(help="diffusion sampler: ddpm or ddim")] = None,
    steps: Annotated[int | None, typer.Option(help="diffusion sampling steps")] = None,
    eta: Annotated[float | None, typer.Option(
        help="DDIM eta: 0 = deterministic (default), 1 = DDPM-like noise (better FID on small models)")] = None,
    y: Annotated[int | None, typer.Option("--y", help="class label of a conditional model's samples")] = None,
    out: Annotated[Path | None, typer.Option(
        help="output file, written in the format its suffix names: .png or .jpg/.jpeg for an image grid; also "
             ".pdf, .svg for a 2-D scatter; .safetensors for other samples",
        show_default="RUN/samples/sample-<time>.png")] = None,
) -> None:
    """Draw samples from a trained model into a file (an image grid, a 2-D scatter, text, a table, as the model
    renders them; a predicting model (pix2pix, a QA model): its outputs for random test inputs, with the truth).

    A sequence-to-sequence model also reads your own inputs: --input "phonology" --input "genlab" [--beam 5]
    prints each output and draws the attention maps.

    A model's own sample options follow as --name value: a language model's --prompt "And God said" --tokens 300
    --temperature 0.8 --top-k 20 --top-p 0.9 (`genlab list` names each model; a wrong name lists the ones it takes)."""
    import time

    import torch

    from genlab.errors import ConfigError
    from genlab.models.base import Predicts, Transduces
    from genlab.render import Labels, caption
    from genlab.rundir import RunDir

    if n < 1:
        raise ConfigError(f"--n must be ≥ 1, got {n}")
    model = load_run_model(run)
    if isinstance(model, Predicts) and model.preview:  # its outputs for test inputs: (inputs, output, truth)
        if any(v is not None for v in (sampler, steps, eta, y)):
            raise ConfigError(f"{type(model).__name__} predicts from test examples: --sampler, --steps, --eta and "
                              f"--y do not apply; pass --n and --seed")
        if ctx.args and isinstance(model, Transduces):
            _transduce_inputs(model, run, ctx.args, out)
            return
        if ctx.args:
            raise ConfigError(f"{type(model).__name__} predicts from test examples: {' '.join(ctx.args)} does not "
                              f"apply; pass --n and --seed")
        _predict_test(model, run, n, seed, out)
        return
    model = _generative(model, run)
    extra = model.check_sample_options({"sampler": sampler, "steps": steps, "eta": eta, "y": y})
    extra.update(parse_sample_options(model, ctx.args))
    renderer = model.renderer()
    if out is not None and out.is_dir():  # a folder: a new file in it
        out = RunDir(run).new_samples(out, suffix=renderer.suffix)
    target = renderer.check(out) if out is not None else RunDir(run).new_samples(suffix=renderer.suffix)
    t0 = time.perf_counter()
    x, y = model.draw(n, generator=torch.Generator().manual_seed(seed), **extra)  # conditioned: a row per class
    dt = time.perf_counter() - t0
    count = n if y is None else len(y)
    from genlab.render import Scatter2D

    # the data behind a scatter's samples (and a toy's modes), the classes' names: from the run's validation split
    reference = _validation_split(run) if isinstance(renderer, Scatter2D) or y is not None else None
    written = renderer.write(x, target, labels=Labels.of(y, reference.meta.get("classes") if reference else None),
                             reference=renderer.reference_from(reference) if reference is not None else None,
                             title=caption(RunDir(run), type(model).__name__, f"seed {seed}"))
    typer.echo(f"{count} samples in {dt:.2f} s ({dt / count * 1000:.1f} ms each) → {written}")


def _data_sets(items: list[str]) -> dict:
    """``--set data.NAME=VALUE`` items → ``{NAME: VALUE}``; any other key is an error."""
    from genlab.errors import ConfigError
    from genlab.training.config import parse_set

    for item in items:
        if not item.strip().startswith("data."):
            raise ConfigError(f"genlab eval --set takes data options only (data.NAME=VALUE), not {item!r}: the "
                              f"model's and the training's options are the run's own")
    return parse_set(items).get("data_options", {})


@app.command("eval")
@friendly
def eval_(
    run: Annotated[Path, typer.Argument(help="run folder")],
    metrics: Annotated[str | None, typer.Option(
        help="comma-separated: elbo, nll, bpd, fid, coverage, accuracy, f1 (macro), translation, wer (with per), "
             "loss; a language model's dynamic (adapting as it reads); a table model's samples: fidelity, utility, "
             "privacy",
        show_default="what the model declares: elbo for a latent-variable model (VAEs), bpd for a diffusion "
                     "bound, accuracy and f1 for a classifier, wer for a sequence-to-sequence model, else fid on "
                     "MNIST images / coverage on ring8, grid25")] = None,
    data: Annotated[str | None, typer.Option(help="dataset (default: the run's)")] = None,
    k: Annotated[int, typer.Option(help="importance samples for nll")] = 5000,
    terms: Annotated[int | None, typer.Option(
        help="bpd: denoising terms per example (ddpm; default 50, stratified) or time samples (vdm; default 1)",
    )] = None,
    n: Annotated[int | None, typer.Option(
        help="samples for fid/kid (as many test images; any n ≥ 2, KID's subsets: min(1000, n/2) images), coverage "
             "and the table metrics fidelity, utility, privacy (synthetic rows)",
        show_default="10000; the table metrics: as many as the training split")] = None,
    sampler: Annotated[str | None, typer.Option(help="diffusion sampler for fid/coverage: ddpm or ddim")] = None,
    steps: Annotated[int | None, typer.Option(help="diffusion sampling steps for fid/coverage")] = None,
    eta: Annotated[float | None, typer.Option(help="DDIM eta for fid/coverage (0 deterministic, 1 DDPM-like)")] = None,
    beam: Annotated[int, typer.Option(help="wer: beam search with this many hypotheses (1: greedy)")] = 1,
    length_penalty: Annotated[float, typer.Option(
        help="wer: beam search ranks its finished outputs by log p / ((5 + |y|)/6)^this (0: by log p)")] = 0.0,
    target: Annotated[str | None, typer.Option(help="utility: the column to predict", show_default=(
        "the dataset's target, else its last categorical column"))] = None,
    dynamic_lr: Annotated[float | None, typer.Option(
        help="dynamic: the step size of each update on the text just scored (choose it with --split val)",
        show_default="0.3, or 5e-4 with --dynamic-rms (kjv's validation text, a 2 × 768 LSTM)")] = None,
    dynamic_decay: Annotated[float, typer.Option(
        help="dynamic: the pull of each update back to the trained weights, in [0, 1]")] = 0.0,
    dynamic_rms: Annotated[int, typer.Option(
        help="dynamic: scale each weight's step by its gradient's RMS over this many training batches (0: plain SGD)",
    )] = 0,
    dynamic_lanes: Annotated[int, typer.Option(
        help="dynamic: lanes a recurrent model reads the split in, side by side, a step after each batch (1: one "
             "stream; other models: rows a batch holds); a row's length is the data's (--set data.block_size=512)",
    )] = 1,
    dynamic_ngram: Annotated[int, typer.Option(
        help="dynamic: mix each character's probability with an adaptive Kneser–Ney model of this order, fitted on "
             "the training text and refitted on the text read so far (0: none)")] = 0,
    dynamic_ngram_weight: Annotated[float, typer.Option(
        help="dynamic: the n-gram model's share of the mixture, in (0, 1) (choose it with --split val: eval.val.json "
             "holds the mixture at other weights too, dynamic_bits_by_weight)")] = 0.25,
    dynamic_ngram_refit: Annotated[int, typer.Option(
        help="dynamic: characters read between refits of the n-gram model")] = 20_000,
    split: Annotated[str, typer.Option(help="the split to evaluate on: test, or val to choose options")] = "test",
    limit: Annotated[int | None, typer.Option(help="evaluate on the first N test examples")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    set_: Annotated[list[str] | None, typer.Option("--set", help="data.NAME=VALUE: read the split with this data "
                                                   "option instead of the run's (e.g. data.block_size=512)",
                                                   show_default="none")] = None,
) -> None:
    """Evaluate a run's model on the test split (or --split val); results go to RUN/eval.json (RUN/eval.val.json),
    each metric as it completes."""
    from genlab.errors import GenlabError
    from genlab.evaluation import evaluate, parse_metrics
    from genlab.rundir import RunDir

    names = parse_metrics(metrics) if metrics is not None else None  # None: the model's default
    folder = RunDir(run)
    data_options = folder.data_options(data)  # the run's own options for its own dataset, else the defaults
    data_options.update(_data_sets(set_ or []))
    data = folder.dataset(data)
    model = load_run_model(run)
    sampling = {"sampler": sampler, "steps": steps, "eta": eta}
    given = any(v is not None for v in sampling.values())
    extra = _generative(model, run).check_sample_options(sampling) if given else {}
    options = {"sample_kwargs": extra} if extra else {}
    if n is not None:  # else each metric's own default
        options["n"] = n
    done: list[str] = []

    def keep(name: str, figures: dict) -> None:  # eval.json holds each metric as soon as it is computed
        folder.write_eval(figures, split)
        done.append(name)

    try:
        result = evaluate(model, data, names, k=k, terms=terms, beam=beam, length_penalty=length_penalty,
                          target=target, dynamic_lr=dynamic_lr, dynamic_decay=dynamic_decay,
                          dynamic_rms=dynamic_rms, dynamic_lanes=dynamic_lanes, dynamic_ngram=dynamic_ngram,
                          dynamic_ngram_weight=dynamic_ngram_weight, dynamic_ngram_refit=dynamic_ngram_refit,
                          split=split, limit=limit, seed=seed, progress=True, on_result=keep,
                          data_options=data_options, **options)
    except GenlabError as e:  # still one line: the error, and what eval.json kept
        if not done:
            raise
        kept = folder.eval_json_of(split)
        raise type(e)(f"{e} ({', '.join(done)}, computed before this error: kept in {kept})") from e
    if names is None:
        typer.echo(f"metrics: {', '.join(done)} ({type(model).__name__}'s default; choose with --metrics)")
    echo_figures("", result)
    typer.echo(f"written to {folder.eval_json_of(split)}")


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


from genlab.cli import forecasting as _forecasting  # noqa: E402, F401  (registers forecast: S1)
from genlab.cli import online as _online  # noqa: E402, F401  (registers online: F7)
from genlab.cli import preprocess as _preprocess  # noqa: E402, F401  (registers preprocess: P1–P3)
from genlab.cli import show as _show  # noqa: E402, F401  (registers gallery)
from genlab.cli import tables as _tables  # noqa: E402, F401  (registers inspect, fetch: P4)
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
