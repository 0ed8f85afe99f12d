"""A tiny document model for the report, rendered both as HTML and as Markdown.

Stages describe what they found as :class:`Section` objects — paragraphs of findings, figures,
tables and configurations — and the renderers below turn the same sections into a self-contained
``index.html`` (inline CSS, figures as relative paths beside it) and a ``report.md``.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from digitlab.i18n import domain, significant

_ = domain("report").gettext


@dataclass
class Figure:
    path: str  # relative to the report folder
    caption: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Section:
    """One part of the report: a title, finding sentences, figures, tables, configs."""

    anchor: str
    title: str
    intro: str = ""
    findings: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = "done"  # "done", "skipped" or "failed"
    note: str = ""  # why a stage was skipped or failed


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return significant(value, 4)
    return str(value)


def _status(section: Section) -> str:
    """Why a stage shows no results, in a sentence of the active language."""
    if section.status == "skipped":
        return _("This stage was skipped: {why}").format(why=section.note)
    return _("This stage failed: {why}").format(why=section.note)


def render_html(title: str, subtitle: str, sections: list[Section], css: str,
                lang: str = "en") -> str:
    """A complete HTML page in language ``lang``: navigation, then each section in order."""
    esc = html.escape
    nav = "".join(f'<li><a href="#{esc(s.anchor)}">{esc(s.title)}</a></li>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{esc(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{css}</style></head><body>",
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>",
        f'<nav><ol>{nav}</ol></nav><main>',
    ]
    for section in sections:
        parts.append(f'<section id="{esc(section.anchor)}"><h2>{esc(section.title)}</h2>')
        if section.intro:
            parts.append(f'<p class="intro">{esc(section.intro)}</p>')
        if section.status != "done":
            parts.append(f'<p class="note">{esc(_status(section))}</p>')
        if section.findings:
            items = "".join(f"<li>{esc(f)}</li>" for f in section.findings)
            parts.append(f'<ul class="findings">{items}</ul>')
        for table in section.tables:
            head = "".join(f"<th>{esc(str(h))}</th>" for h in table.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(_cell(c))}</td>" for c in row) + "</tr>"
                for row in table.rows
            )
            caption = f"<caption>{esc(table.caption)}</caption>" if table.caption else ""
            parts.append(f"<table>{caption}<thead><tr>{head}</tr></thead>"
                         f"<tbody>{body}</tbody></table>")
        for figure in section.figures:
            parts.append(
                f'<figure><img src="{esc(figure.path)}" alt="{esc(figure.caption)}" '
                f'loading="lazy"><figcaption>{esc(figure.caption)}</figcaption></figure>'
            )
        for name, config in section.configs.items():
            summary = _("Configuration: {name}").format(name=name)
            parts.append(f"<details><summary>{esc(summary)}</summary>"
                         f"<pre>{esc(json.dumps(config, indent=2))}</pre></details>")
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def render_markdown(title: str, subtitle: str, sections: list[Section]) -> str:
    """The same report as Markdown (figures as relative image links).

    Every text is escaped (:func:`markdown_text`): a dataset folder named ``<script>`` or
    ``*x*`` appears as written, never as HTML or formatting.
    """
    md = markdown_text
    lines = [f"# {md(title)}", "", md(subtitle), ""]
    for section in sections:
        lines += [f"## {md(section.title)}", ""]
        if section.intro:
            lines += [md(section.intro), ""]
        if section.status != "done":
            lines += [f"*{md(_status(section))}*", ""]
        lines += [f"- {md(finding)}" for finding in section.findings]
        if section.findings:
            lines.append("")
        for table in section.tables:
            if table.caption:
                lines += [f"*{md(table.caption)}*", ""]
            lines.append("| " + " | ".join(md(str(h)) for h in table.header) + " |")
            lines.append("|" + "---|" * len(table.header))
            lines += ["| " + " | ".join(md(_cell(c)) for c in row) + " |" for row in table.rows]
            lines.append("")
        for figure in section.figures:
            lines += [f"![{md(figure.caption)}]({urllib.parse.quote(figure.path)})", "",
                      f"*{md(figure.caption)}*", ""]
        for name, config in section.configs.items():
            text = json.dumps(config, indent=2)
            fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", text)), default=0))
            summary = _("Configuration: {name}").format(name=name)
            lines += [f"<details><summary>{html.escape(summary)}</summary>", "",
                      f"{fence}json", text, fence, "</details>", ""]
    return "\n".join(lines)


def markdown_text(text: str) -> str:
    """``text`` shown literally in Markdown: HTML characters as entities, Markdown's own
    punctuation backslash-escaped, line breaks as spaces."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\g<0>", html.escape(" ".join(str(text).split()),
                                                           quote=False))
    start = _MARKDOWN_LINE_START.match(escaped)
    if start:  # "# x", "- x", "12. x" would start a heading or a list item
        return escaped[: start.end() - 1] + "\\" + escaped[start.end() - 1 :]
    return escaped


_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]|~]")  # emphasis, code, links, tables
_MARKDOWN_LINE_START = re.compile(r"[#+\-=]|[0-9]+[.)]")  # headings and lists at a line start
