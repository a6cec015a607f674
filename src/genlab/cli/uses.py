"""The uses of autoencoders (AE6) as ``genlab`` commands, each printing a measured figure:

    genlab embed RUN [--out PNG]              dimensionality reduction and retrieval: kNN accuracy of
                                              the codes vs PCA vs pixels, precision@10, a 2-D scatter
    genlab denoise RUN [--sigma S]            image denoising: PSNR of noisy vs denoised test images
    genlab anomaly --model ae --digit 7       anomaly detection: train without digit 7, then the AUROC
    genlab anomaly RUN                        of its reconstruction error (−ELBO for VAEs), 7 vs rest

The figures also go to ``RUN/eval.json`` under ``embed``/``retrieval``, ``denoise`` and ``anomaly``.
The commands register on ``genlab.cli.main.app``; like it, this module imports no torch until a
command runs (``genlab --help`` stays fast).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from genlab.cli.app import app, echo_figures, friendly, load_run_model, train_config
from genlab.rundir import RunDir


# --- helpers ------------------------------------------------------------------------------------
def _labelled(name: str, split: str, limit: int | None, options: dict | None = None):
    """``(x, y)`` of a labelled split (the dataset loaded with ``options``), the first ``limit`` examples;
    dynamically binarized data is drawn once with a fixed seed (as ``genlab eval`` does)."""
    import torch

    from genlab.data import load
    from genlab.errors import ConfigError

    data = load(name, split=split, **(options or {}))
    if data.y is None:
        raise ConfigError(f"dataset {name!r} has no labels: this command needs a labelled dataset such as "
                          f"mnist or digits (--data NAME)")
    x, y = data.x[:limit], data.y[:limit]
    if data.binarize == "dynamic":
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(0))
    return x, y


def _require_unconditional_encoder(model, run: Path) -> None:
    from genlab.errors import ConfigError
    from genlab.models.base import Encodes

    name = type(model).__name__
    if not isinstance(model, Encodes):
        raise ConfigError(f"{run} holds {name}, which has no encoder: embed an autoencoder or VAE run "
                          f"(genlab train ae|vae ...)")
    if model.code_needs_label:
        raise ConfigError(f"{name}'s code depends on the label (q(z|x, y)), so it cannot be compared "
                          f"without labels: embed an unconditional model (ae, vae, ...)")


# --- commands -----------------------------------------------------------------------------------
@app.command()
@friendly
def embed(
    run: Annotated[Path, typer.Argument(help="run folder of an autoencoder or VAE")],
    out: Annotated[Path | None, typer.Option(help="scatter PNG (default RUN/embed.png)")] = None,
    data: Annotated[str | None, typer.Option(help="labelled dataset (default: the run's)")] = None,
    n_reference: Annotated[int, typer.Option(help="training examples used as the kNN reference")] = 10000,
    n_query: Annotated[int, typer.Option(help="test examples used as queries")] = 10000,
    neighbors: Annotated[int, typer.Option(help="k of the kNN classifier")] = 5,
    k: Annotated[int, typer.Option(help="k of precision@k")] = 10,
) -> None:
    """Dimensionality reduction and retrieval (AE6): kNN accuracy in code vs PCA vs pixel space, precision@k."""
    from genlab.errors import ConfigError
    from genlab.evaluation.uses import embed as embed_codes
    from genlab.evaluation.uses import retrieval_precision

    if min(neighbors, k, n_reference, n_query) < 1:
        raise ConfigError("--neighbors, --k, --n-reference and --n-query must be ≥ 1")
    model = load_run_model(run)
    _require_unconditional_encoder(model, run)
    options, name = RunDir(run).data_options(data), RunDir(run).dataset(data)
    x_ref, y_ref = _labelled(name, "train", n_reference, options)
    x_q, y_q = _labelled(name, "test", n_query, options)
    out = out or run / "embed.png"
    emb = embed_codes(model, x_ref, y_ref, x_q, y_q, out_png=out, n_neighbors=neighbors)
    ret = retrieval_precision(model, x_ref, y_ref, x_q, y_q, k=k)
    echo_figures(f"kNN accuracy (k={neighbors}, {len(x_ref)} {name} train → {len(x_q)} test), "
                  f"code dim {emb['code_dim']}:", {f"knn_{s}": emb[f"knn_{s}"] for s in ("code", "pca", "pixel")})
    echo_figures(f"precision@{k} (same-label neighbours):",
                  {f"precision_{s}": ret[f"precision_{s}"] for s in ("code", "pixel")})
    path = RunDir(run).write_eval({"embed": {**emb, "data": name, "png": str(out)}, "retrieval": {**ret, "data": name}})
    typer.echo(f"scatter: {out}\nwritten to {path}")


@app.command()
@friendly
def denoise(
    run: Annotated[Path, typer.Argument(help="run folder of a denoising autoencoder")],
    sigma: Annotated[float | None, typer.Option(help="std of the Gaussian noise (default: the model's)")] = None,
    limit: Annotated[int | None, typer.Option(help="use the first N test images")] = None,
    data: Annotated[str | None, typer.Option(help="dataset (default: the run's)")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[Path | None, typer.Option(help="grid PNG: clean / noisy / denoised (default RUN/denoise.png)")]
    = None,
) -> None:
    """Image denoising (AE6): PSNR of x + σε and of its reconstruction against the clean test images."""
    import torch

    from genlab.errors import ConfigError
    from genlab.evaluation.uses import denoising_psnr
    from genlab.models.autoencoders import DenoisingAE

    model = load_run_model(run)
    if not isinstance(model, DenoisingAE):
        raise ConfigError(f"{run} holds {type(model).__name__}, not a denoising autoencoder: train one with "
                          f"`genlab train denoising-ae --data mnist`, then run `genlab denoise RUN`")
    if sigma is None:
        if model.config.corruption != "gaussian":
            raise ConfigError(f"this model was trained with {model.config.corruption} corruption; denoise "
                              f"adds Gaussian noise: pass --sigma S")
        sigma = model.config.noise_std
    if sigma <= 0:
        raise ConfigError(f"--sigma must be > 0, got {sigma}")
    options, name = RunDir(run).data_options(data), RunDir(run).dataset(data)
    from genlab.data import load

    x = load(name, split="test", **options).x[:limit]
    out = out or run / "denoise.png"
    r = denoising_psnr(model, x, sigma, generator=torch.Generator().manual_seed(seed), out_png=out)
    echo_figures(f"PSNR against the clean images (σ = {sigma}, {r['n']} {name} test images):",
                  {"psnr_noisy_db": r["psnr_noisy"], "psnr_denoised_db": r["psnr_denoised"],
                   "gain_db": r["psnr_denoised"] - r["psnr_noisy"]})
    path = RunDir(run).write_eval({"denoise": {**r, "data": name, "png": str(out)}})
    typer.echo(f"grid: {out}\nwritten to {path}")


@app.command()
@friendly
def anomaly(
    run: Annotated[Path | None, typer.Argument(help="score this run (trained with exclude_labels) instead "
                                                    "of training one")] = None,
    digit: Annotated[int | None, typer.Option(help="the label left out of training: the anomaly")] = None,
    model: Annotated[str, typer.Option(help="model to train (see `genlab list`)")] = "ae",
    data: Annotated[str | None, typer.Option(help="labelled dataset (default: the model's)")] = None,
    epochs: Annotated[int | None, typer.Option(help="passes over the training data")] = None,
    max_time: Annotated[str | None, typer.Option(help="wall-clock limit, e.g. 2m, 90s")] = None,
    max_steps: Annotated[int | None, typer.Option(help="stop after this many steps")] = None,
    batch_size: Annotated[int | None, typer.Option()] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    out: Annotated[str | None, typer.Option(help="run folder (default runs/<model>-<data>-<time>)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value, e.g. model.code_dim=16")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Anomaly detection (AE6): train MODEL without one digit; AUROC of that digit vs the rest (test split).

    The anomaly score is the reconstruction error (−ELBO for VAEs). With RUN, score that run instead."""
    from genlab.errors import ConfigError

    if run is not None:
        if set_ or any(v is not None for v in (epochs, max_time, max_steps, batch_size, lr, seed, out)):
            raise ConfigError("RUN is scored as it is: drop the training options, or drop RUN to train anew")
        trained, digit, name = _trained_without_digit(run, digit)
    else:
        if digit is None:
            raise ConfigError("name the anomaly: genlab anomaly --model ae --digit 7")
        flags = {"model": model, "data": data, "epochs": epochs, "max_time": max_time, "max_steps": max_steps,
                 "batch_size": batch_size, "lr": lr, "seed": seed, "out": out, "quiet": quiet or None}
        run, trained, name = _train_without_digit(flags, set_ or [], digit)
    _score_anomaly(run, trained, name, digit)


def _trained_without_digit(run: Path, digit: int | None):
    """The model of an existing run and the digit it was trained without."""
    from genlab.errors import ConfigError

    cfg = RunDir(run).read_config()
    left_out = list(cfg.get("exclude_labels") or [])
    if digit is None:
        if len(left_out) != 1:
            raise ConfigError(f"{run} was not trained without exactly one label (exclude_labels: {left_out}): "
                              f"pass --digit D")
        digit = left_out[0]
    return load_run_model(run), digit, RunDir(run).dataset()


def _train_without_digit(flags: dict[str, Any], sets: list[str], digit: int):
    """Train through the spine (``genlab.training.train``) with ``exclude_labels=[digit]``."""
    cfg = train_config(flags, sets=[*sets, f"exclude_labels=[{digit}]"])
    from genlab.training.run import train as run_train

    result = run_train(cfg, command="genlab " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    typer.echo(f"run folder: {result.run_dir} (trained without label {digit})")
    return result.run_dir, result.model, cfg.data


def _score_anomaly(run: Path, model, name: str, digit: int) -> None:
    from genlab.evaluation.uses import anomaly_auroc

    x, y = _labelled(name, "test", None, RunDir(run).data_options())
    r = anomaly_auroc(model, x, y == digit)
    echo_figures(f"anomaly detection, label {digit} vs the rest ({name} test split), score = {r['score']}:",
                  {"auroc": r["auroc"], "n_anomalies": r["n_anomalies"], "n_normal": r["n_normal"]})
    path = RunDir(run).write_eval({"anomaly": {**r, "digit": digit, "data": name}})
    typer.echo(f"written to {path}")
