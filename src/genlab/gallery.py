"""``genlab gallery RUNS --out FOLDER``: one static page with a card per run, grouped by family.

The runs are those `genlab list` shows (``genlab.runs``: the folders in ``RUNS`` that hold a ``config.yaml``). Each
card shows the run's latest sample (an image copied into ``FOLDER/images/``, so the page stands alone; a text
sample as a short excerpt), its headline metric (the score its model declares: ``genlab.runs``) and its other final
validation metrics, model, data, iterations, training time, and a link to its ``report.html``. An unfinished or
crashed run gets a card that says what it lacks; a damaged one, what is damaged.

Only files are read, so the gallery needs no model class. Each file is written atomically, the page last.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
from pathlib import Path
from urllib.parse import quote

from genlab.atomic import atomic_write_bytes, atomic_write_text
from genlab.errors import ConfigError, GenlabError
from genlab.rundir import RunDir
from genlab.runs import RunInfo, duration, figure, find_runs, read_run
from genlab.webpage import page, text

#: a model's family from the module that holds its class (the registry's target), in the page's order
FAMILIES: dict[str, str] = {
    "vae": "VAEs", "beta_vae": "VAEs", "cvae": "VAEs", "iwae": "VAEs", "hvae": "VAEs",
    "autoencoders": "Autoencoders and PCA", "pca": "Autoencoders and PCA", "ppca": "Autoencoders and PCA",
    "diffusion": "Diffusion models", "gan": "GANs",
    "text": "Text models", "qa": "Text models", "seq2seq": "Sequence to sequence",
    "cnn": "Classifiers", "tabular": "Tables",
}
OTHER = "Other runs"
IMAGES = (".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp")
TEXTS = (".txt", ".csv")
EXCERPT_LINES = 10
HEADLINE_ROWS = 4
COPIED = re.compile(r".+-[0-9a-f]{10}\.[a-z]+")  # the name of an image the gallery copied (_copy_image)


@dataclasses.dataclass
class Card:
    """What a run's card shows: ``info`` (``genlab.runs.read_run``), its latest sample, its report, problems."""

    info: RunInfo
    family: str
    sample: Path | None = None  # the latest sample file
    excerpt: str | None = None  # its first lines, for a text sample
    report: Path | None = None
    problems: list[str] = dataclasses.field(default_factory=list)  # what could not be read

    @property
    def metrics(self) -> list[tuple[str, float]]:
        """The headline (the model's declared score), then the other final validation metrics."""
        rows = [self.info.headline] if self.info.headline else []
        rows += [(k, v) for k, v in sorted(self.info.metrics.items()) if k.startswith("val/") and (k, v) not in rows]
        return rows[:HEADLINE_ROWS]


def family(model: str) -> str:
    """The family of a registry model name (``gan`` → ``GANs``), from its class's module; ``OTHER`` if unknown."""
    from genlab.registry import MODELS

    entry = MODELS.get(model)
    if entry is None:
        return OTHER
    module = entry.target.partition(":")[0].rsplit(".", 1)[-1]
    return FAMILIES.get(module, OTHER)


def _latest_sample(folder: Path) -> Path | None:
    """The last ``epoch_NNN.*`` sample a run drew while training, else the newest ``genlab sample`` file."""
    if not folder.is_dir():
        return None
    shown = [p for p in folder.iterdir() if p.suffix.lower() in IMAGES + TEXTS]
    epochs = sorted(p for p in shown if p.name.startswith("epoch_"))
    drawn = sorted((p for p in shown if p.name.startswith("sample-")), key=lambda p: (p.stat().st_mtime, p.name))
    return (epochs or drawn or [None])[-1]


def read_card(path: Path) -> Card:
    """A run's card; what cannot be read goes to ``problems``, never an exception."""
    info, run = read_run(path), RunDir(path)
    problems = []
    for read in (run.read_config, run.read_model_progress):  # their errors say what is damaged and what to do
        try:
            read()
        except GenlabError as e:
            problems.append(str(e))
    report = next((p for p in (run.report_html, run.report) if p.is_file()), None)
    card = Card(info, family(info.model), _latest_sample(run.samples), report=report, problems=problems)
    if card.sample is not None and card.sample.suffix.lower() in TEXTS:
        lines = card.sample.read_text(encoding="utf-8", errors="replace").splitlines()
        card.excerpt = "\n".join(lines[:EXCERPT_LINES]) + ("\n…" if len(lines) > EXCERPT_LINES else "")
    return card


# --- the page ------------------------------------------------------------------------------------------
def _href(target: Path, page_folder: Path) -> str:
    return quote(Path(os.path.relpath(Path(target).resolve(), Path(page_folder).resolve())).as_posix())


def _card_html(card: Card, image: str | None, out: Path) -> str:
    info, name = card.info, text(card.info.path.name)
    title = f'<a href="{_href(card.report, out)}">{name}</a>' if card.report else name
    badge = ('<span class="badge done">finished</span>' if info.finished
             else '<span class="badge open">unfinished</span>')
    if image:
        sample = f'<img src="{text(image)}" alt="latest samples of {name}">'
    elif card.excerpt is not None:
        sample = f"<pre>{text(card.excerpt)}</pre>"
    else:
        sample = '<div class="missing">no samples yet: the run stopped before its first validation</div>'
    if card.metrics:
        lead = info.headline is not None  # the first row is the model's declared score
        rows = "".join(f'<tr class="{"headline" if lead and i == 0 else ""}"><td>{text(k)}</td><td class="num">'
                       f"{text(figure(v))}</td></tr>" for i, (k, v) in enumerate(card.metrics))
        metrics = f"<table>{rows}</table>"
    else:
        metrics = '<div class="missing">no metrics yet</div>'
    done = [f"{info.iterations:,} iterations" if info.iterations is not None else "",
            f"trained {duration(info.seconds)}" if info.seconds is not None else ""]
    problems = "".join(f'<div class="meta">⚠ {text(p)}</div>' for p in card.problems)
    link = (f'<div class="links"><a href="{_href(card.report, out)}">report</a></div>' if card.report
            else '<div class="links missing">no report yet</div>')
    return (f'<article class="card"><h3>{title}</h3>{badge}'
            f'<div class="meta"><code>{text(info.model)}</code> on <code>{text(info.data)}</code></div>'
            f'<div class="sample">{sample}</div>{metrics}'
            f'<div class="meta">{text(" · ".join(filter(None, done)) or "not trained yet")}</div>'
            f"{problems}{link}</article>")


def _copy_image(card: Card, out: Path) -> str:
    """Copy the card's sample image into ``out/images/`` (named after the run and its bytes); its page path."""
    data = card.sample.read_bytes()
    name = f"{card.info.path.name}-{hashlib.sha1(data).hexdigest()[:10]}{card.sample.suffix.lower()}"
    atomic_write_bytes(out / "images" / name, data)
    return f"images/{quote(name)}"


def write_gallery(root: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write ``out/index.html`` (and its images) for the runs in ``root``; returns the page's path."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise ConfigError(f"no folder at {root}: pass the folder that holds your runs (e.g. runs/)")
    folders = find_runs(root)
    if not folders:
        raise ConfigError(f"no runs in {root}: a run is a folder with a config.yaml written by `genlab train`; "
                          f"train one (genlab train vae --out {root}/vae) or pass the folder that holds them")
    cards = [read_card(p) for p in folders]
    sections, used = [], set()
    for fam in dict.fromkeys([*FAMILIES.values(), OTHER]):
        members = sorted((c for c in cards if c.family == fam), key=lambda c: (c.info.model, c.info.path.name))
        if not members:
            continue
        html_cards = []
        for card in members:
            image = None
            if card.sample is not None and card.sample.suffix.lower() in IMAGES:
                image = _copy_image(card, out)
                used.add(image.removeprefix("images/"))
            html_cards.append(_card_html(card, image, out))
        sections.append(f'<section class="family"><h2>{text(fam)} <span class="count">({len(members)})</span>'
                        f'</h2><div class="cards">{"".join(html_cards)}</div></section>')
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = (f"<h1>genlab gallery</h1><p class=\"lead\">{len(cards)} run(s) in <code>{text(root)}</code>, "
            f"grouped by family; written {when}. Each card links to its run's report.</p>"
            f'<div class="families">{"".join(sections)}</div>')
    index = atomic_write_text(out / "index.html", page("genlab gallery", body))
    for stale in (out / "images").glob("*") if (out / "images").is_dir() else ():
        if COPIED.fullmatch(stale.name) and quote(stale.name) not in used and stale.is_file():
            stale.unlink()  # an image of an earlier gallery that no card shows now
    return index
