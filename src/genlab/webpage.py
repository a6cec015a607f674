"""The HTML pages genlab writes (a run's ``report.html``, ``genlab gallery``): one page shell and one style sheet.

Pages stand alone: the CSS is inline, there is no script, no web font, nothing fetched from the network;
images are files beside the page, referenced by relative paths. Every text goes through ``text`` (escaped);
``inline`` also turns Markdown's ```code``` spans into ``<code>``. Light: no torch.
"""

from __future__ import annotations

import html
import re

STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
       font: 15px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 6px; }
p.lead { color: var(--muted); margin: 0 0 16px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
ul.facts { padding-left: 20px; margin: 8px 0; }
code, pre { font: 13px/1.45 ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; }
code { background: var(--soft); padding: 1px 4px; border-radius: 4px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
      overflow-x: auto; white-space: pre; margin: 8px 0; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 12px; text-align: left; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
img.figure { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px;
             image-rendering: pixelated; background: #fff; }
img.curves { image-rendering: auto; }
h2 .count { color: var(--muted); font-weight: normal; font-size: 15px; }
.families { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0 32px; }
section.family { flex: 0 1 auto; max-width: 100%; }
.cards { display: flex; flex-wrap: wrap; gap: 16px; }
.card { width: 276px; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fff;
        display: flex; flex-direction: column; gap: 8px; box-shadow: 0 1px 3px rgba(0, 0, 0, .06); }
.card { position: relative; }
.card h3 { overflow-wrap: anywhere; padding-right: 84px; }
.card > .badge { position: absolute; top: 14px; right: 14px; }
.card .sample { display: flex; align-items: center; justify-content: center; background: var(--soft);
                border-radius: 6px; height: 248px; overflow: hidden; }
.card .sample img { width: 100%; height: 100%; object-fit: contain; display: block; }
.card .sample pre { margin: 0; border: 0; width: 100%; height: 100%; overflow: hidden; font-size: 11px;
                    white-space: pre-wrap; word-break: break-word; }
.card .missing { color: var(--muted); font-style: italic; padding: 12px; text-align: center; }
.card .meta { color: var(--muted); font-size: 13px; }
.card table { width: 100%; margin: 0; font-size: 13px; }
.card td, .card th { padding: 2px 8px; }
.card tr.headline td { font-weight: 600; }
.badge { display: inline-block; font-size: 12px; padding: 0 7px; border-radius: 10px; border: 1px solid; }
.badge.done { color: #1a7f37; border-color: #1a7f37; }
.badge.open { color: #9a6700; border-color: #9a6700; }
.card .links { margin-top: auto; font-size: 14px; }
"""


def text(s: object) -> str:
    """``s`` escaped for HTML text and attribute values."""
    return html.escape(str(s), quote=True)


def inline(s: str) -> str:
    """``s`` escaped, its ```code``` spans (Markdown's) as ``<code>``."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", text(s))


def page(title: str, body: str) -> str:
    """A whole HTML document: ``title`` (escaped), ``body`` (HTML already)."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
            f"</body>\n</html>\n")
