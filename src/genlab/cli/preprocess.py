"""``genlab preprocess``: fit scikit-learn preprocessing on a training CSV and apply it unchanged to others (P1–P3).

    genlab preprocess TRAIN.csv --spec SPEC.yaml [--target COL] [--apply TEST.csv ...] --out DIR
    genlab preprocess --load DIR/preprocess --apply NEW.csv --out DIR2

The first form fits the spec's ``ColumnTransformer`` (``genlab.data.tabular.preprocess``) on TRAIN only, writes
DIR/train.csv and DIR/<name>.csv for each --apply file, transformed, and the fitted state to DIR/preprocess/
(JSON + safetensors, no pickle); the second applies a saved one. The target column is not transformed: it is
copied to the end of each output that has it. pandas and scikit-learn are imported inside the command only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import app, friendly

STATE = "preprocess"


def _read_csv(path: Path):
    import pandas as pd

    from genlab.errors import ConfigError

    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not a readable CSV file ({str(e).strip()}): check its format") from None


def _read_spec(path: Path) -> dict:
    import yaml

    from genlab.errors import ConfigError

    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML ({str(e).splitlines()[0]}): fix the spec") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{path} must hold a mapping such as 'onehot: [species]', got {type(spec).__name__}")
    return spec


def _write(frame, path: Path, target: str | None, source) -> None:
    from genlab.atomic import atomic_write_text

    if target is not None and target in source.columns:
        frame = frame.assign(**{target: source[target].to_numpy()})
    atomic_write_text(path, frame.to_csv(index=False))


def _outputs(apply: list[Path], out: Path, taken: set[str]) -> list[Path]:
    from genlab.errors import ConfigError

    names = []
    for path in apply:
        name = f"{path.stem}.csv"
        if name in taken:
            raise ConfigError(f"--apply {path} would be written to {out / name}, which another output takes: "
                              f"rename the file")
        taken.add(name)
        names.append(out / name)
    return names


@app.command()
@friendly
def preprocess(
    train: Annotated[Path | None, typer.Argument(help="the training CSV: the preprocessing is fitted on it only")]
    = None,
    spec: Annotated[Path | None, typer.Option(help="YAML: onehot, drop_first, ordinal, bins, binarize, scale, "
                                                   "passthrough (see genlab.data.tabular.preprocess)")] = None,
    target: Annotated[str | None, typer.Option(help="the target column: kept as is, used by tree binning")] = None,
    apply: Annotated[list[Path] | None, typer.Option(help="CSV files to transform with the fitted preprocessing "
                                                          "(repeat the option for several)")] = None,
    load: Annotated[Path | None, typer.Option(help="a saved preprocessing folder (DIR/preprocess) to apply "
                                                   "instead of fitting one")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("preprocessed"),
) -> None:
    """Fit preprocessing (one-hot/ordinal encoding, binning, binarization, scaling) on a training CSV, transform
    it and other CSVs with it, and save the fitted state; or apply a saved one (--load)."""
    from genlab.data.tabular.preprocess import column_pipeline, fit_frame, transform_frame
    from genlab.data.tabular.state import load_fitted, load_meta, save_fitted
    from genlab.errors import ConfigError

    apply = list(apply or [])
    if load is not None:
        if train is not None or spec is not None or target is not None:
            raise ConfigError("--load applies a saved preprocessing: give only --apply and --out with it, not "
                              "TRAIN, --spec or --target")
        if not apply:
            raise ConfigError("--load needs at least one --apply CSV to transform")
        fitted, target = load_fitted(load), load_meta(load).get("target")
        outputs = _outputs(apply, out, set())
    else:
        if train is None or spec is None:
            raise ConfigError("give the training CSV and --spec SPEC.yaml (or --load DIR/preprocess with --apply)")
        outputs = _outputs(apply, out, {"train.csv"})
        frame, settings = _read_csv(train), _read_spec(spec)
        if target is not None and target not in frame.columns:
            raise ConfigError(f"--target {target!r} is not a column of {train}; its columns: "
                              f"{', '.join(map(str, frame.columns))}")
        features = frame.drop(columns=[target]) if target is not None else frame
        if target is not None and target in {c for _, _, cs in column_pipeline(settings, frame.columns).transformers
                                             for c in cs}:
            raise ConfigError(f"the spec transforms the target column {target!r}: leave it out of the spec")
        fitted = fit_frame(column_pipeline(settings, features.columns), features,
                           None if target is None else frame[target])
        train_out = transform_frame(fitted, features)
        _write(train_out, out / "train.csv", target, frame)
        save_fitted(fitted, out / STATE, meta={"target": target, "train": str(train)})
        typer.echo(f"fitted on {train} ({len(frame)} rows) → {out / 'train.csv'}; state → {out / STATE}")
    columns = list(fitted.get_feature_names_out())
    for path, dest in zip(apply, outputs, strict=True):
        source = _read_csv(path)
        features = source.drop(columns=[target]) if target is not None and target in source.columns else source
        _write(transform_frame(fitted, features), dest, target, source)
        typer.echo(f"applied to {path} ({len(source)} rows) → {dest}")
    typer.echo(f"output columns ({len(columns)}): {', '.join(columns)}" + (f" (+ target {target})" if target else ""))
