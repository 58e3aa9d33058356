"""index.html: one self-contained page (pictures by relative path, no scripts, no external assets)."""

from __future__ import annotations

import html
import re

from .content import Picture, ReportContent, Section
from .tables import Table

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 1.5rem 2rem 4rem; color: #1d232a; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #5a6570; margin-top: 0; }
nav { background: #f3f5f7; padding: 0.5rem 1rem; border-radius: 6px; position: sticky; top: 0; z-index: 1; }
nav a { margin-right: 1.1rem; color: #1f5fa8; text-decoration: none; font-size: 0.95rem; }
h2 { border-bottom: 2px solid #dde3e8; padding-bottom: 0.2rem; margin-top: 2.4rem; }
table { border-collapse: collapse; margin: 0.8rem 0 0.3rem; font-size: 0.86rem; }
caption { text-align: left; font-weight: 600; font-size: 1rem; padding-bottom: 0.4rem; }
th, td { border: 1px solid #d5dbe0; padding: 0.28rem 0.55rem; }
th { background: #eef2f5; text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
.note { color: #5a6570; font-size: 0.82rem; max-width: 1100px; margin: 0 0 1.2rem; }
figure { margin: 1rem 0 1.6rem; } figure img { max-width: 100%; border: 1px solid #e4e8ec; }
figcaption { color: #5a6570; font-size: 0.85rem; }
.pictures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.pictures figure { flex: 1 1 560px; } .pictures figure.wide { flex-basis: 100%; }
td.text { text-align: left; }
.wide td { white-space: normal; word-break: break-all; }
"""

LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> str:
    """Escape text; turn [label](href) into a link and `code` into code."""
    escaped = html.escape(text)
    escaped = CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)
    return LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', escaped)


def render_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    kinds = [' class="text"' if not numeric else "" for numeric in table.numeric_columns()]
    body = "\n".join("<tr>" + "".join(f"<td{kind}>{html.escape(cell)}</td>" for kind, cell in zip(kinds, row)) + "</tr>"
                     for row in table.rows)
    wide = ' class="wide"' if table.key in ("run", "model-files") else ""
    note = f'<p class="note">{inline(table.note)}</p>' if table.note else ""
    return (f'<table id="{table.key}"{wide}><caption>{html.escape(table.title)}</caption>\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>\n{note}")


def render_picture(picture: Picture) -> str:
    wide = ' class="wide"' if picture.wide else ""
    return (f'<figure{wide}><img src="{html.escape(picture.path)}" alt="{html.escape(picture.caption)}">'
            f"<figcaption>{html.escape(picture.caption)}</figcaption></figure>")


def render_section(section: Section) -> str:
    parts = [f'<section id="section-{section.key}"><h2>{html.escape(section.title)}</h2>']
    parts += [f"<p>{inline(line)}</p>" for line in section.text]
    parts += [render_table(t) for t in section.tables]
    if section.pictures:
        parts.append('<div class="pictures">' + "".join(render_picture(p) for p in section.pictures) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(content: ReportContent) -> str:
    nav = "".join(f'<a href="#section-{s.key}">{html.escape(s.label or s.title)}</a>' for s in content.sections)
    sections = "\n".join(render_section(s) for s in content.sections)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(content.title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(content.title)}</h1>
<p class="subtitle">{html.escape(content.subtitle)}</p>
<nav>{nav}</nav>
{sections}
</body></html>
"""
