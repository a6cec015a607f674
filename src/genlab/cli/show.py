"""Showing runs as web pages:

    genlab gallery RUNS --out FOLDER     one static page (FOLDER/index.html) with a card per run under RUNS,
                                         grouped by family: latest samples, headline metrics, link to the report

Each run writes its own ``report.html`` when it ends (``genlab.training.report``). The command registers on
``genlab.cli.main.app``; it reads files only and imports no torch (``genlab.gallery``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import app, friendly


@app.command()
@friendly
def gallery(
    runs: Annotated[Path, typer.Argument(help="folder that holds run folders (searched recursively)")],
    out: Annotated[Path, typer.Option(help="folder of the page: OUT/index.html and OUT/images/")] = Path("gallery"),
) -> None:
    """One static page with a card per run, grouped by family: latest samples, headline metrics, its report."""
    from genlab.gallery import write_gallery

    index = write_gallery(runs, out)
    typer.echo(f"wrote {index}")
