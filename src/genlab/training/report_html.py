"""``report.html`` of a run: the ``Report`` that ``report.md`` shows, as one standalone page.

Its images (curves, samples) are the run folder's own files, referenced relative to it; text samples are
shown in ``<pre>``; the style is inline (``genlab.webpage``); nothing is fetched from the network.
"""

from __future__ import annotations

from genlab.training.report_blocks import Block, Bullets, Code, Excerpt, FileLink, Image, Paragraph, Report, Table
from genlab.webpage import inline, page, text


def _cell(value: str) -> str:
    try:
        float(value.replace(",", ""))
    except ValueError:
        return f"<td>{inline(value)}</td>"
    return f'<td class="num">{text(value)}</td>'


def _block(block: Block) -> str:
    match block:
        case Bullets(items):
            return '<ul class="facts">' + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>"
        case Paragraph(words):
            return f"<p>{inline(words)}</p>"
        case Code(body, _):
            return f"<pre><code>{text(body)}</code></pre>"
        case Table(header, rows):
            head = "".join(f"<th>{text(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        case Image(src, alt):
            kind = "figure curves" if alt == "curves" else "figure"
            return f'<p><a href="{text(src)}"><img class="{kind}" src="{text(src)}" alt="{text(alt)}"></a></p>'
        case Excerpt(src, lines, more):
            tail = (f'<p>… {more} more lines in <a href="{text(src)}">{text(src)}</a></p>' if more
                    else f'<p><a href="{text(src)}">{text(src)}</a></p>')
            return f"<pre>{text(chr(10).join(lines))}</pre>{tail}"
        case FileLink(src):
            return f'<p><a href="{text(src)}">{text(src)}</a></p>'
    raise TypeError(f"not a report block: {block!r}")


def to_html(report: Report) -> str:
    """``report.html``'s text."""
    parts = [f"<h1>{text(report.title)}</h1>"]
    for section in report.sections:
        if section.title:
            parts.append(f"<h2>{text(section.title)}</h2>")
        parts += [_block(b) for b in section.blocks]
    return page(f"genlab: {report.title}", "\n".join(parts))
