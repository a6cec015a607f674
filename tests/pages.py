"""What the HTML page tests share: the links of a page, and run folders made by hand (no training)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import yaml


def links(document: str) -> list[tuple[str, str, str]]:
    """``(tag, attribute, value)`` of every ``src`` and ``href`` in an HTML document."""
    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend((tag, k, v) for k, v in attrs if k in ("src", "href"))

    Parser().feed(document)
    return found


def png(path: Path, size: int = 12) -> Path:
    """A small real PNG (a gradient) at ``path``."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes("L", (size, size), bytes((7 * i) % 256 for i in range(size * size))).save(path)
    return path


def fake_run(path: Path, model: str, data: str, *, metrics: str | None = None, sample: str | None = ".png",
             progress: dict | None = None, summary: dict | None = None) -> Path:
    """A run folder as `genlab train` leaves it: config.yaml, and optionally metrics.csv, a sample, progress.json
    (``model/progress.json``) and summary.json (``genlab.runs``: written when a run ends)."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump({"model": model, "data": data}))
    if metrics is not None:
        (path / "metrics.csv").write_text(metrics)
    if sample == ".png":
        png(path / "samples" / "epoch_000.png")
        png(path / "samples" / "epoch_001.png", size=16)
    elif sample is not None:
        (path / "samples").mkdir()
        (path / "samples" / f"epoch_001{sample}").write_text("first <line> & more\n" + "line\n" * 30)
    if progress is not None:
        (path / "model").mkdir()
        (path / "model" / "progress.json").write_text(json.dumps(progress))
    if summary is not None:
        (path / "summary.json").write_text(json.dumps(summary))
    return path
