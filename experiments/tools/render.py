"""Rendering a report's document: the blocks it is written in, as self-contained HTML
(inline style, figures as ``data:`` URIs, every text escaped) and as Markdown (figures
linked by relative path). :mod:`experiments.tools.report` writes the document.

>>> print(html_table(Table("demo", ["a<b"], [["1 & 2"]], "x > y")))
<table class="demo">
<caption>x &gt; y</caption>
<thead><tr><th>a&lt;b</th></tr></thead>
<tbody><tr><td>1 &amp; 2</td></tr></tbody>
</table>
"""

from __future__ import annotations

import base64
import html
import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HTML_MARKER",
    "MARKDOWN_MARKER",
    "Block",
    "Code",
    "Figure",
    "Heading",
    "Table",
    "Text",
    "html_table",
    "render_html",
    "render_markdown",
]

HTML_MARKER = '<meta name="generator" content="infolab report">'
MARKDOWN_MARKER = "<!-- generator: infolab report -->"


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Table:
    kind: str  # its CSS class
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class Code:
    text: str
    title: str | None = None  # shown folded, under this title, in HTML


@dataclass(frozen=True)
class Figure:
    name: str
    path: Path
    mime: str
    others: list[str]  # the same figure in formats a page cannot show (PDF)


Block = Heading | Text | Table | Code | Figure


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1a1a1a; background: #fff; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.5rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.6rem 0 1rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.2rem 0.45rem; text-align: left;
  vertical-align: top; }
th { background: #f1f1f1; }
caption { text-align: left; font-weight: 600; padding: 0.2rem 0; }
td { font-variant-numeric: tabular-nums; overflow-wrap: break-word; }
tbody tr:nth-child(even) td { background: #fafafa; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 0.6rem; font-size: 0.8rem;
  white-space: pre-wrap; overflow-wrap: break-word; }
details summary { cursor: pointer; margin: 0.4rem 0; }
figure { margin: 1rem 0 1.6rem; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #333; margin-top: 0.25rem; }
.note { color: #555; font-size: 0.85rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .scroll { overflow: visible; }
  table { font-size: 7.5pt; }
  h2, h3 { break-after: avoid; }
  tr, pre { break-inside: avoid; }
}
"""


def render_html(title: str, blocks: Sequence[Block]) -> str:
    """The report as one HTML page, every text escaped and every figure embedded."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            body.append(f'<div class="scroll">{html_table(block)}</div>')
        elif isinstance(block, Code):
            code = f"<pre>{html.escape(block.text)}</pre>"
            if block.title is not None:
                code = f"<details><summary>{html.escape(block.title)}</summary>{code}</details>"
            body.append(code)
        else:
            body.append(_html_figure(block))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"{HTML_MARKER}\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def html_table(table: Table) -> str:
    kind, header, rows = table.kind, table.header, table.rows
    caption = f"<caption>{html.escape(table.caption)}</caption>\n" if table.caption else ""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f'<table class="{html.escape(kind)}">\n{caption}'
        f"<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>"
    )


def _html_figure(figure: Figure) -> str:
    name = html.escape(figure.name)
    also = f' <span class="note">(also: {html.escape(", ".join(figure.others))})</span>'
    also = also if figure.others else ""
    if not figure.mime:
        return f'<p class="note">{name}: no image a page can show{also}</p>'
    data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:{figure.mime};base64,{data}" alt="{name}">'
        f"<figcaption>{name}{also}</figcaption></figure>"
    )


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|#])")


def _md(text: str) -> str:
    """Text that Markdown shows as it is (no emphasis, links, HTML or table breaks)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def render_markdown(title: str, blocks: Sequence[Block], folder: Path) -> str:
    """The report as Markdown; figures are linked relative to ``folder`` (the file's)."""
    lines = [MARKDOWN_MARKER, "", f"# {_md(title)}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            lines += [f"{'#' * block.level} {_md(block.text)}", ""]
        elif isinstance(block, Text):
            lines += [_md(block.text), ""]
        elif isinstance(block, Table):
            lines += [f"*{_md(block.caption)}*", ""] if block.caption else []
            lines.append("| " + " | ".join(_md(cell) or " " for cell in block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Code):
            if block.title is not None:
                lines += [_md(block.title), ""]
            longest = max((len(run) for run in re.findall("`+", block.text)), default=0)
            fence = "`" * max(3, longest + 1)
            lines += [f"{fence}yaml", block.text.rstrip("\n"), fence, ""]
        else:
            lines += [*_md_figure(block, folder), ""]
    return "\n".join(lines)


def _md_figure(figure: Figure, folder: Path) -> list[str]:
    def link(path: Path) -> str:
        relative = os.path.relpath(path.resolve(), folder.resolve())
        return urllib.parse.quote(Path(relative).as_posix())

    others = [f"[{_md(name)}]({link(figure.path.with_name(name))})" for name in figure.others]
    also = f" (also: {', '.join(others)})" if others else ""
    if not figure.mime:
        return [f"{_md(figure.name)}: no image a page can show{also}"]
    return [f"![{_md(figure.name)}]({link(figure.path)})", "", f"*{_md(figure.name)}*{also}"]
