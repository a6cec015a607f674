"""What a run's report says, as data: a title and sections of blocks, which ``report.md`` (``training.report``)
and ``report.html`` (``training.report_html``) each render."""

from __future__ import annotations

import dataclasses


# --- blocks and sections (text may hold Markdown `code` spans, nothing else) -------------
@dataclasses.dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Paragraph:
    text: str


@dataclasses.dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


@dataclasses.dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclasses.dataclass(frozen=True)
class Image:
    src: str  # relative to the run folder
    alt: str


@dataclasses.dataclass(frozen=True)
class Excerpt:
    """The first lines of a text sample ``src``; ``more``: how many lines are not shown."""

    src: str
    lines: tuple[str, ...]
    more: int = 0


@dataclasses.dataclass(frozen=True)
class FileLink:
    src: str


Block = Bullets | Paragraph | Code | Table | Image | Excerpt | FileLink


@dataclasses.dataclass(frozen=True)
class Section:
    title: str  # "" for the untitled first section
    blocks: tuple[Block, ...]


@dataclasses.dataclass(frozen=True)
class Report:
    title: str
    sections: tuple[Section, ...]
