"""``genlab gallery RUNS --out FOLDER``: one static page with a card per run, grouped by family.

A run is a folder holding ``config.yaml`` (``RunDir``). Each card shows the run's latest sample (an image
copied into ``FOLDER/images/``, so the page stands alone; a text sample as a short excerpt), its headline
metrics (the test score the model declares in ``eval.json`` and the validation metric it monitors first, then
the other final validation metrics of ``metrics.csv``), model, data, iterations, time, and a link to its
``report.html``. An unfinished or crashed run gets a card that says what it lacks.

Only files are read — config.yaml, metrics.csv, model/progress.json, eval.json, the facts in report.html's
``<meta>`` tags — so the gallery imports no torch. Each file is written atomically, the page last.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from genlab.atomic import atomic_write_bytes, atomic_write_text
from genlab.errors import ConfigError, GenlabError
from genlab.rundir import RunDir
from genlab.webpage import page, read_meta, text

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
    """What a run's card shows (``None``: the run has none of it)."""

    run: Path
    model: str
    data: str
    family: str
    sample: Path | None = None  # the latest sample file
    excerpt: str | None = None  # its first lines, for a text sample
    metrics: list[tuple[str, float]] = dataclasses.field(default_factory=list)  # headline first
    iterations: int | None = None
    seconds: float | None = None
    finished: bool | None = None
    report: Path | None = None
    problems: list[str] = dataclasses.field(default_factory=list)  # what could not be read


def family(model: str) -> str:
    """The family of a registry model name (``gan`` → ``GANs``), from its class's module; ``OTHER`` if unknown."""
    from genlab.registry import MODELS

    entry = MODELS.get(model)
    if entry is None:
        return OTHER
    module = entry.target.partition(":")[0].rsplit(".", 1)[-1]
    return FAMILIES.get(module, OTHER)


def find_runs(root: Path) -> list[Path]:
    """The run folders at or under ``root``, sorted; a ``ConfigError`` when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"no folder at {root}: pass the folder that holds your runs (e.g. runs/)")
    found = sorted(p.parent for p in root.rglob("config.yaml")
                   if not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not found:
        raise ConfigError(f"no runs in {root}: a run is a folder with a config.yaml written by `genlab train`; "
                          f"train one (genlab train vae --out {root}/vae) or pass the folder that holds them")
    return found


def _final_metrics(path: Path) -> tuple[dict[str, float], int | None]:
    """The last value of each ``val/*`` column of a metrics.csv (each ``train/*`` one when it has none), and the
    last step."""
    last: dict[str, float] = {}
    step = None
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k and v not in ("", None):
                    try:
                        last[k] = float(v)
                    except ValueError:
                        continue
            step = int(last["step"]) if "step" in last else step
    val = {k: v for k, v in last.items() if k.startswith("val/")}
    return val or {k: v for k, v in last.items() if k.startswith("train/")}, step


def _latest_sample(folder: Path) -> Path | None:
    """The last ``epoch_NNN.*`` sample a run drew while training, else the newest ``genlab sample`` file."""
    if not folder.is_dir():
        return None
    shown = [p for p in folder.iterdir() if p.suffix.lower() in IMAGES + TEXTS]
    epochs = sorted(p for p in shown if p.name.startswith("epoch_"))
    drawn = sorted((p for p in shown if p.name.startswith("sample-")), key=lambda p: (p.stat().st_mtime, p.name))
    return (epochs or drawn or [None])[-1]


def read_card(run_path: Path) -> Card:
    """A run's card; what cannot be read goes to ``problems``, never an exception."""
    run = RunDir(run_path)
    problems: list[str] = []
    try:
        config = run.read_config()
    except GenlabError as e:
        config, problems = {}, [str(e)]
    model, data = str(config.get("model", "?")), str(config.get("data", "?"))
    card = Card(run_path, model, data, family(model), problems=problems)
    facts = {}
    if run.report_html.is_file():
        card.report = run.report_html
        facts = {k.removeprefix("genlab:"): v
                 for k, v in read_meta(run.report_html.read_text(encoding="utf-8", errors="replace")).items()}
    elif run.report.is_file():
        card.report = run.report
    try:
        progress = run.read_model_progress()
    except GenlabError as e:
        progress, card.problems = None, [*card.problems, str(e)]
    card.finished = bool(progress["finished"]) if progress else (True if card.report else None)
    metrics, step = {}, None
    if run.metrics_csv.is_file():
        try:
            metrics, step = _final_metrics(run.metrics_csv)
        except (OSError, csv.Error, UnicodeDecodeError, ValueError) as e:
            card.problems.append(f"metrics.csv unreadable: {e}")
    card.iterations = next((int(v) for v in (facts.get("iterations"), progress and progress["iteration"])
                            if v not in (None, "")), None if step is None else step + 1)
    card.seconds = float(facts["seconds"]) if facts.get("seconds") else None
    card.metrics = _headline(run, metrics, facts, card.problems)
    card.sample = _latest_sample(run.samples)
    if card.sample is not None and card.sample.suffix.lower() in TEXTS:
        lines = card.sample.read_text(encoding="utf-8", errors="replace").splitlines()
        card.excerpt = "\n".join(lines[:EXCERPT_LINES]) + ("\n…" if len(lines) > EXCERPT_LINES else "")
    return card


def _headline(run: RunDir, metrics: dict[str, float], facts: dict[str, str],
              problems: list[str]) -> list[tuple[str, float]]:
    """The test score the model declares (``eval.json``), the validation metric it monitors, then the others."""
    rows: list[tuple[str, float]] = []
    if run.eval_json.is_file():
        try:
            evaluation = json.loads(run.eval_json.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            problems.append("eval.json is not valid JSON")
            evaluation = {}
        for name in filter(None, facts.get("score", "").split(",")):
            if isinstance(evaluation.get(name), (int, float)):
                rows.append((f"test {name}", float(evaluation[name])))
    monitor = facts.get("monitor") or "val/loss"
    order = sorted(metrics, key=lambda k: (k != monitor, k))
    rows += [(k, metrics[k]) for k in order]
    return rows[:HEADLINE_ROWS]


# --- the page ------------------------------------------------------------------------------------------
def _href(target: Path, page_folder: Path) -> str:
    return quote(Path(os.path.relpath(Path(target).resolve(), Path(page_folder).resolve())).as_posix())


def _number(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _card_html(card: Card, image: str | None, out: Path) -> str:
    name = text(card.run.name)
    title = f'<a href="{_href(card.report, out)}">{name}</a>' if card.report else name
    badge = ('<span class="badge done">finished</span>' if card.finished
             else '<span class="badge open">unfinished</span>' if card.finished is False else "")
    if image:
        sample = f'<img src="{text(image)}" alt="latest samples of {name}">'
    elif card.excerpt is not None:
        sample = f"<pre>{text(card.excerpt)}</pre>"
    else:
        sample = '<div class="missing">no samples yet: the run stopped before its first validation</div>'
    if card.metrics:
        rows = "".join(f'<tr class="{"headline" if i == 0 else ""}"><td>{text(k)}</td><td class="num">'
                       f"{text(_number(v))}</td></tr>" for i, (k, v) in enumerate(card.metrics))
        metrics = f"<table>{rows}</table>"
    else:
        metrics = '<div class="missing">no metrics yet</div>'
    done = [f"{card.iterations:,} iterations" if card.iterations is not None else "",
            _duration(card.seconds) if card.seconds is not None else ""]
    problems = "".join(f'<div class="meta">⚠ {text(p)}</div>' for p in card.problems)
    link = (f'<div class="links"><a href="{_href(card.report, out)}">report</a></div>' if card.report
            else '<div class="links missing">no report yet</div>')
    return (f'<article class="card"><h3>{title}</h3>'
            f'<div class="meta"><code>{text(card.model)}</code> on <code>{text(card.data)}</code> {badge}</div>'
            f'<div class="sample">{sample}</div>{metrics}'
            f'<div class="meta">{text(" · ".join(filter(None, done)) or "not trained yet")}</div>'
            f"{problems}{link}</article>")


def _copy_image(card: Card, out: Path) -> str:
    """Copy the card's sample image into ``out/images/`` (named after the run and its bytes); its page path."""
    data = card.sample.read_bytes()
    name = f"{card.run.name}-{hashlib.sha1(data).hexdigest()[:10]}{card.sample.suffix.lower()}"
    atomic_write_bytes(out / "images" / name, data)
    return f"images/{quote(name)}"


def write_gallery(root: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write ``out/index.html`` (and its images) for the runs under ``root``; returns the page's path."""
    root, out = Path(root), Path(out)
    cards = [read_card(p) for p in find_runs(root)]
    order = list(dict.fromkeys([*FAMILIES.values(), OTHER]))
    sections, used = [], set()
    for fam in order:
        members = sorted((c for c in cards if c.family == fam), key=lambda c: (c.model, c.run.name))
        if not members:
            continue
        html_cards = []
        for card in members:
            image = None
            if card.sample is not None and card.sample.suffix.lower() in IMAGES:
                image = _copy_image(card, out)
                used.add(image.removeprefix("images/"))
            html_cards.append(_card_html(card, image, out))
        sections.append(f'<section class="family"><h2>{text(fam)} <span class="meta">({len(members)})</span>'
                        f'</h2><div class="cards">{"".join(html_cards)}</div></section>')
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = (f"<h1>genlab gallery</h1><p class=\"lead\">{len(cards)} run(s) under <code>{text(root)}</code>, "
            f"grouped by family; written {when}. Each card links to its run's report.</p>" + "\n".join(sections))
    index = atomic_write_text(out / "index.html", page("genlab gallery", body))
    for stale in (out / "images").glob("*") if (out / "images").is_dir() else ():
        if COPIED.fullmatch(stale.name) and quote(stale.name) not in used and stale.is_file():
            stale.unlink()  # an image of an earlier gallery that no card shows now
    return index
