"""``genlab online``: batch vs online learning on a stream (F7), evaluated prequentially.

Three learners read the same stream chunk by chunk — genlab's ``OnlineClassifier`` updated on every chunk,
scikit-learn's ``SGDClassifier.partial_fit``, and the same genlab classifier trained once on the first
``--batch-chunks`` chunks (batch learning) — each predicting a chunk before learning from it
(``genlab.evaluation.online``). Writes ``OUT/prequential.csv`` and ``OUT/prequential.png`` and prints the mean
accuracy before and after the drift; ``OUT/model/`` keeps the online classifier as the stream left it
(``genlab.load(OUT/model)``, then ``update`` on new chunks continues it exactly). Imports stay lazy
(``genlab --help`` imports no torch, pandas or sklearn).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import app, friendly

STREAMS = ("sea", "digits")


@app.command()
@friendly
def online(
    out: Annotated[Path, typer.Option(help="folder for prequential.csv, prequential.png and model/ (the online "
                                               "classifier at the stream's end)")],
    stream: Annotated[str, typer.Option(
        help="sea (SEA concepts, θ 7 → 9.5 at the drift), digits (8×8 digits mirrored at the drift) or a CSV file")]
    = "sea",
    label: Annotated[str | None, typer.Option(help="the CSV's label column (its other columns: numeric features)")]
    = None,
    classes: Annotated[str | None, typer.Option(
        help="the CSV's label values, comma-separated", show_default="read from the label column first")] = None,
    categorical: Annotated[str | None, typer.Option(
        help="the CSV's categorical feature columns, comma-separated: one-hot over the values each holds (read in a "
             "first pass)", show_default="none: every feature numeric")] = None,
    chunk: Annotated[int, typer.Option(help="rows per chunk")] = 500,
    rows: Annotated[int, typer.Option(help="rows of a generated stream (sea, digits)")] = 20_000,
    drift_at: Annotated[float, typer.Option(help="where a generated stream drifts, as a share of its rows")] = 0.5,
    seed: Annotated[int, typer.Option()] = 0,
    batch_chunks: Annotated[int, typer.Option(help="chunks the batch model is trained on, once")] = 4,
) -> None:
    """Online vs batch learning on a drifting stream: prequential accuracy (test on each chunk, then train on it)
    of an online classifier, scikit-learn's SGDClassifier.partial_fit and a model trained once."""
    import math

    from genlab.errors import ConfigError

    if chunk < 1 or rows < 1 or batch_chunks < 1:
        raise ConfigError(f"--chunk, --rows and --batch-chunks must be ≥ 1, got {chunk}, {rows}, {batch_chunks}")
    import torch

    torch.set_num_threads(min(torch.get_num_threads(), 2))  # a logistic regression gains nothing from more

    from genlab.data.tabular import stream as streams
    from genlab.evaluation.online import default_learners, plot_prequential, prequential_all, write_prequential_csv

    if stream in STREAMS:
        if label is not None or classes is not None or categorical is not None:
            raise ConfigError(f"--label, --classes and --categorical are for a CSV stream; {stream!r} is generated")
        make = streams.sea_stream if stream == "sea" else streams.digits_stream
        s = make(rows, chunk, seed, drift_at=drift_at)
    elif stream.lower().endswith(".csv") or Path(stream).is_file():
        if label is None:
            raise ConfigError(f"name the label column of {stream} with --label COL")
        declared = None if classes is None else [c.strip() for c in classes.split(",") if c.strip()]
        columns = [c.strip() for c in (categorical or "").split(",") if c.strip()]
        categories = {c: streams.csv_classes(stream, c) for c in columns}  # each column's values, a first pass
        s = streams.csv_stream(stream, label, chunk, classes=declared, categories=categories)
    else:
        raise ConfigError(f"unknown stream {stream!r}: choose {', '.join(STREAMS)} or a CSV file (FILE.csv)")

    learners = default_learners(s.n_features, s.num_classes, seed=seed, batch_chunks=batch_chunks)
    results = prequential_all(learners, s)
    if len(results[0].sizes) <= batch_chunks:
        typer.echo(f"note: the stream has {len(results[0].sizes)} chunk(s), no more than --batch-chunks "
                   f"{batch_chunks}: the batch model never predicted", err=True)
    csv = write_prequential_csv(results, out / "prequential.csv")
    png = plot_prequential(results, out / "prequential.png", drift_rows=s.drift_rows,
                           title=f"prequential accuracy, {s.description}, chunks of {chunk}")

    def fmt(v: float) -> str:
        return "—" if math.isnan(v) else f"{v:.3f}"

    typer.echo(s.description)
    drift = s.drift_rows[0] if s.drift_rows else None
    width = max(len(r.name) for r in results)
    cols = (["before drift", "after drift"] if drift is not None else []) + ["overall", "seconds"]
    typer.echo(f"{'learner':<{width}}" + "".join(f"  {c:>12}" for c in cols))
    for r in results:
        cells = [fmt(r.mean_accuracy(0, drift)), fmt(r.mean_accuracy(drift))] if drift is not None else []
        cells += [fmt(r.mean_accuracy()), f"{r.seconds:.2f}"]
        typer.echo(f"{r.name:<{width}}" + "".join(f"  {c:>12}" for c in cells))
    model = learners[0].model.save_pretrained(out / "model")  # the online learner, ready to continue
    typer.echo(f"→ {csv}\n→ {png}\n→ {model}/ (genlab.load it, then .update(x, y) on new chunks)")
