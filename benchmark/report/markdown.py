"""summary.md: the same content as index.html, as GitHub-flavoured Markdown."""

from __future__ import annotations

from .content import ReportContent, Section
from .tables import Table


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(table: Table) -> str:
    lines = [f"**{table.title}**", "", "| " + " | ".join(cell(c) or " " for c in table.columns) + " |",
             "|" + "|".join("---:" if numeric else ":---" for numeric in table.numeric_columns()) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"<sub>{table.note}</sub>"]
    return "\n".join(lines)


def render_section(section: Section) -> str:
    parts = [f"## {section.title}", *section.text]
    parts += [render_table(t) for t in section.tables]
    parts += [f"![{p.caption}]({p.path})" for p in section.pictures]
    return "\n\n".join(parts)


def render_markdown(content: ReportContent) -> str:
    return "\n\n".join([f"# {content.title}", f"_{content.subtitle}_",
                        *(render_section(s) for s in content.sections)]) + "\n"
