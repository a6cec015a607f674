"""``genlab inspect FILE_OR_URL`` and ``genlab fetch URL --out FILE.csv``: look at a table before training on it (P4).

``inspect`` reads a CSV or JSON file (or a JSON API) as ``--data tabular`` will, and prints each column's inferred
type, dtype, missing count and distinct values or range, then the line that trains on it. ``fetch`` gathers every
page of a JSON API into a CSV file, written atomically once all pages arrived, and prints the same summary.
Imports stay lazy (``genlab --help`` imports neither pandas nor torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import app, friendly

TYPES_HELP = "type overrides COLUMN:TYPE,... (numeric, categorical, datetime, boolean)"


def summary_lines(table, *, train_path: str | None, types: str = "", dates: str = "") -> list[str]:
    """The lines ``inspect`` prints for a ``Table``: size, missing values, one line per column, how to train."""
    import pandas as pd

    frame = table.frame
    lines = [f"{table.source}: {len(frame):,} rows, {len(frame.columns)} columns; {table.missing.summary()}"]
    width = max(len("column"), *(len(str(c)) for c in frame.columns))
    lines.append(f"  {'column':<{width}}  {'type':<11}  {'dtype':<14}  {'missing':>7}  values")
    for name in frame.columns:
        cells, kind = frame[name], table.types[name]
        present = cells.dropna()
        if kind in ("numeric", "datetime") and len(present):
            lo, hi = present.min(), present.max()
            if kind == "datetime":
                lo, hi = pd.Timestamp(lo).isoformat(), pd.Timestamp(hi).isoformat()
                lo, hi = lo.removesuffix("T00:00:00"), hi.removesuffix("T00:00:00")
            else:
                lo, hi = f"{lo:g}", f"{hi:g}"
            values = f"{present.nunique():,} distinct, {lo} … {hi}"
        else:
            counts = present.astype(str).value_counts()
            shown = ", ".join(str(v) for v in counts.index[:5]) + (", …" if len(counts) > 5 else "")
            values = f"{len(counts):,} distinct: {shown}"
        lines.append(f"  {name:<{width}}  {kind:<11}  {str(cells.dtype):<14}  {table.missing.counts[name]:>7,}  "
                     f"{values}")
    if train_path is None:
        lines.append(f"to train on it: genlab fetch {table.source} --out FILE.csv, then genlab train MODEL --data "
                     f"tabular --set data.path=FILE.csv")
    else:
        extra = "".join(f" --set data.{k}={v}" for k, v in (("types", types), ("dates", dates)) if v)
        lines.append(f"to train on it: genlab train MODEL --data tabular --set data.path={train_path}{extra}")
    return lines


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


@app.command()
@friendly
def inspect(
    source: Annotated[str, typer.Argument(help="a CSV or JSON file, or the URL of a JSON API", metavar="FILE_OR_URL")],
    types: Annotated[str, typer.Option(help=TYPES_HELP)] = "",
    dates: Annotated[str, typer.Option(help="columns parsed as dates, comma-separated")] = "",
    drop: Annotated[str, typer.Option(help="columns left out, comma-separated")] = "",
    encoding: Annotated[str, typer.Option(help="the file's text encoding")] = "utf-8",
    timeout: Annotated[float, typer.Option(help="seconds a URL may take to answer")] = 10.0,
) -> None:
    """Show a table's rows, columns, inferred types, missing values and ranges, and how to train on it."""
    from genlab.data.tabular.read import parse_names, parse_types, read_table

    options = dict(types=parse_types(types), dates=parse_names(dates), drop=parse_names(drop))
    if _is_url(source):
        from genlab.data.tabular.http import fetch_table

        table = fetch_table(source, timeout=timeout, **options)
        train_path = None
    else:
        table = read_table(source, encoding=encoding, **options)
        train_path = source
    for line in summary_lines(table, train_path=train_path, types=types, dates=dates):
        typer.echo(line)


@app.command()
@friendly
def fetch(
    url: Annotated[str, typer.Argument(help="the URL of a JSON API (a list of objects, or an object holding one)")],
    out: Annotated[Path, typer.Option(help="the CSV file written (atomically, after the last page)")],
    next_key: Annotated[str | None, typer.Option(help="the body's key holding the next page's URL (e.g. next)")]
    = None,
    page_param: Annotated[str | None, typer.Option(help="the query parameter numbering the pages (e.g. page); "
                                                        "stops at an empty page")] = None,
    records_key: Annotated[str | None, typer.Option(help="the body's key holding the records",
                                                    show_default="its only list")] = None,
    timeout: Annotated[float, typer.Option(help="seconds each request may take")] = 10.0,
    retries: Annotated[int, typer.Option(help="retries on a 5xx answer, a timeout or a lost connection")] = 3,
    max_pages: Annotated[int, typer.Option(help="pages at most (more is an error)")] = 100,
    types: Annotated[str, typer.Option(help=TYPES_HELP)] = "",
    dates: Annotated[str, typer.Option(help="columns parsed as dates, comma-separated")] = "",
) -> None:
    """Fetch every page of a JSON API into a CSV file and show what it holds."""
    from genlab.data.tabular.http import fetch_table
    from genlab.data.tabular.read import parse_names, parse_types

    table = fetch_table(url, save_to=out, next_key=next_key, page_param=page_param, records_key=records_key,
                        timeout=timeout, retries=retries, pages=max_pages, types=parse_types(types),
                        dates=parse_names(dates))
    typer.echo(f"wrote {len(table.frame):,} rows to {out}")
    for line in summary_lines(table, train_path=str(out), types=types):
        typer.echo(line)
